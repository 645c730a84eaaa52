"""The dialog manager: state that lasts across turns, stored on the conversation.

State keys (all JSON): ``turns`` (customer turns so far, this one included), ``fallbacks``
(consecutive turns handled as the fallback intent), ``pending`` (the request waiting for a
detail: ``{"intent", "detail", "question"}``), ``details`` (details given so far, by name),
``last_intent``, ``missed`` (``{"intent"}``: the last turn's lookup found nothing for the
details given, so a message of one detail alone tries again with it; set by the pipeline),
``looked_up`` (``{"intent"}``: the last turn answered from a lookup, found or not, so a
message of one detail alone, "and what about 10019?", is a new lookup with it and the other
details remembered; set by the pipeline), and ``lookup_misses`` (lookups of this conversation
that found nothing for the details given; set by the pipeline, which makes no more lookups at
``chat.bot.lookup.MAX_LOOKUP_MISSES``).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from .entities import EMAIL_RE, SPOKEN_EMAIL_RE

# The quick reply offered under a question for a missing detail, and the short answers that
# mean the same ("I don't have it", "don't know my order number", "I lost it"): the request is
# then answered without the detail instead of the question coming again.
NO_DETAIL_REPLY = "I don't have it"
_NO_DETAIL = re.compile(
    r"^(?:i\s+)?(?:(?:do\s*n[o']?t|dont|do\s+not)\s+(?:have|know|remember)"
    r"|(?:have\s+)?lost|can\s*n?[o']?t\s+find|cannot\s+find)"
    r"(?:\s+(?:it|that|one|this|them|any|the\s+\w+(?:\s+\w+)?|my\s+\w+(?:\s+\w+)?))?"
    r"(?:\s+(?:here|now|right\s+now|sorry|with\s+me))?$"
)


def says_no_detail(text: str) -> bool:
    """Whether a short message says the customer has not got the detail asked for.

    Only a message of that alone (at most eight words; "I don't have it here, call me on
    555..." is something else): punctuation and case are ignored, a curly apostrophe too.
    """
    words = re.sub(r"[^\w' ]+", " ", text.lower().replace("\u2019", "'")).split()
    return 0 < len(words) <= 8 and bool(_NO_DETAIL.match(" ".join(words)))


# The order numbers after the first that one message gave, kept in the details under
# MORE_ORDERS joined by ", " (the state's details are texts of at most MAX_STATE_TEXT
# characters); at most MAX_ORDERS are looked up in one turn.
MAX_ORDERS = 5
MORE_ORDERS = "more_order_numbers"


def order_numbers(details: dict[str, Any]) -> list[str]:
    """The order numbers the customer asked about together: the dialog's ``order_number``,
    then the others its message gave (``MORE_ORDERS``); [] without an order number."""
    first = details.get("order_number")
    if not first:
        return []
    more = [n for n in str(details.get(MORE_ORDERS) or "").split(", ") if n and n != str(first)]
    return [str(first), *more]


# A question about what something means, asked in general ("what do the order statuses
# mean?", "what's the difference between a refund and store credit?", "can you explain the
# delivery stages?"): the intent's articles answer it, with no detail asked for and no
# lookup of the customer's own records. "What do you mean?" asks about the bot's last words.
_IN_GENERAL = re.compile(
    r"\bwhat(?:\s+(?:does|do|did|is|are|was|were)|'s|s)\s+(?!you\b)[^?.!]*\bmean(?:s|t|ing)?\b"
    r"|\bwhat\s+(?!you\b)[^?.!]{1,40}?\s+means\b"
    r"|\bmeanings?\s+of\b|\bmeanings\b|\bwhat\s+is\s+meant\b|\bdefinition\s+of\b|\bdefine\b"
    r"|\bwhat(?:\s+(?:is|are)|'s|s)\s+(?:a\s+|an\s+|the\s+)?[\"'\u201c\u2018][^\"'\u201d\u2019]{2,40}[\"'\u201d\u2019]"
    r"|\bdifference\s+between\b|\b(?:explain|describe)\s+(?:the|your|what|how|all)\b"
    r"|\bwhat\s+(?:are|is)\s+(?:the|your|all\s+the)\s+(?:different\s+|possible\s+|various\s+)?"
    r"(?:[\w-]+\s+)?(?:statuses|stages|states|steps)\b"
)


# The customer tells of a problem of their own ("I never got it", "my order has said Awaiting
# stock for two weeks", "nothing came"): their order is meant, not the word.
_OWN_PROBLEM = re.compile(
    r"\b(?:i|i've|i'm|we|we've|me|my|our)\b[^.?!]*\b(?:never|nothing|still|missing|wrong|late"
    r"|lost|stuck|hasn't|haven't|hasnt|havent|didn't|didnt|weeks?|days?|since|arrived|came"
    r"|received|got)\b"
    r"|\b(?:never|nothing|still|missing|stuck)\b[^.?!]*\b(?:i|me|my|we|our|us)\b"
)
# Words that may stand around the terms of a short question about them ("Awaiting stock?",
# "received vs packing", "is Received the same as Packing?", "shipped means what exactly").
_TERM_FILLER = frozenset("""
a an and are as be between difference different does do exactly is it mean meaning meanings
means of or same say says status stage state step the these this those vs versus what what's
whats which
""".split())
_TERM_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+")


def asks_in_general(
    text: str, entities: dict[str, Any], *, defined: Collection[str] = ()
) -> bool:
    """Whether ``text`` asks what something means or how things are in general rather than
    about the customer's own records: a definition, a difference, an explanation or the list
    of statuses, with no order number or e-mail address given (``entities``, from
    ``entities.extract``) and no problem of the customer's own told ("what does Delivered
    mean? I never got it"). ``defined`` holds the terms the articles define that the message
    names (``ArticleIndex.defined_in``): a short question of those terms alone ("Awaiting
    stock?", "received vs packing") asks what they mean too. Such a question is answered
    from the articles; "what does 'processing' mean for order 10023?" is looked up."""
    if entities.get("order_number") or entities.get("order_numbers") or entities.get("email"):
        return False
    said = text.lower().replace("\u2019", "'")
    if _OWN_PROBLEM.search(said):
        return False
    if _IN_GENERAL.search(said):
        return True
    if not defined:
        return False
    rest = " ".join(_TERM_WORD.findall(said))
    for term in sorted(defined, key=len, reverse=True):
        rest = re.sub(r"(?<!\w)" + r"\s+".join(map(re.escape, term.split())) + r"(?!\w)",
                      " ", rest)
    return all(word in _TERM_FILLER for word in rest.split())


# The words that may come with a detail given alone ("sorry, it's sam@example.com", "try order
# 10031 instead", "what about 10025?"): none of them asks anything else.
_DETAIL_FILLER = frozenset("""
a about actually address again ah also and another be correct could e email hmm how i i'm
id instead is it it's its just let maybe me mean meant mail my no nr num number oh ok okay
one oops or order perhaps please pls purchase right should so sorry that the then this
thanks thank to try typo use used was what whoops with wrong yes you wait hold hang on
nope uh um er hm well mixed up
""".split())
_DETAIL_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+")


def only_details(text: str, entities: dict[str, Any], *, spare: int = 0) -> bool:
    """Whether ``text`` gives an order number or an e-mail address and nothing else of
    substance ("sam@example.com", "sorry, it's 10031", "what about order 10025?").

    ``entities`` are the message's (``entities.extract``): their order numbers and e-mail
    addresses are set aside, and what is left may only be the few words that come with a
    detail given alone (no other number, no request), and ``spare`` other words at most (for
    a message the classifier did not understand).
    """
    values = [*entities.get("order_numbers", ()), *entities.get("emails", ())]
    if not values:
        return False
    rest = EMAIL_RE.sub(" ", text.lower().replace("\u2019", "'"))
    rest = SPOKEN_EMAIL_RE.sub(" ", rest) if not EMAIL_RE.search(text) else rest
    for value in values:
        rest = rest.replace(str(value).lower(), " ")
    words = _DETAIL_WORD.findall(rest.replace("e-mail", "email"))
    others = [word for word in words if word not in _DETAIL_FILLER]
    return len(others) <= spare and not any(word.isdigit() for word in others)


@dataclass
class DialogOutcome:
    intent: str
    is_fallback: bool
    action: str  # "answer", "ask" or "smalltalk"
    question: str = ""
    resumed: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    smalltalk: str = ""  # the kind of pleasantry ("greeting", ...) when action is "smalltalk"

    def to_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent, "is_fallback": self.is_fallback, "action": self.action,
            "question": self.question, "resumed": self.resumed, "details": self.details,
            "smalltalk": self.smalltalk,
        }


MAX_STATE_COUNT = 10_000
MAX_STATE_TEXT = 500


def check_state(state: Any) -> dict[str, Any]:
    """``state`` if it has the shape :func:`advance` reads; ``ValueError`` saying what is wrong.

    For a state that comes from outside (the playground's form): ``turns`` and ``fallbacks``
    are whole numbers from 0 to 10,000, ``pending`` is null or an object of strings ``intent``,
    ``detail`` and ``question``, ``details`` an object of strings or numbers, ``last_intent``
    and ``awaiting`` strings (500 characters at most), ``missed`` null or an object of a string
    ``intent``, ``lookup_misses`` a whole number like ``turns``. Other keys are left alone.
    """
    if not isinstance(state, dict):
        raise ValueError("The dialog state must be a JSON object.")

    def short_text(value: Any, where: str) -> None:
        if not isinstance(value, str) or len(value) > MAX_STATE_TEXT:
            raise ValueError(f'"{where}" must be a text of at most {MAX_STATE_TEXT} characters.')

    for key in ("turns", "fallbacks", "lookup_misses"):
        value = state.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not (
            0 <= value <= MAX_STATE_COUNT
        ):
            raise ValueError(f'"{key}" must be a whole number from 0 to {MAX_STATE_COUNT:,}.')
    pending = state.get("pending")
    if pending is not None:
        if not isinstance(pending, dict):
            raise ValueError('"pending" must be null or an object.')
        for key in ("intent", "detail", "question"):
            short_text(pending.get(key, ""), f"pending.{key}")
    details = state.get("details", {})
    if not isinstance(details, dict):
        raise ValueError('"details" must be an object.')
    for name, value in details.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f'"details.{name}" must be a text or a number.')
        if isinstance(value, str):
            short_text(value, f"details.{name}")
    for key in ("last_intent", "awaiting"):
        if state.get(key) is not None:
            short_text(state[key], key)
    for key in ("missed", "looked_up"):
        value = state.get(key)
        if value is not None:
            if not isinstance(value, dict):
                raise ValueError(f'"{key}" must be null or an object.')
            short_text(value.get("intent", ""), f"{key}.intent")
    return state


def awaited_detail(state: dict[str, Any] | None) -> str:
    """The name of the detail the bot asked for and still awaits ("order_number"), or ""."""
    pending = (state or {}).get("pending") or {}
    return str(pending.get("detail") or "") if isinstance(pending, dict) else ""


def _detail_value(name: str, entities: dict[str, Any]) -> Any:
    value = entities.get(name)
    if value:
        return value
    if name in {"amount", "money"} and entities.get("money"):
        return entities["money"][0]["text"]
    if name == "date" and entities.get("dates"):
        return entities["dates"][0]["date"]
    if name == "product" and entities.get("products"):
        return entities["products"][0]
    return None


def _is_phone(value: str, entities: dict[str, Any]) -> bool:
    """Whether ``value`` is one of the message's phone numbers (never a remembered detail)."""
    digits = "".join(ch for ch in value if ch.isdigit())
    return bool(digits) and any(
        digits == "".join(ch for ch in phone if ch.isdigit())
        for phone in entities.get("phones", ())
    )


def _contact_only(entities: dict[str, Any]) -> bool:
    """Whether the message gives a phone number, an e-mail address or a postal code of the
    customer's and nothing else of use."""
    return bool(
        entities.get("phones") or entities.get("email") or entities.get("postal_codes")
    ) and not (entities.get("order_number") or entities.get("products"))


def advance(
    state: dict[str, Any] | None,
    *,
    intent: str,
    is_fallback: bool,
    entities: dict[str, Any],
    required_details: dict[str, list[dict[str, str]]],
    no_detail: bool = False,
    known: dict[str, str] | None = None,
    detail_only: bool = False,
    forget: Collection[str] = (),
    in_general: bool = False,
) -> DialogOutcome:
    """The next dialog state after a classified customer message.

    ``known`` holds the details the desk already knows (a verified customer's e-mail address,
    name and id, ``TurnContext.known_details``): a required detail among them is used and
    never asked for; one the customer gives in the conversation takes precedence.

    ``required_details`` maps an intent to the details it needs before it is answered.
    A pending request is completed by a message that carries the missing detail, even when
    that message alone classifies poorly ("it's 55102"). With ``no_detail`` (the customer
    says they have not got it, ``says_no_detail``) the pending request is answered this turn
    without that detail.

    ``detail_only``: the message is a detail alone (``only_details``). It continues the
    request the bot is waiting on even when it is another of the request's details than the
    one asked for (a new order number while the e-mail address is awaited replaces the old
    one), and the request looked up last turn (``missed``: it found nothing; ``looked_up``:
    it answered, found or not): the detail given replaces the one remembered, the others are
    reused ("what about 10019?" looks up that order with the e-mail address given before).
    ``forget`` names remembered details the message sets aside (the customer asks for all
    their orders: no earlier order number). ``in_general``: the message asks about the topic
    in general (``asks_in_general``): it is answered (``action`` "answer") and no detail is
    asked for it; a request that waited for one still waits, its question in ``question``
    (asked again after the answer).
    """
    previous = dict(state or {})
    details = dict(previous.get("details") or {})
    for name in forget:
        details.pop(name, None)
    pending = previous.get("pending") or None
    # The lookup last turn that found nothing, or else the one that answered (found or not).
    missed = previous.get("missed") or previous.get("looked_up") or None
    resumed = False
    skipped = ""
    kept = None

    if pending:
        value = _detail_value(pending.get("detail", ""), entities)
        if value and not _is_phone(str(value), entities):
            intent, is_fallback, resumed = pending["intent"], False, True
        elif no_detail:
            intent, is_fallback, resumed = pending["intent"], False, True
            skipped = str(pending.get("detail", ""))
        elif detail_only:
            # Another of the request's details (a corrected order number): still this request.
            intent, is_fallback, resumed = pending["intent"], False, True
        elif is_fallback or _contact_only(entities):
            # Neither the detail nor a new topic (a phone number, an address or a postal code
            # given instead of the order number asked for is no new request): keep waiting.
            intent = pending["intent"]
        # A question in general is answered, and the request still waits for its detail.
        kept = pending if in_general and not resumed else None
        pending = None
    elif detail_only and isinstance(missed, dict) and isinstance(missed.get("intent"), str) \
            and missed["intent"] in required_details:
        # The last lookup found nothing; "sam@example.com" alone now is the same lookup with
        # that detail corrected.
        intent, is_fallback, resumed = missed["intent"], False, True

    for name in ("order_number", "email"):
        if entities.get(name) and not _is_phone(str(entities[name]), entities):
            details[name] = entities[name]
    if "order_number" in forget or entities.get("order_number"):
        # The other order numbers of the message that gave one ("A-10023 and A-10024") are
        # looked up with it; a message with one number replaces them.
        details.pop(MORE_ORDERS, None)
        more = [str(n) for n in entities.get("order_numbers", ())[1:]
                if not _is_phone(str(n), entities)]
        while len(", ".join(more)) > MAX_STATE_TEXT:
            more.pop()
        if more and details.get("order_number") == entities.get("order_number"):
            details[MORE_ORDERS] = ", ".join(more)

    question = ""
    # A customer without the detail asked for is answered now: no further detail is asked
    # (an order's e-mail address is no use without its number).
    for needed in required_details.get(intent, []) if not (skipped or in_general) else []:
        name = needed.get("name", "")
        value = _detail_value(name, entities) or details.get(name)
        if value and not _is_phone(str(value), entities):
            details[name] = value
            continue
        if (known or {}).get(name):
            details[name] = (known or {})[name]
            continue
        question = needed.get("question") or f"Could you give me your {name.replace('_', ' ')}?"
        pending = {"intent": intent, "detail": name, "question": question}
        break
    if kept:
        pending, question = kept, str(kept.get("question") or "")

    fallbacks = int(previous.get("fallbacks", 0)) + 1 if is_fallback else 0
    new_state = {
        "turns": int(previous.get("turns", 0)) + 1,
        "fallbacks": fallbacks,
        "pending": pending,
        "details": details,
        "last_intent": intent,
    }
    if previous.get("lookup_misses"):
        new_state["lookup_misses"] = int(previous["lookup_misses"])
    return DialogOutcome(
        intent=intent,
        is_fallback=is_fallback,
        action="ask" if pending and not in_general else "answer",
        question=question,
        resumed=resumed,
        details={k: v for k, v in details.items()},
        state=new_state,
    )


def pleasantry(
    state: dict[str, Any] | None, *, kind: str, fallback_intent: str
) -> DialogOutcome:
    """The dialog after a message of pleasantries only (``chat.bot.smalltalk``).

    It changes no topic: the intent stays the last one (the fallback intent at the start),
    a detail the bot asked for is still awaited, and it neither counts as a fallback nor
    resets the count. A lookup that found nothing may still be tried again with a corrected
    detail, and one that answered with another order number (``missed`` and ``looked_up``
    are kept). The turn still counts. After a greeting the bot awaits the request
    (``awaiting``), so a conversation left there is not taken as resolved.
    """
    previous = dict(state or {})
    intent = previous.get("last_intent") or fallback_intent
    pending = previous.get("pending") or None
    details = dict(previous.get("details") or {})
    new_state = {
        "turns": int(previous.get("turns", 0)) + 1,
        "fallbacks": int(previous.get("fallbacks", 0)),
        "pending": pending,
        "details": details,
        "last_intent": intent,
    }
    for key in ("missed", "looked_up", "lookup_misses"):
        if previous.get(key):
            new_state[key] = previous[key]  # "ok thanks" and then the corrected e-mail
    if kind == "greeting" and not pending:
        new_state["awaiting"] = "request"
    return DialogOutcome(
        intent=intent,
        is_fallback=False,
        action="smalltalk",
        question=pending["question"] if pending else "",
        details=details,
        state=new_state,
        smalltalk=kind,
    )
