"""The connector stage: which of an intent's data connectors answers a turn, the details it
needs, and its reply (``knowledge.connectors`` makes the call).

An intent may have several connectors. A verified customer who gave no order number is
answered by the intent's verified-only connector (their own recent orders) when there is one;
anyone else by its first connector open to all, which needs the details it names (asked for
as the intent's required details are). A verified-only connector runs only with the id the
host page signed, never an id the customer typed; an unverified customer who needs it is
asked to sign in or offered a person.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from knowledge.connectors import CallOutcome, ConnectorSpec, connector_call
from knowledge.markdown import escape_markdown

from . import entities, quality, signals
from .dialog import DialogOutcome, order_numbers

QUESTIONS = {
    "order_number": "Could you give me your order number?",
    "email": "Which e-mail address did you place the order with?",
}
SIGN_IN_REPLY = (
    "I can look that up once you are signed in to your account on our site: please sign in "
    "and ask me again. Or would you like me to connect you with a person?"
)
PERSON_OFFER = "Would you like me to connect you with a person?"
# Lookups of one conversation that may find nothing before the bot stops trying: an order
# number's e-mail address is its key, and a chat must not be a way to guess it (as a shop's
# order-tracking page limits its tries). After them a person checks the order instead.
MAX_LOOKUP_MISSES = 3
LOOKUP_LIMIT_REPLY = (
    "I still couldn't match those details to an order, and to keep orders private I can't "
    "check more here. A member of our team can look into it with you. " + PERSON_OFFER
)
FAILURE_NOTICE = "I couldn't look that up just now."

Caller = Callable[[ConnectorSpec, dict[str, str]], CallOutcome]


class DeferTurn(Exception):
    """Raised by a caller that does not call connectors here: the turn is run again where they
    are called (the chat task's connector queue)."""


@dataclass(frozen=True)
class Choice:
    """The connector for a turn, or ``sign_in`` when only a verified-only one would answer."""

    connector: ConnectorSpec | None = None
    sign_in: bool = False


# "my orders", "recent orders", "order history": the customer's own orders as a list, which
# only a verified-only connector (the signed-in customer's) can give.
_LIST_WORD = r"(?:other|recent|past|previous|last|latest|older|earlier|current|open|all|few)"
_HOW_MANY = r"(?:\s+(?:\d{1,2}|two|three|four|five|ten))?"  # "my last 3 orders", not "my 2 orders"
_ORDERS_LIST = re.compile(
    r"\b(?:(?:(?:all\s+(?:of\s+)?)?(?:my|our)(?:(?:\s+" + _LIST_WORD + r"){1,2}" + _HOW_MANY
    + r")?|(?:recent|past|previous|last|latest)" + _HOW_MANY + r"|other|all)"
    r"\s+(?:orders|purchases)"
    r"|(?:order|purchase)\s+(?:history|list)|list\s+of\s+(?:my\s+)?orders"
    r"|orders?\s+I(?:'ve|\s+have)?\s+(?:placed|made|ordered))\b",
    re.IGNORECASE,
)


# Asked to be shown the orders ("list all of my orders", "can I see my order history", "what
# about my other orders"), as against a complaint about them ("my orders never arrived") or
# another request ("cancel all my orders").
_SHOW_ORDERS = re.compile(
    r"\b(?:show|list|see|view|display|check|look\s+up|give|get|tell|pull\s+up|bring\s+up"
    r"|what\s+about|how\s+about|which\s+are|what\s+are|what\s+were)"
    r"(?:\s+(?:me|us|out|up|at|on))?(?:\s+(?:a|the|all))?(?:\s+of)?\s+(?:my|our|the)?\s*$",
    re.IGNORECASE,
)


def asks_to_see_orders(text: str) -> bool:
    """Whether ``text`` asks to be shown the customer's orders as a list, a verb of showing
    right before them ("could you list my orders?", "what about my other orders?"), not only
    names them ("my orders never arrived", "cancel all my orders")."""
    text = text.replace("\u2019", "'")
    return any(_SHOW_ORDERS.search(text[:match.start()])
               for match in _ORDERS_LIST.finditer(text))


def asks_for_own_orders(text: str) -> bool:
    """Whether ``text`` asks for the customer's orders as a list ("show my recent orders"),
    rather than about one order."""
    return bool(_ORDERS_LIST.search(text.replace("\u2019", "'")))


def list_intent(connectors: tuple[ConnectorSpec, ...]) -> str:
    """The intent a verified-only connector answers (the customer's own orders), or ""."""
    return next((c.intents[0] for c in connectors if c.verified_only and c.intents), "")


def order_number_intent(connectors: tuple[ConnectorSpec, ...]) -> str:
    """The intent of the first connector anyone may call that needs an order number (the
    order's status), or ""."""
    return next((c.intents[0] for c in connectors
                 if "order_number" in c.needs and not c.verified_only and c.intents), "")


# Words that may stand beside a lone order number in a question about it: "where is 10019?",
# "any news on 10019", "10019 please". Any other word ("I live in 10019", "I paid 10019")
# leaves the number unread unless a cue says it is an order's.
_LONE_NUMBER_WORDS = frozenset({
    "where", "is", "what", "whats", "what's", "about", "status", "of", "on", "any", "update",
    "updates", "news", "please", "pls", "hi", "hello", "hey", "check", "track", "for", "with",
    "how", "it", "and", "where's", "wheres", "how's", "hows", "yet", "my", "the", "number",
    "now", "today", "again", "thanks", "thank", "you", "so", "far", "latest",
})


def may_hold_long_number(text: str) -> bool:
    """Whether ``text`` has at least five digits, so that ``lone_order_numbers`` could find a
    number in it: the cheap test before reading its entities once more (most messages fail it).
    """
    return sum(ch.isdigit() for ch in text) >= 5


def lone_order_numbers(text: str, found: dict[str, Any]) -> list[str]:
    """The order numbers of a message that is only a number of 5-20 digits (or a few) with
    words asking about it (``_LONE_NUMBER_WORDS``) and perhaps the order's e-mail address:
    "where is 10019?", "10019", "10019 sam@example.com". ``found``:
    the message's entities read as when an order number is awaited (so a phone number,
    amount, date or postal code is not one). [] for anything else."""
    numbers = [n for n in found.get("order_numbers") or () if n.isdigit() and len(n) >= 5]
    if not numbers:
        return []
    rest = text.lower()
    # "10019 sam@example.com": the order's e-mail address may come with its number.
    for given in [*numbers, *(found.get("emails") or ())]:
        rest = rest.replace(str(given).lower(), " ")
    words = re.findall(r"[a-z][a-z'\u2019]*", rest)
    return numbers if all(w.replace("\u2019", "'") in _LONE_NUMBER_WORDS for w in words) else []


def guessed_order_numbers(text: str, *, products: Any, today: Any) -> list[str]:
    """The numbers of 5-20 digits that ``text`` may give as its order number although no word
    says so ("has 10023 shipped yet?"), read as when an order number is awaited (a phone
    number, amount, date or postal code is none); [] when it has fewer than five digits. Only
    ever asked about (``confirm_order_number``), never looked up unasked: "I paid 12999 for
    my order" reads 12999 as well."""
    if not may_hold_long_number(text):
        return []
    awaited = entities.extract(text, products=products, today=today, awaiting="order_number")
    return [n for n in awaited.get("order_numbers") or () if n.isdigit() and 5 <= len(n) <= 20]


def confirm_order_number(outcome: DialogOutcome, guesses: list[str]) -> DialogOutcome:
    """The dialog outcome asking for the order number, asking instead whether the message's
    number is it ('Is 10023 your order number? ...') when ``guesses`` has one; the guess is
    kept in the pending detail (``"guess"``) so that a "yes" next turn gives it
    (``confirmed_guess``). Unchanged when another detail is asked for or nothing was guessed."""
    pending = outcome.state.get("pending") or {}
    if pending.get("detail") != "order_number" or not guesses:
        return outcome
    guess = guesses[0]
    question = (f'Is {guess} your order number? If it is, just say "yes"; if not, send me '
                "the right one.")
    state = {**outcome.state, "pending": {**pending, "question": question, "guess": guess}}
    return dataclasses.replace(outcome, question=question, state=state)


def confirmed_guess(state: dict[str, Any] | None, text: str) -> str:
    """The order number the bot asked about last turn (``confirm_order_number``) when
    ``text`` (normalised) is just a yes; "" otherwise."""
    pending = (state or {}).get("pending")
    if not isinstance(pending, dict) or pending.get("detail") != "order_number":
        return ""
    guess = pending.get("guess")
    if not isinstance(guess, str) or not guess.isdigit() or not signals.accepts_offer(text):
        return ""
    return guess


# "no", "nope, wrong number", "that's not it": a plain no to "Is 10023 your order number?".
_DENIAL = re.compile(
    r"^(?:no+|nope|nah|wrong|incorrect|not (?:it|that one|mine|right|correct)"
    r"|that(?:'s| is) not (?:it|mine|right|correct|the one))"
    r"(?:[,!. ]+(?:no|not|it|it's|it is|isn't|that|that's|wrong|number|one|mine|sorry|"
    r"thanks|not it|not mine|not right|wrong one|wrong number))*[!. ]*$"
)


def denied_guess(state: dict[str, Any] | None, text: str) -> str:
    """The intent whose order number the bot asked about last turn (``confirm_order_number``)
    when ``text`` (normalised) is just a no ("no", "nope, wrong number"), so that the number is
    asked for again; "" otherwise."""
    pending = (state or {}).get("pending")
    if not isinstance(pending, dict) or pending.get("detail") != "order_number" or not (
        pending.get("guess")
    ):
        return ""
    intent = pending.get("intent")
    if not isinstance(intent, str) or not _DENIAL.match(text.strip().replace("\u2019", "'")):
        return ""
    return intent


def choose(
    connectors: tuple[ConnectorSpec, ...], *, intent: str, verified: bool, order_number: bool,
    own_orders: bool = False,
) -> Choice:
    """The connector that answers ``intent`` (see the module's rule). ``own_orders``: the
    customer asks for their orders as a list (``asks_for_own_orders``); unverified, with a
    verified-only connector for it, they are asked to sign in (``Choice(sign_in=True)``)."""
    own = [c for c in connectors if intent in c.intents]
    if not own:
        return Choice()
    private = [c for c in own if c.verified_only]
    public = [c for c in own if not c.verified_only]
    if verified and private and not order_number:
        return Choice(connector=private[0])
    if private and own_orders and not order_number and not verified:
        return Choice(sign_in=True)
    if public:
        return Choice(connector=public[0])
    return Choice(connector=private[0]) if verified else Choice(sign_in=True)


def required_details(
    connector: ConnectorSpec | None, own: list[dict[str, str]]
) -> list[dict[str, str]]:
    """The intent's required details (``own``) and the connector's, in that order; a
    verified-only connector needs none of the customer's words."""
    if connector is None:
        return list(own)
    if connector.verified_only:
        return []
    names = {d.get("name") for d in own}
    extra = [
        {"name": name, "question": QUESTIONS.get(name, f"Could you give me your {name}?")}
        for name in connector.needs
        if name != "customer_id" and name not in names
    ]
    return [*own, *extra]


def acknowledge(outcome: DialogOutcome) -> DialogOutcome:
    """The dialog outcome with its question for a connector's e-mail address acknowledging the
    order numbers already given ("Thanks, I have your order number 55102. Which e-mail...",
    "... your order numbers 55102 and 55107. ...")."""
    pending = outcome.state.get("pending") or {}
    numbers = order_numbers(outcome.details)
    if pending.get("detail") != "email" or not numbers:
        return outcome
    if len(numbers) == 1:
        question = f"Thanks, I have your order number {numbers[0]}. {outcome.question}"
    else:
        listed = f"{', '.join(numbers[:-1])} and {numbers[-1]}"
        question = f"Thanks, I have your order numbers {listed}. {outcome.question}"
    state = {**outcome.state, "pending": {**pending, "question": question}}
    return dataclasses.replace(outcome, question=question, state=state)


def values_for(
    connector: ConnectorSpec, details: dict[str, Any], verified_customer_id: str
) -> dict[str, str]:
    """The call's values: the dialog's details, and the signed customer id (only that one)."""
    values = {name: str(details.get(name, "")) for name in connector.needs if name in details}
    if "customer_id" in connector.needs:
        values["customer_id"] = verified_customer_id
    return values


def run(connector: ConnectorSpec, values: dict[str, str], *, caller: Caller | None) -> CallOutcome:
    """Calls the connector through ``caller`` (``connector_call`` when None)."""
    return (caller or connector_call)(connector, values)


def recording(caller: Caller | None, trace: dict[str, Any]) -> Caller:
    """``caller`` (``connector_call`` when None) that also appends each call it makes to
    ``trace["connector_calls"]`` (``CallOutcome.to_trace()``: no header, no body), the list
    analytics counts every call from. A call that raises (``DeferTurn``) is not listed: it
    was not made here."""

    def call(connector: ConnectorSpec, values: dict[str, str]) -> CallOutcome:
        outcome = run(connector, values, caller=caller)
        trace.setdefault("connector_calls", []).append(outcome.to_trace())
        return outcome

    return call


def grounding(outcome: CallOutcome, connector: ConnectorSpec | None = None) -> list[str]:
    """The connector's answer as quality-check sources: its JSON and every value in it; with
    ``connector``, also what its admin wrote (the reply template and the fallback text: a help
    link, a phone number), as an article's text is a source.

    A reply rendered from the template offline also grounds its links that begin as the
    admin wrote them (``composed_grounding``)."""
    sources: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif value is not None:
            sources.append(str(value))

    if outcome.data is not None:
        sources.append(json.dumps(outcome.data, ensure_ascii=False)[:20000])
        walk(outcome.data)
    if connector is not None:
        sources += [text for text in (connector.reply_template, connector.fallback_text) if text]
    return sources


def _values(data: Any) -> list[str]:
    """Every scalar of a connector's JSON answer as text (keys left out), depth first."""
    if isinstance(data, dict):
        return [text for item in data.values() for text in _values(item)]
    if isinstance(data, list):
        return [text for item in data for text in _values(item)]
    return [] if data is None else [str(data)]


# A value that is a web address alone: "https://carrier.example/track?n=1Z99".
_WEB_ADDRESS = re.compile(r"https?://[^\s<>\[\]()`*_\\]+", re.I)


def literal_values(reply: str, outcomes: list[CallOutcome]) -> str:
    """``reply`` (Markdown a model wrote from connector answers) with every verbatim copy of
    a value of the answers' data written as literal text (``escape_markdown``), as the
    offline path's reply templates write them (``knowledge.connector_library``).

    A company's value may hold text a customer typed (a name ``**x** <img ...>``, a
    ``[click](javascript:...)``): copied into the reply it must read as text in the widget,
    the console and mails, never as emphasis, a link or an image. Values without a character
    that Markdown reads (most: "Shipped", "55102", "12.50") and one-character values are left
    as they are, so the model's own formatting around them stays; longer values are matched
    first. A value that is one web address and nothing else (a carrier's tracking page) is
    left as it is, so that it stays a link, labelled with the address itself (no label can
    disguise it). A value the model did not copy verbatim is not found here: the reply is still
    rendered through ``knowledge.markdown.render_markdown`` (no raw HTML, no unsafe link)."""
    values = {
        text for outcome in outcomes if outcome.data is not None
        for text in _values(outcome.data)
        if len(text.strip()) > 1 and escape_markdown(text) != text
        and not _WEB_ADDRESS.fullmatch(text)
    }
    if not values or not reply:
        return reply
    pattern = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))
    return pattern.sub(lambda match: escape_markdown(match.group(0)), reply)


# A link the admin wrote in a reply template up to its first variable, with a path:
# "https://carrier.example/track?n=" of "https://carrier.example/track?n={{ data.n|urlencode }}".
_TEMPLATE_LINK_PREFIX = re.compile(r"https?://[^\s<>\"'(){}\[\]/]+/[^\s<>\"'(){}\[\]]*(?=\{\{)",
                                   re.IGNORECASE)
# A Markdown backslash escape (CommonMark, section 2.4), as escape_markdown writes them.
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def composed_grounding(outcome: CallOutcome, connector: ConnectorSpec) -> list[str]:
    """The sources of a reply rendered from ``connector``'s template (the offline path):
    ``grounding``, and each link of the reply that begins with a link the admin wrote up to
    its first variable (the rest is the company's values: a tracking page's address with the
    tracking number). Every other fact must still be in the answer's data or the admin's text."""
    sources = grounding(outcome, connector)
    template = connector.reply_template
    prefixes = [m.group(0).lower() for m in _TEMPLATE_LINK_PREFIX.finditer(template)]
    if prefixes and outcome.reply:
        for url in quality.URL_RE.findall(outcome.reply):
            plain = _ESCAPED.sub(r"\1", url)
            if plain.lower().startswith(tuple(prefixes)):
                sources.append(plain)
    return sources


TOOL_DETAILS = {
    "order_number": {"type": "string", "description": "The order number the customer gave."},
    "email": {"type": "string", "description": "The e-mail address the order was placed with."},
}


def tool_name(connector: ConnectorSpec) -> str:
    """The connector's name as a Messages API tool name (letters, digits, ``_``)."""
    return "".join(c if c.isalnum() else "_" for c in connector.name.lower())[:60] or "lookup"


def tool_for(connector: ConnectorSpec) -> dict[str, Any]:
    """The connector as a tool definition; the verified customer id is never the model's to
    give (it is added from the signed identity)."""
    properties = {n: TOOL_DETAILS[n] for n in connector.needs if n in TOOL_DETAILS}
    return {
        "name": tool_name(connector),
        "description": (connector.description or connector.name)[:1000],
        "input_schema": {"type": "object", "properties": properties,
                         "required": sorted(properties)},
    }


def tool_values(
    connector: ConnectorSpec, given: dict[str, Any], verified_customer_id: str
) -> dict[str, str]:
    """The call's values from the model's tool input: the details it may give (strings, at
    most 254 characters), and the signed customer id whatever the model wrote."""
    values = {
        name: str(given[name])[:254] for name in connector.needs
        if name in TOOL_DETAILS and isinstance(given.get(name), str | int)
    }
    if "customer_id" in connector.needs:
        values["customer_id"] = verified_customer_id
    return values
