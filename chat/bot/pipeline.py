"""The orchestrator: runs the stages in order over one customer message and records a trace.

normalisation and language check -> classification -> entities -> sentiment and signals
-> dialog -> escalation decision
-> (for a reply) retrieval -> response -> quality check.

The escalation decision is taken before the reply is written, so that no Claude call is
spent (and no text streamed to the customer) for a message that goes to a person anyway.
No stage writes to the database; the chat task stores the outcome.

The message is normalised once at the entrance (``text.normalize``: NFKC, invisible
characters removed, case folded) and every stage matches on that; Claude, the capitals that
sentiment reads and the quality check's grounding see the message as written.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import timezone

from chat.text import has_masked_card
from knowledge.connectors import CallOutcome, ConnectorSpec
from knowledge.markdown import escape_markdown

from . import (
    claude,
    dialog,
    entities,
    escalation,
    language,
    lookup,
    quality,
    responder,
    sentiment,
    signals,
    smalltalk,
)
from .retrieval import INTENT_BOOST, defined_terms
from .taxonomy import Taxonomy
from .text import clean, normalize, tokens
from .types import Classification, TurnContext, TurnResult

_CLAUDE_SIGNAL_CATEGORIES = (
    ("legal", re.compile(r"legal|lawyer|attorney|sue|lawsuit|court", re.I)),
    ("fraud", re.compile(r"fraud|unauthori[sz]ed|stolen|scam|identity", re.I)),
    ("human_request", re.compile(r"human|person|agent|manager|supervisor|representative", re.I)),
    ("anger", re.compile(r"ang(?:er|ry)|furious|rage|abusive|hostile", re.I)),
)
# Said before any reply to a message in which a card number was masked (as Intercom's and
# other desks' bots do): card numbers never belong in a chat.
CARD_NOTICE = (
    "For your security, please never send card numbers in this chat. I have hidden the one "
    "you sent, and we will never ask you for a full card number here."
)
# How much of an article's score must come from the words (not the intent boost) for a
# message handled as the fallback intent to be answered from it.
FALLBACK_MIN_TEXT_SCORE = 0.12
# An off-topic request ("tell me a joke") is not understood unless the classifier is this sure
# of an intent of the taxonomy's own for it.
OFF_TOPIC_IN_SCOPE_CONFIDENCE = 0.9
# The same for a message confidently of the fallback intent ("do you take paypal"): above
# the character n-grams' noise between unrelated texts (about 0.05).
CHOICE_MIN_TEXT_SCORE = 0.08
# A message not understood that gives a detail alone may hold this many other words besides
# the usual ones around a detail ("my mistake, 10027"): ``dialog.only_details``.
DETAIL_SPARE_WORDS = 2


class _Clock:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.last = self.started
        self.timings: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round((now - self.last) * 1000, 3)
        self.last = now

    def total(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 3)


def classify_offline(taxonomy: Taxonomy, text: str) -> Classification:
    if taxonomy.classifier is None:
        return Classification(intent=taxonomy.fallback_intent, confidence=0.0, top_intents=[])
    top = taxonomy.classifier.predict(text, top=3)
    return Classification(intent=top[0][0], confidence=top[0][1], top_intents=top)


def _claude_signal(text: str) -> dict[str, str]:
    for category, pattern in _CLAUDE_SIGNAL_CATEGORIES:
        if pattern.search(text):
            return {"phrase": text, "category": category, "source": "claude"}
    return {"phrase": text, "category": "other", "source": "claude"}


def run_turn(
    taxonomy: Taxonomy,
    *,
    text: str,
    context: TurnContext,
    on_delta: Callable[[str], None] | None = None,
    use_claude: bool | None = None,
    respond: bool = True,
    today: dt.date | None = None,
    call_connector: lookup.Caller | None = None,
) -> TurnResult:
    """Run the pipeline on one message. ``respond=False`` stops after the decision.

    ``call_connector`` makes a data connector's call (``knowledge.connectors.connector_call``
    when None); one that raises ``lookup.DeferTurn`` stops the turn so that it is run again
    where connectors are called. Every call the turn makes, whichever path makes it (several
    orders, Claude's tool calls), is listed in order under the trace's ``connector_calls``
    (``CallOutcome.to_trace()`` each: connector, connector_id, ok, not_found, reason, ms).

    ``today`` (the customer's date) overrides the date taken from ``context.now`` in
    ``context.timezone``.

    The decision alone (classification, fallback, escalation) is what the evaluation
    measures; replies, retrieval and the quality check come only with ``respond``.
    """
    clock = _Clock()
    card_shared = has_masked_card(text)
    use_claude = claude.claude_enabled() if use_claude is None else use_claude
    trace: dict[str, Any] = {"errors": []}
    call_connector = lookup.recording(call_connector, trace)
    history = list(context.history or [])

    # 0. One normalisation for every stage, and whether the desk can read the message.
    written = clean(text)
    text = normalize(text)
    languages = settings.BOT_LANGUAGES
    readable = language.detect(text, languages=languages, vocabulary=_vocabulary(taxonomy))
    trace["language"] = readable.to_dict()
    clock.lap("language")

    # 1. Intent classification.
    result: Classification | None = None
    if use_claude and readable.supported:
        try:
            result = claude.classify(
                text=written,
                history=history,
                intents=[(i.slug, i.name, i.description) for i in taxonomy.intents.values()],
            )
        except claude.ClaudeError as error:
            trace["claude_fallback"] = f"claude: {error.reason} → offline"
            trace["errors"].append(f"classification: claude {error.reason}: {error.detail}"[:300])
    if result is None:
        # "I don't need a human, just tell me X" asks X: the declined person is left out.
        declined, rest = signals.declined_person(text)
        if declined:
            trace["declined_person"] = declined
        result = classify_offline(taxonomy, rest or text)
    if taxonomy.classifier is None and result.backend == "offline":
        trace["errors"].append("classification: no active classifier")
    threshold = settings.BOT_CONFIDENCE_THRESHOLD
    aside = smalltalk.off_topic(text) if readable.supported else ""
    if aside and result.intent != taxonomy.fallback_intent and (
        result.confidence >= OFF_TOPIC_IN_SCOPE_CONFIDENCE
    ):
        aside = ""  # the taxonomy has an intent for it (a "tell_joke" or "weather" intent)
    if aside:
        trace["off_topic"] = aside
    is_fallback = (
        not readable.supported
        or bool(aside)
        or result.confidence < threshold
        or result.intent not in taxonomy.intents
    )
    intent = taxonomy.fallback_intent if is_fallback else result.intent
    trace["classification"] = {
        **result.to_dict(),
        "threshold": threshold,
        "is_fallback": is_fallback,
        "decided_intent": intent,
        "classifier_version": taxonomy.classifier_version,
    }
    if result.backend == "offline" and taxonomy.classifier is not None:
        # "words+embeddings", or "words" when the embedding model is off or missing here.
        trace["classification"]["features"] = taxonomy.classifier.features
    clock.lap("classification")

    # 2. Entities. Relative dates count from the message's own day in the customer's zone.
    if today is None:
        today = entities.local_date(
            context.now or timezone.now(), context.timezone or settings.TIME_ZONE,
            fallback=settings.TIME_ZONE,
        )
    # A detail may come with a few words the classifier does not understand ("my bad, 10031").
    spare = DETAIL_SPARE_WORDS if is_fallback else 0
    found = _entities(taxonomy, text, today=today, state=context.dialog_state, spare=spare)
    # "yes" to "Is 10023 your order number?" gives that number.
    confirmed = lookup.confirmed_guess(context.dialog_state, text)
    if confirmed and not found.get("order_number"):
        found = {**found, "order_number": confirmed, "order_numbers": [confirmed]}
    if result.backend == "claude" and result.entities:
        for key in ("order_number", "email"):
            value = result.entities.get(key)
            if key not in found and isinstance(value, str) and value.strip() and (
                key != "order_number" or entities.order_number_plausible(
                    value, text=" ".join([*context.customer_texts, text]), found=found
                )
            ):
                found[key] = value.strip()[:64]
    trace["entities"] = found
    # "show my recent orders": a list of the customer's own orders, about no order remembered.
    own_orders = lookup.asks_for_own_orders(text) and not found.get("order_number")
    if own_orders and readable.supported and not aside:
        listing = _own_orders_intent(taxonomy, intent=intent,
                                     shown=lookup.asks_to_see_orders(text))
        if listing and listing != intent:
            intent, is_fallback = listing, False
            trace["classification"].update(decided_intent=intent, is_fallback=False,
                                           own_orders=True)
    # "where is 10019?", "10019": a message that is only a long number with words asking about
    # it asks about that order, whether the classifier placed it there or nowhere.
    status_intent = lookup.order_number_intent(taxonomy.connectors)
    unplaced = is_fallback or intent == taxonomy.fallback_intent
    if (
        status_intent in taxonomy.intents and (unplaced or intent == status_intent)
        and not found.get("order_number") and readable.supported and not aside
        and lookup.may_hold_long_number(text)
    ):
        awaited = entities.extract(text, products=taxonomy.products, today=today,
                                   awaiting="order_number")
        numbers = lookup.lone_order_numbers(text, awaited)
        if numbers:
            found = {**found, "order_number": numbers[0], "order_numbers": numbers}
            trace["entities"] = found
            intent, is_fallback = status_intent, False
            trace["classification"].update(decided_intent=intent, is_fallback=False,
                                           lone_order_number=True)
    # "did 10019 ship yet?": placed elsewhere (shipping) with the order's status as the
    # runner-up, itself confident enough to decide, a message with a number no word names asks
    # about that order. The number is only asked about ("Is 10019 your order number?", below),
    # never looked up unasked ("do you ship to 10019?" may give a postal code).
    if (
        status_intent in taxonomy.intents and intent != status_intent and not unplaced
        and not found.get("order_number") and readable.supported and not aside
        and any(slug == status_intent and score >= threshold
                for slug, score in result.top_intents[:2])
        and lookup.guessed_order_numbers(text, products=taxonomy.products, today=today)
    ):
        trace["classification"].update(decided_intent=status_intent, number_for_runner_up=intent)
        intent = status_intent
    clock.lap("entities")

    # 3. Signals, sentiment and urgency.
    report = taxonomy.signals.analyse(text)
    matched = report.matched
    if result.backend == "claude":
        matched += [_claude_signal(s) for s in result.signals]
    asked_for_person = signals.human_request(text)
    accepted_offer = False
    if not asked_for_person and (context.dialog_state or {}).get("offered_person") and (
        signals.accepts_offer(text)
    ):
        # The bot's last reply offered a person and the customer said yes.
        asked_for_person, accepted_offer = text.strip(), True
    withdrawn = signals.withdrawal(text, report)
    mood = sentiment.assess(text, {s["category"] for s in matched}, written=written)
    feeling, urgency = mood.sentiment, mood.urgency
    if result.backend == "claude" and result.sentiment:
        feeling = result.sentiment if mood.sentiment != "angry" else "angry"
        urgency = max(result.urgency, mood.urgency, key=sentiment.URGENCIES.index)
    trace["sentiment"] = {**mood.to_dict(), "sentiment": feeling, "urgency": urgency}
    trace["signals"] = {"matched": matched, "cancelled": report.cancelled,
                        "human_request": asked_for_person, "withdrawn": withdrawn}
    clock.lap("signals_sentiment")

    # 4. Dialog manager (a message of pleasantries only changes no topic). An intent answered
    # by a data connector also needs the details the connector takes.
    required = taxonomy.required_details()
    choices = _connector_choices(
        taxonomy, context=context, found=found, required=required, own_orders=own_orders,
    )
    social = smalltalk.kind(text, intents=taxonomy.intents)
    # "I don't have it": the request is answered from its article, with no lookup.
    without_detail = dialog.says_no_detail(text)
    # "What do the order statuses mean?": the articles answer it, nobody's order is looked up.
    asked_terms = taxonomy.articles.defined_in(text)
    in_general = not without_detail and dialog.asks_in_general(text, found, defined=asked_terms)
    if without_detail or in_general:
        choices = {}
    denied = lookup.denied_guess(context.dialog_state, text)
    if denied in taxonomy.intents:
        # "no" to "Is 10023 your order number?": the same request asks for the number again.
        intent, is_fallback = denied, False
        trace["classification"].update(decided_intent=intent, is_fallback=False,
                                       guess_denied=True)
    if social:
        outcome = dialog.pleasantry(
            context.dialog_state, kind=social, fallback_intent=taxonomy.fallback_intent
        )
    else:
        outcome = dialog.advance(
            context.dialog_state,
            intent=intent,
            is_fallback=is_fallback,
            entities=found,
            required_details=required,
            no_detail=without_detail,
            known=context.known_details(),
            detail_only=dialog.only_details(text, found, spare=spare),
            forget=("order_number",) if own_orders else (),
            in_general=in_general,
        )
    intent, is_fallback = outcome.intent, outcome.is_fallback
    if outcome.action == "ask" and intent in choices:
        outcome = lookup.acknowledge(outcome)
    if outcome.action == "ask" and not found.get("order_number"):
        # "has 10023 shipped yet?": the number no word names is asked about, not asked for.
        outcome = lookup.confirm_order_number(outcome, lookup.guessed_order_numbers(
            text, products=taxonomy.products, today=today))
    trace["dialog"] = outcome.to_dict()
    clock.lap("dialog")

    # 5. Escalation decision.
    info = taxonomy.intent(intent)
    decision = escalation.decide(
        intent=intent,
        intent_name=info.name,
        # A pleasantry is about no intent: only the customer's words can escalate it.
        policy="never" if social else info.escalation_policy,
        sentiment=feeling,
        urgency=urgency,
        signals=matched,
        human_request=signals.request_quote(written, asked_for_person),
        accepted_offer=accepted_offer,
        turns=outcome.state["turns"],
        fallbacks=outcome.state["fallbacks"],
        max_turns=settings.BOT_MAX_TURNS,
        max_fallbacks=settings.BOT_MAX_FALLBACKS,
        # A message the desk cannot read that completes the fallbacks: a language handoff.
        language=readable.label if outcome.is_fallback and readable.reason in {
            "script", "language"} else "",
        withdrawn=withdrawn,
    )
    trace["escalation"] = decision.to_dict()
    clock.lap("escalation")

    state = outcome.state
    reply_text = ""
    used_articles: list[dict[str, Any]] = []
    if decision.handoff:
        reply_text = escalation.handoff_message(decision.category, intent)
        state = {**state, "pending": None}
    elif respond and not readable.supported and outcome.is_fallback:
        # Not an article's answer nor the awaited question again (the detail is still awaited):
        # the languages the desk answers in, and a person on request.
        reply_text = language.reply(readable, languages)
        trace["retrieval"] = []
        trace["response"] = {"source": "language", "reason": readable.reason}
        clock.lap("response")
    elif respond and aside and outcome.is_fallback:
        # A request no desk answers (a joke, the weather): what the desk is for, and a person.
        reply_text = smalltalk.OFF_TOPIC_REPLY
        trace["retrieval"] = []
        trace["response"] = {"source": "off_topic"}
        clock.lap("response")
    elif respond:
        reply_text, used_articles = _respond(
            taxonomy, text=text, written=written, context=context, intent=intent,
            is_fallback=is_fallback, outcome=outcome, use_claude=use_claude, on_delta=on_delta,
            trace=trace, clock=clock, choice=choices.get(intent), call_connector=call_connector,
            in_general=in_general, asked_terms=asked_terms if in_general else [],
        )

    # Whether this reply offers a person: a plain yes to it is then a request for one.
    state = {**state, "offered_person": bool(reply_text) and _offers_person(reply_text)}
    called = trace.get("connector") or {}
    misses = sum(bool(call.get("not_found")) for call in called.get("orders") or [called])
    if misses:
        state = {**state, "lookup_misses": int(state.get("lookup_misses") or 0) + misses}
    if (called.get("not_found") or called.get("reason") == "lookup_limit") \
            and not decision.handoff:
        # Nothing found for these details: a corrected detail alone next tries again (past
        # the limit, it is told again that a person checks it).
        state = {**state, "missed": {"intent": intent}}
    elif called.get("ok") and not decision.handoff:
        # Answered: another order number alone next ("and 10019?") is a new lookup.
        state = {**state, "looked_up": {"intent": intent}}

    if reply_text and card_shared:
        # The door masked a card number in the message (chat.text.mask_card_numbers).
        reply_text = f"{CARD_NOTICE}\n\n{reply_text}"
        trace["card_notice"] = True

    total = clock.total()
    backend = result.backend
    trace.update({"backend": backend, "timings_ms": clock.timings, "total_ms": total})
    return TurnResult(
        decision="handoff" if decision.handoff else "reply",
        reply_text=reply_text,
        intent=intent,
        confidence=round(result.confidence, 4),
        top_intents=[(slug, round(score, 4)) for slug, score in result.top_intents],
        is_fallback=is_fallback,
        entities=found,
        sentiment=feeling,
        urgency=urgency,
        signals=matched,
        articles=used_articles,
        handoff_reason=decision.reason,
        handoff_category=decision.category,
        dialog_state=state,
        backend=backend,
        trace=trace,
        total_ms=total,
        quick_replies=_quick_replies(outcome, reply_text=reply_text, handoff=decision.handoff,
                                     in_general=in_general),
    )


def _quick_replies(
    outcome: dialog.DialogOutcome, *, reply_text: str, handoff: bool, in_general: bool
) -> list[str]:
    """The buttons under the reply: a question for a missing detail offers the way out ("I
    don't have it"); "Is 10023 your order number?" offers "Yes" and "No"."""
    if not reply_text or handoff or not (outcome.action == "ask" or (
        in_general and outcome.question
    )):
        return []
    if outcome.action == "ask" and (outcome.state.get("pending") or {}).get("guess"):
        return [GUESS_YES, GUESS_NO]
    return [dialog.NO_DETAIL_REPLY]


# The buttons under "Is 10023 your order number?" (lookup.confirmed_guess, lookup.denied_guess).
GUESS_YES, GUESS_NO = "Yes", "No"


_PERSON_OFFER = re.compile(
    r"(?:would you like|shall i|do you want|want me to|should i)[^?]{0,80}"
    r"(?:connect|transfer|hand|put)[^?]{0,60}(?:person|team|agent|human|someone|colleague)",
    re.I,
)


def _offers_person(reply: str) -> bool:
    """Whether a reply ends by asking if the customer would like a person (the quality
    check's safe reply, the reply with no article)."""
    return bool(_PERSON_OFFER.search(reply[-300:]))


def _respond(
    taxonomy: Taxonomy,
    *,
    text: str,
    written: str,
    context: TurnContext,
    intent: str,
    is_fallback: bool,
    outcome: dialog.DialogOutcome,
    use_claude: bool,
    on_delta: Callable[[str], None] | None,
    trace: dict[str, Any],
    clock: _Clock,
    choice: lookup.Choice | None = None,
    call_connector: lookup.Caller | None = None,
    in_general: bool = False,
    asked_terms: list[str] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Retrieval, the reply (a question, Claude's or the offline composer's) and its check.

    The answer to a pleasantry is the bot's own text: no article, nothing to check. A
    question about what something means (``in_general``) is answered first from the article
    that defines what it names, whatever the intent (``ArticleIndex.defining``); offline, with
    the lines defining ``asked_terms`` (``ArticleIndex.defined_in``) when it names some.
    """
    if outcome.action == "smalltalk":
        trace["retrieval"] = []
        trace["response"] = {"source": "smalltalk", "kind": outcome.smalltalk}
        clock.lap("response")
        return smalltalk.reply(outcome.smalltalk, pending_question=outcome.question), []
    info = taxonomy.intent(intent)
    looked_up: tuple[str, list[str]] | None = None
    failed_lookup = False
    if (outcome.action == "answer" and choice is not None and not is_fallback
            and int(outcome.state.get("lookup_misses") or 0) >= lookup.MAX_LOOKUP_MISSES):
        # Enough details that matched nothing: no more tries, a person checks it instead.
        trace["connector"] = {"ok": False, "reason": "lookup_limit", "not_found": False}
        trace["response"] = {"source": "connector", "reason": "lookup_limit"}
        looked_up = lookup.LOOKUP_LIMIT_REPLY, [lookup.LOOKUP_LIMIT_REPLY]
    elif outcome.action == "answer" and choice is not None and not is_fallback:
        attempted = False
        if use_claude and choice.connector is not None:
            looked_up, attempted = _look_up_with_claude(
                choice.connector, text=written, context=context, outcome=outcome,
                trace=trace, call_connector=call_connector, on_delta=on_delta,
            )
        if not attempted:
            looked_up = _look_up(choice, context=context, outcome=outcome, trace=trace,
                                 call_connector=call_connector)
        failed_lookup = looked_up is None
        called = trace.get("connector") or {}
        if (looked_up is not None and called.get("not_found") and "orders" not in called
                and int(outcome.state.get("lookup_misses") or 0) + 1
                >= lookup.MAX_LOOKUP_MISSES):
            # The last miss allowed: said now, not "check the e-mail address" inviting a try
            # that would not be made.
            trace["response"] = {**(trace.get("response") or {}), "reason": "lookup_limit"}
            looked_up = lookup.LOOKUP_LIMIT_REPLY, [lookup.LOOKUP_LIMIT_REPLY]
        clock.lap("connector")
    extra_sources: list[str] = []
    if outcome.action == "ask":
        trace["retrieval"] = []
        trace["response"] = {"source": "question", "detail": outcome.state["pending"]["detail"]}
        reply, articles = outcome.question, []
    elif looked_up is not None:
        trace["retrieval"] = []
        reply, extra_sources = looked_up
        articles = []
    else:
        query = text if not outcome.resumed else f"{text} {info.name}"
        ranked = _ranked_articles(taxonomy, query, intent=intent, is_fallback=is_fallback)
        defining = taxonomy.articles.defining(text, intent=intent) if in_general else None
        if defining is not None and (not ranked or ranked[0]["id"] != defining.id):
            score = ranked[0]["score"] if ranked else INTENT_BOOST
            ranked = [{"id": defining.id, "title": defining.title, "score": score,
                       "defines": True},
                      *(a for a in ranked if a["id"] != defining.id)][:3]
        trace["retrieval"] = ranked
        clock.lap("retrieval")
        docs = [doc for doc in (taxonomy.articles.get(a["id"]) for a in ranked) if doc]
        reply = ""
        if use_claude and docs:
            try:
                reply = claude.stream_reply(
                    text=written,
                    history=list(context.history or []),
                    documents=[(d.title, d.body) for d in docs],
                    details=outcome.details,
                    on_delta=on_delta,
                )
                trace["response"] = {"source": "claude", "streamed": on_delta is not None}
            except claude.ClaudeError as error:
                trace["response_fallback"] = f"claude: {error.reason} → offline"
                trace["errors"].append(f"response: claude {error.reason}: {error.detail}"[:300])
                reply = ""
        if not reply:
            reply = responder.compose(
                text=text, intent_name=info.name, articles=docs, details=outcome.details,
                # After a failed lookup the reply opens with that failure, not with "Thanks, I
                # have your order number ...".
                acknowledge="" if failed_lookup else next(
                    (d.get("name", "") for d in info.required_details), ""),
                max_chars=settings.BOT_MAX_REPLY_CHARS,
                # The terms asked, or for a question about what the terms of a topic mean
                # ("what do the order statuses mean?") every term its article defines.
                terms=asked_terms or (defined_terms(docs[0].body)
                                      if in_general and docs else ()),
            )
            trace["response"] = {"source": "offline", "article": docs[0].id if docs else None}
        articles = ranked[:1] if trace["response"]["source"] == "offline" else ranked
        if failed_lookup:
            # The connector failed: the intent's article, and a person on offer.
            reply = f"{lookup.FAILURE_NOTICE} {reply}\n\n{lookup.PERSON_OFFER}"
            extra_sources = [lookup.FAILURE_NOTICE, lookup.PERSON_OFFER]
        if in_general and outcome.question:
            # A request still waits for its detail ("where is my order?"): asked again after
            # the answer to the question in between.
            reply = f"{reply}\n\n{outcome.question}"
            extra_sources = [*extra_sources, outcome.question]
    clock.lap("response")

    sources = []
    for item in articles:
        doc = taxonomy.articles.get(item["id"])
        if doc is not None:
            sources += [doc.title, doc.body]
    if outcome.action == "ask":
        sources.append(outcome.question)
    sources += extra_sources
    report = quality.check(
        reply,
        sources=sources,
        customer_texts=[*context.customer_texts, written,
                        *[str(v) for v in outcome.details.values()]],
        max_chars=settings.BOT_MAX_REPLY_CHARS,
        system_prompts=[claude.reply_system_prompt(), claude.INJECTION_NOTICE],
    )
    trace["quality"] = report.to_dict()
    if not report.ok:
        trace["quality"]["replaced"] = reply[:2000]
        reply = quality.SAFE_REPLY
        articles = []  # the safe reply answers from no article: no "Did this help?" under it
    clock.lap("quality")
    return reply, articles


def _connector_choices(
    taxonomy: Taxonomy, *, context: TurnContext, found: dict[str, Any],
    required: dict[str, list[dict[str, str]]], own_orders: bool = False,
) -> dict[str, lookup.Choice]:
    """The connector (or the need to sign in) for each intent that has connectors; adds the
    chosen connector's details to ``required`` (in place)."""
    if not taxonomy.connectors:
        return {}
    remembered = (context.dialog_state or {}).get("details") or {}
    # An order number remembered from an earlier turn is no order of this message's when it
    # asks for the customer's orders as a list.
    has_number = bool(found.get("order_number") or (
        not own_orders and isinstance(remembered, dict) and remembered.get("order_number")))
    choices = {}
    for slug in sorted({s for c in taxonomy.connectors for s in c.intents}):
        choice = lookup.choose(
            taxonomy.connectors, intent=slug, verified=bool(context.verified_customer_id),
            order_number=has_number, own_orders=own_orders,
        )
        choices[slug] = choice
        required[slug] = [] if choice.sign_in else lookup.required_details(
            choice.connector, required.get(slug, [])
        )
    return choices


def _look_up(
    choice: lookup.Choice, *, context: TurnContext, outcome: dialog.DialogOutcome,
    trace: dict[str, Any], call_connector: lookup.Caller | None,
) -> tuple[str, list[str]] | None:
    """The connector's reply and its grounding sources, or None when it failed (the trace
    says why, and the caller answers from the intent's article with a person on offer)."""
    if choice.connector is None:
        trace["connector"] = {"ok": False, "reason": "not_verified"}
        trace["response"] = {"source": "connector", "reason": "not_verified"}
        return lookup.SIGN_IN_REPLY, [lookup.SIGN_IN_REPLY]
    spec = choice.connector
    numbers = dialog.order_numbers(outcome.details) if "order_number" in spec.needs else []
    if len(numbers) > 1:
        return _look_up_each(spec, numbers, context=context, outcome=outcome, trace=trace,
                             call_connector=call_connector)
    values = lookup.values_for(spec, outcome.details, context.verified_customer_id)
    result = lookup.run(spec, values, caller=call_connector)
    trace["connector"] = {**result.to_trace(), "not_found": result.not_found}
    if result.ok:
        trace["response"] = {"source": "connector", "connector": spec.name}
        return result.reply, lookup.composed_grounding(result, spec)
    if result.not_found and spec.fallback_text:
        trace["response"] = {"source": "connector", "connector": spec.name, "fallback": True}
        return spec.fallback_text, [spec.fallback_text]
    trace["errors"].append(f"connector {spec.name}: {result.reason}"[:300])
    return None


def _look_up_each(
    spec: ConnectorSpec, numbers: list[str], *, context: TurnContext,
    outcome: dialog.DialogOutcome, trace: dict[str, Any], call_connector: lookup.Caller | None,
) -> tuple[str, list[str]]:
    """Several orders of one message ("A-10023 and A-10024"), each looked up with the same
    other details: a list of one line per order, its reply (its number in bold before it
    when the reply does not name it), the fallback text when it was not found, or
    ``lookup.FAILURE_NOTICE`` (a person is then offered). The first order's call decides
    what the dialog remembers (``missed``, ``looked_up``); the trace lists every call under
    ``orders``, and each not found counts toward ``lookup.MAX_LOOKUP_MISSES``. At most
    ``dialog.MAX_ORDERS`` are looked up; the reply asks for the others in a new message."""
    lines: list[str] = []
    sources: list[str] = []
    calls: list[dict[str, Any]] = []
    numbers, left = numbers[:dialog.MAX_ORDERS], numbers[dialog.MAX_ORDERS:]
    for number in numbers:
        values = lookup.values_for(spec, {**outcome.details, "order_number": number},
                                   context.verified_customer_id)
        result = lookup.run(spec, values, caller=call_connector)
        calls.append({**result.to_trace(), "not_found": result.not_found})
        if result.ok:
            answer = result.reply
            sources += lookup.composed_grounding(result, spec)
        elif result.not_found and spec.fallback_text:
            answer = spec.fallback_text
        else:
            trace["errors"].append(f"connector {spec.name}: {result.reason}"[:300])
            answer = lookup.FAILURE_NOTICE
        sources += [answer, number]
        answer = answer.strip().replace("\n", "\n  ")
        # Named by its number in bold, unless its reply already names it ("Your order 10023 is
        # Shipped"), which would then read it twice.
        named = re.search(rf"(?<![\w-]){re.escape(number)}(?!\w)", answer)
        lines.append(f"- {answer}" if named else f"- **{escape_markdown(number)}**: {answer}")
    reply = "\n".join(lines)
    if left:
        named = [escape_markdown(number) for number in left]
        listed = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
        more = (f"I looked up the first {len(numbers)} order numbers; send me {listed} in a "
                "new message and I will look "
                f"{'it' if len(left) == 1 else 'them'} up too.")
        reply += f"\n\n{more}"
        sources += [more, *left]
    if any(not (call["ok"] or call["not_found"]) for call in calls):
        reply += f"\n\n{lookup.PERSON_OFFER}"
        sources.append(lookup.PERSON_OFFER)
    trace["connector"] = {**calls[0], "orders": calls}
    trace["response"] = {"source": "connector", "connector": spec.name, "orders": len(numbers)}
    return reply, sources


def _look_up_with_claude(
    spec: ConnectorSpec, *, text: str, context: TurnContext, outcome: dialog.DialogOutcome,
    trace: dict[str, Any], call_connector: lookup.Caller | None,
    on_delta: Callable[[str], None] | None,
) -> tuple[tuple[str, list[str]] | None, bool]:
    """Claude's reply with the connector as a tool it may call: ((reply, grounding sources) or
    None when the call failed, whether a call was made). No call made (the model answered
    without it, or Claude failed): the caller looks it up itself."""
    calls: list[CallOutcome] = []

    def call_tool(name: str, given: dict[str, Any]) -> str:
        values = lookup.tool_values(spec, given, context.verified_customer_id)
        for name in spec.needs:  # a detail the model left out that the desk already has
            if not values.get(name) and outcome.details.get(name):
                values[name] = str(outcome.details[name])
        result = lookup.run(spec, values, caller=call_connector)
        calls.append(result)
        if result.ok:
            return json.dumps(result.data, ensure_ascii=False)[:20000]
        if result.not_found:
            return spec.fallback_text or "Nothing was found for these details."
        return f"The lookup failed ({result.reason})."

    try:
        reply = claude.reply_with_tools(
            text=text, history=list(context.history or []), documents=[],
            details=outcome.details, tools=[lookup.tool_for(spec)], call_tool=call_tool,
            on_delta=on_delta,
        )
    except claude.ClaudeError as error:
        trace["response_fallback"] = f"claude: {error.reason} → offline"
        trace["errors"].append(f"response: claude {error.reason}: {error.detail}"[:300])
        if not calls:
            return None, False
        reply = ""
    if not calls:
        return None, False
    last = calls[-1]
    trace["connector"] = {**last.to_trace(), "not_found": last.not_found, "via": "claude tool"}
    if not (last.ok or last.not_found) or not reply:
        trace["errors"].append(f"connector {spec.name}: {last.reason or 'no reply'}"[:300])
        return None, True
    trace["response"] = {"source": "claude", "connector": spec.name, "tool": True}
    # The company's values read as text, as in a reply template (a customer-typed name in
    # them never becomes a link or emphasis); every call's answer grounds the reply.
    reply = lookup.literal_values(reply, calls)
    sources = [text for call in calls for text in lookup.grounding(call, spec)]
    return (reply, sources), True


def _own_orders_intent(taxonomy: Taxonomy, *, intent: str, shown: bool) -> str:
    """The intent answering a request for the customer's own orders as a list (the intent of
    a verified-only connector) when the classifier's choice (``intent``) gives way to it: the
    message asks to be shown them (``shown``: "can you list all my orders instead", whatever
    other intent its words suggest), or the choice is the fallback intent. "" otherwise."""
    listing = lookup.list_intent(taxonomy.connectors)
    if not listing or listing not in taxonomy.intents or listing == intent:
        return ""
    return listing if shown or intent == taxonomy.fallback_intent else ""


def _entities(
    taxonomy: Taxonomy, text: str, *, today: dt.date, state: dict[str, Any] | None,
    spare: int = 0,
) -> dict[str, Any]:
    """The message's entities, read knowing what the dialog waits for.

    The detail asked for is awaited (a bare number is the order number asked for). A lookup
    under way (a detail asked for, or last turn's lookup, found or not) also takes its
    other details given alone: "10031" while the e-mail address is awaited, "sam at example
    dot com" after nothing was found, but not a number inside another request.
    """
    awaiting = dialog.awaited_detail(state)
    found = entities.extract(text, products=taxonomy.products, today=today, awaiting=awaiting)
    state = state or {}
    remembered = state.get("details") if isinstance(state.get("details"), dict) else {}
    if not (awaiting or state.get("missed") or state.get("looked_up")):
        return found
    for name in ("order_number", "email"):
        if name == awaiting or found.get(name) or (name not in remembered and awaiting):
            continue
        again = entities.extract(text, products=taxonomy.products, today=today, awaiting=name)
        if again.get(name) and dialog.only_details(text, again, spare=spare):
            return again
    return found


def _vocabulary(taxonomy: Taxonomy) -> frozenset[str]:
    """The taxonomy's own words (training phrases, intent names, signals, product names),
    known whatever the language; kept on the snapshot."""
    known = taxonomy.info.get("vocabulary")
    if known is None:
        words = set(getattr(taxonomy.classifier, "vocabulary", None) or ())
        for info in taxonomy.intents.values():
            words.update(tokens(f"{info.slug.replace('_', ' ')} {info.name}"))
        for rule in taxonomy.signals.rules:
            words.update(rule.words)
        for name, _ in getattr(taxonomy.products, "patterns", ()):
            words.update(tokens(name))
        known = frozenset(words)
        taxonomy.info["vocabulary"] = known
    return known
def _ranked_articles(
    taxonomy: Taxonomy, query: str, *, intent: str, is_fallback: bool
) -> list[dict[str, Any]]:
    """The articles to answer from, best first: ``[{"id", "title", "score"}]``.

    A confident intent with published articles is answered from one of them: the best by
    text (word and character n-gram TF-IDF, so a misspelt "retrun" still meets "return"),
    else the intent's first article. A guess is only answered from an article whose words
    match the message well; the fallback intent itself (the intent of "anything else",
    whose first article answers nothing in particular), from one whose words match it a
    little; an intent without articles, from any article that scores.
    """
    index = taxonomy.articles
    if is_fallback:
        # Not understood: the fallback intent is no topic, so its articles get no boost (a
        # boost would fill the top places with articles the message does not match).
        ranked = index.search(query, intent="", limit=3)
        return [a for a in ranked if a["score"] >= FALLBACK_MIN_TEXT_SCORE]
    ranked = index.search(query, intent=intent, limit=3)
    if intent == taxonomy.fallback_intent:
        return [a for a in ranked if _text_score(a, taxonomy, intent) >= CHOICE_MIN_TEXT_SCORE]
    own = index.best_of_intent(query, intent)
    if own is None:
        return ranked
    others = [a for a in ranked if a["id"] != own.id and intent in index.get(a["id"]).intents]
    score = next((a["score"] for a in ranked if a["id"] == own.id), INTENT_BOOST)
    return [{"id": own.id, "title": own.title, "score": score}, *others]


def _text_score(article: dict[str, Any], taxonomy: Taxonomy, intent: str) -> float:
    doc = taxonomy.articles.get(article["id"])
    boosted = doc is not None and intent in doc.intents
    return article["score"] - (INTENT_BOOST if boosted else 0.0)
