"""Synthetic conversations for trying the dashboard (``generate_traffic``) and benchmarking it.

One script (``play_conversation``) decides what happens in a conversation: what the customer
asks, what the bot decides, whether an agent answers, how it ends. Two writers carry the
script out:

* ``ServiceWriter`` calls the real chat services (``chat.services``) with backdated ``at``
  moments, so every row and reporting event is exactly what production writes; with
  ``pipeline=True`` the bot turns come from the real pipeline (``chat.bot.answer_turn``)
  instead of the script's planned result, and the script follows what the pipeline decided.
* ``BulkWriter`` writes the same rows (conversations, messages, bot traces, reporting events)
  with ``bulk_create``, mirroring what each service does, for the 100,000-conversation
  benchmark where calling the services one by one would take too long.

Bot replies quote the published articles of their intent (``Cast.quote``) as the real
pipeline's replies do, and end as real conversations end (the customer's "yes, this helped"
resolves a conversation as ``bot_confirmed``), so the dashboard's "Articles that work" has
figures on generated traffic too.

A conversation about an intent that has a data connector (the demo's "where is my order")
looks the order up as the bot would: the connector the bot would choose (``chat.bot.lookup``),
called with ``knowledge.connectors.connector_call`` over a transport that answers as the
company's API (the demo orders API's answers, ``supportdesk.demo_api``), or fails as one does
(a timeout, a 5xx, a refused connection), with a drawn duration. The call goes into the turn's
trace as the pipeline puts it there, so ``bot_turn_record`` records its ``connector_called``
event and the reply's connector category: the dashboard's "Data connectors" section has
figures on generated traffic too.

Both writers receive the same calls from the same script (the script alone draws from the
seeded random generator), so the two paths stay consistent;
``tests/analytics/test_traffic.py`` checks that a seed produces the same KPIs either way.
"""

from __future__ import annotations

import math
import random
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx2
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from accounts.roles import AGENTS
from analytics.models import EventName, ReportingEvent
from analytics.rollup import rollup_refresh
from chat.bot import lookup
from chat.bot.responder import compose
from chat.bot.retrieval import ArticleDoc, ArticleIndex
from chat.bot.types import TurnResult
from chat.identity import Identity
from chat.models import (
    Author,
    BotTrace,
    Contact,
    Conversation,
    ConversationStatus,
    Message,
    Resolution,
    Widget,
)
from chat.names import agent_public_name
from chat.services import connector_answer, connector_calls, connector_category
from knowledge.connectors import CallOutcome, ConnectorSpec, connector_call
from supportdesk import demo_api

# --- What customers say ----------------------------------------------------------------------
# Written for this generator; phrases of the knowledge base's intents are used when present.

FALLBACK_TEXTS = (
    "do you have a store in Lisbon",
    "can I pay with a cheque",
    "what is your favourite colour",
    "is the owner around",
    "do you buy used gear",
    "can you recommend a campsite near Denver",
    "hello??",
    "what's the wifi password",
    "I need a quote for 300 branded caps",
    "do you sponsor climbing teams",
)
HUMAN_REQUEST_TEXTS = (
    "can I talk to a real person please",
    "put me through to someone from your team",
    "I want to speak with an agent",
)
ANGRY_TEXTS = (
    "this is the third time I'm asking, absolutely useless",
    "I am furious, nobody answers my emails",
)
FOLLOW_UPS = ("thanks", "ok and how long does that take?", "it's A-55102", "great, thank you!")
# An agent's replies in a conversation, in this order (the last repeated no more: a
# conversation's agent never says the same line twice); about no intent in particular.
AGENT_TEXTS = (
    "Hi, I'm looking into this for you now.",
    "Thanks for waiting: I've sorted this out on our side, and you'll get a confirmation "
    "by e-mail.",
    "Is there anything else I can help you with?",
)
DEFAULT_INTENTS = (
    ("order_status", "never", ("where is my order", "has my parcel shipped yet")),
    ("return_request", "never", ("how do I return boots", "I want to send a jacket back")),
    ("billing_dispute", "always", ("I was charged twice", "there is a wrong charge on my card")),
    ("product_question", "never", ("is the tent waterproof", "what size is the large pack")),
    ("general_inquiry", "never", ("what are your opening hours", "where are you based")),
)
HANDOFF_CATEGORIES = (
    ("human_request", 45),
    ("anger", 25),
    ("urgency", 10),
    ("legal", 5),
    ("fraud", 5),
    ("quality", 5),
    ("other", 5),
)
# Customer turns per conversation, 1 to 8: about 5 planned on average (handoffs cut some
# short), which gives about ten messages per conversation as in real support chats.
TURN_WEIGHTS = (4, 8, 12, 15, 16, 16, 15, 14)
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 10, 9, 9, 10, 10, 9, 8, 7, 6, 5, 4, 3, 2)

# Order lookups (an intent with a data connector). A customer gives the order number and the
# e-mail address it was placed with in one message, as typed here; the signed-in share asks
# for their orders as a list (a verified-only connector answers them at once).
DETAILS_TEXTS = (
    "it's {number}, {email}",
    "order A-{number}, I ordered with {email}",
    "{number} and my email is {email}",
    "A-{number} / {email}",
)
OWN_ORDERS_TEXTS = (
    "can you show me my recent orders",
    "where are my orders?",
    "what's the status of my last orders",
)
ACCEPT_PERSON_TEXTS = ("yes please, connect me", "yes, a person please")
SIGNED_IN_SHARE = 0.3
# What the company's API does with a call: answers (the order, or the demo API's 404 for
# details that match no order), or fails. Weights per hundred calls of details given.
CALL_WEIGHTS = (("found", 70), ("wrong_email", 10), ("no_such_order", 8),
                ("timeout", 5), ("http_503", 4), ("http_500", 2), ("connect_error", 1))
OWN_ORDERS_CALL_WEIGHTS = (("found", 94), ("timeout", 3), ("http_503", 2), ("http_500", 1))
RETRY_AFTER_MISS = 0.65  # the customer sends corrected details after "I couldn't find that"
ACCEPT_PERSON = 0.5  # the customer takes the person offered after a lookup that failed


@dataclass(frozen=True)
class IntentSpec:
    slug: str
    policy: str
    phrases: tuple[str, ...]
    weight: float


@dataclass
class Cast:
    """Who and what a run draws from."""

    widgets: list[Widget]
    agents: list[Any]
    intents: list[IntentSpec]
    now: datetime
    fallback_intent: str = "general_inquiry"
    inactivity: timedelta = timedelta(minutes=30)
    # Per intent, the published articles of that intent ({"id", "title"}, by title): what
    # the bot quotes when it answers a message of the intent.
    articles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The active data connectors, as the bot calls them; per intent, its required details
    # (the questions the bot asks before a lookup); the orders customers ask about.
    connectors: tuple[ConnectorSpec, ...] = ()
    required_details: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    orders: tuple[dict[str, Any], ...] = ()
    # The published articles' text by id, for the replies that quote them, and their index.
    article_docs: dict[int, ArticleDoc] = field(default_factory=dict)
    index: ArticleIndex | None = None

    def answer(self, text: str, articles: list[dict[str, Any]], *, intent: str) -> str:
        """The offline bot's reply to ``text`` quoting the first of ``articles`` (the
        passages that answer it and the link to the article, ``chat.bot.responder.compose``),
        as a conversation of the history shows it; "" when there is none to quote."""
        doc = self.article_docs.get(articles[0]["id"]) if articles else None
        if doc is None:
            return ""
        return compose(text=text, intent_name=intent.replace("_", " "), articles=[doc],
                       details={})

    def quote(self, intent: str, turn: int, text: str = "") -> list[dict[str, Any]]:
        """The article a reply of ``intent`` quotes for ``text``, the ``turn``-th customer
        message: of the intent's articles, the one whose words ``text`` shares most
        (``ArticleIndex.text_scores``, as the bot ranks them), else the intent's articles in
        turn (a conversation's follow-ups quote the next one); none for the fallback intent or
        an intent without articles. No random draw: the script's other draws stay as they
        were."""
        found = self.articles.get(intent) or []
        if not found or intent == self.fallback_intent:
            return []
        if text and len(found) > 1 and self.index is not None:
            rows = {doc.id: row for row, doc in enumerate(self.index.articles)}
            scores = self.index.text_scores(text)
            best = max(found, key=lambda article: scores[rows[article["id"]]])
            if scores[rows[best["id"]]] > 0:
                return [dict(best)]
        return [dict(found[turn % len(found)])]


def cast_load(*, now: datetime | None = None) -> Cast:
    """Widgets, agents and intents from the database, created minimally when there are none."""
    from knowledge.models import Article, ArticleStatus, Intent
    from knowledge.selectors import connector_specs

    widgets = list(Widget.objects.filter(is_active=True).order_by("pk"))
    if not widgets:
        widgets = [
            Widget.objects.create(
                public_key="generated", name="Generated traffic", allowed_origins=["self"]
            )
        ]
    group, _ = Group.objects.get_or_create(name=AGENTS)
    agents = list(get_user_model().objects.filter(groups=group).order_by("pk")[:10])
    if not agents:
        user = get_user_model().objects.create_user(username="generated-agent")
        user.set_unusable_password()
        user.save()
        user.groups.add(group)
        agents = [user]
    intents = []
    required_details = {}
    rows = Intent.objects.filter(is_active=True).prefetch_related("phrases").order_by("slug")
    for rank, intent in enumerate(rows):
        phrases = tuple(p.text for p in intent.phrases.all()) or (intent.name,)
        intents.append(
            IntentSpec(intent.slug, intent.escalation_policy, phrases, 1.0 / (rank + 1) ** 0.6)
        )
        required_details[intent.slug] = list(intent.required_details or [])
    if not intents:
        intents = [
            IntentSpec(slug, policy, phrases, 1.0 / (rank + 1) ** 0.6)
            for rank, (slug, policy, phrases) in enumerate(DEFAULT_INTENTS)
        ]
    articles: dict[str, list[dict[str, Any]]] = {}
    published = (
        Article.objects.filter(status=ArticleStatus.PUBLISHED)
        .prefetch_related("intents").order_by("title", "pk")
    )
    docs: dict[int, ArticleDoc] = {}
    for article in published:
        slugs = tuple(intent.slug for intent in article.intents.all())
        docs[article.pk] = ArticleDoc(id=article.pk, title=article.title, body=article.body,
                                      intents=slugs)
        for slug in slugs:
            articles.setdefault(slug, []).append({"id": article.pk, "title": article.title})
    return Cast(
        articles=articles,
        article_docs=docs,
        index=ArticleIndex.build(list(docs.values())) if docs else None,
        connectors=tuple(sorted(connector_specs(), key=lambda spec: (spec.name, spec.id))),
        required_details=required_details,
        orders=demo_api.demo_orders(),
        widgets=widgets,
        agents=agents,
        intents=intents,
        now=now or timezone.now(),
        fallback_intent=settings.BOT_FALLBACK_INTENT,
        inactivity=timedelta(minutes=settings.CHAT_INACTIVITY_RESOLVE_MINUTES),
    )


def start_times(rng: random.Random, *, n: int, days: int, now: datetime) -> list[datetime]:
    """``n`` moments in the last ``days`` days, busier in business hours, oldest first."""
    first = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    hours = int((now - first) / timedelta(hours=1))
    weights = [HOUR_WEIGHTS[(first + timedelta(hours=h)).hour] for h in range(hours + 1)]
    picked = rng.choices(range(hours + 1), weights=weights, k=n)
    moments = []
    for h in picked:
        moment = first + timedelta(hours=h, seconds=rng.uniform(0, 3600))
        moments.append(min(moment, now - timedelta(seconds=rng.uniform(1, 600))))
    return sorted(moments)


# --- The writers' interface ------------------------------------------------------------------


class Writer:
    """What the script may do; each method dates the change with ``at``."""

    def start(self, *, widget: Widget, at: datetime, identity: Identity | None = None) -> Any: ...
    def customer(self, h: Any, *, text: str, at: datetime) -> None: ...
    def bot(self, h: Any, *, text: str, planned: TurnResult, at: datetime) -> TurnResult | None: ...
    def agent_reply(self, h: Any, *, agent: Any, text: str, at: datetime) -> None: ...
    def return_to_bot(self, h: Any, *, agent: Any, at: datetime) -> None: ...
    def resolve(self, h: Any, *, how: str, agent: Any = None, at: datetime) -> None: ...
    def rate(self, h: Any, *, score: int, at: datetime) -> None: ...
    def abandon(self, h: Any, *, at: datetime) -> None: ...
    def finish(self, h: Any) -> None: ...


def _result(
    *,
    decision: str,
    text: str,
    intent: str,
    confidence: float,
    is_fallback: bool = False,
    category: str = "",
    sentiment: str = "neutral",
    latency_ms: float = 0.0,
    articles: list[dict[str, Any]] | None = None,
    reply_text: str = "",
    trace: dict[str, Any] | None = None,
) -> TurnResult:
    reasons = {
        "policy": "This intent always goes to a person.",
        "fallbacks": "The bot did not understand twice in a row.",
        "human_request": "The customer asked for a person.",
        "anger": "The customer is angry.",
    }
    handoff = decision == "handoff"
    return TurnResult(
        decision=decision,
        reply_text=reply_text or (
            "I'm connecting you with a member of our team."
            if handoff
            else "I'm not sure I understood; could you rephrase?"
            if is_fallback
            else f"Here is what our article \"{articles[0]['title']}\" says."
            if articles
            else f"Here is what I found about {intent.replace('_', ' ')}."
        ),
        intent=intent,
        confidence=round(confidence, 3),
        top_intents=[(intent, round(confidence, 3))],
        is_fallback=is_fallback,
        entities={},
        sentiment=sentiment,
        urgency="medium" if handoff else "low",
        signals=[],
        articles=list(articles or []),
        handoff_reason=reasons.get(category, "Escalated to a person.") if handoff else "",
        handoff_category=category if handoff else "",
        dialog_state={},
        backend="offline",
        trace={"generated": True, **(trace or {})},
        total_ms=round(latency_ms * 0.4, 1),
    )


# --- The script ------------------------------------------------------------------------------


def play_conversation(writer: Writer, cast: Cast, rng: random.Random, start: datetime) -> None:
    """One customer's conversation, from the widget opening to how it ended (or now)."""
    now = cast.now
    intent = rng.choices(cast.intents, weights=[i.weight for i in cast.intents])[0]
    widget = rng.choice(cast.widgets)
    looking_up = _lookup_plan(cast, rng, intent)
    h = writer.start(widget=widget, at=start,
                     identity=looking_up.identity if looking_up else None)
    t = start + timedelta(seconds=rng.uniform(3, 40))
    turns = rng.choices(range(1, len(TURN_WEIGHTS) + 1), weights=TURN_WEIGHTS)[0]
    fallbacks = 0
    last_bot: datetime | None = None
    try:
        for turn in range(turns):
            if t >= now:
                return
            step = looking_up.next_step(rng) if looking_up is not None else None
            if step is not None:
                planned, text = _lookup_turn(cast, rng, intent, looking_up, step, turn)
            else:
                planned, text = _plan_turn(cast, rng, intent, turn, fallbacks)
            writer.customer(h, text=text, at=t)
            # A turn that called the company's API waited for it.
            latency = _bot_latency_ms(rng) + sum(ms for _, ms in connector_calls(planned.trace))
            at = t + timedelta(milliseconds=latency)
            if at >= now:
                return
            planned.total_ms = round(latency * 0.4, 1)
            result = writer.bot(h, text=text, planned=planned, at=at)
            if result is None:
                return
            if result.decision == "handoff":
                _agent_path(writer, cast, rng, h, at, first_text=text)
                return
            fallbacks = fallbacks + 1 if result.is_fallback else 0
            last_bot = at
            t = at + timedelta(seconds=rng.uniform(15, 150))
        _bot_ending(writer, cast, rng, h, last_bot or t, intent)
    finally:
        writer.finish(h)


def _plan_turn(
    cast: Cast, rng: random.Random, intent: IntentSpec, turn: int, fallbacks: int
) -> tuple[TurnResult, str]:
    confidence = rng.uniform(0.55, 0.98)
    if turn == 0 and intent.policy == "always":
        category = "policy"
        return (
            _result(
                decision="handoff",
                text="",
                intent=intent.slug,
                confidence=confidence,
                category=category,
                sentiment="negative",
            ),
            rng.choice(intent.phrases),
        )
    roll = rng.random()
    if roll < 0.06:
        category = rng.choices(
            [c for c, _ in HANDOFF_CATEGORIES], weights=[w for _, w in HANDOFF_CATEGORIES]
        )[0]
        text = (
            rng.choice(HUMAN_REQUEST_TEXTS)
            if category == "human_request"
            else rng.choice(ANGRY_TEXTS)
            if category == "anger"
            else rng.choice(intent.phrases)
        )
        sentiment = "angry" if category == "anger" else "negative"
        return (
            _result(
                decision="handoff",
                text="",
                intent=intent.slug,
                confidence=confidence,
                category=category,
                sentiment=sentiment,
            ),
            text,
        )
    if roll < 0.16:
        text = rng.choice(FALLBACK_TEXTS)
        low = rng.uniform(0.05, 0.29)
        if fallbacks + 1 >= settings.BOT_MAX_FALLBACKS:
            return (
                _result(
                    decision="handoff",
                    text="",
                    intent=cast.fallback_intent,
                    confidence=low,
                    is_fallback=True,
                    category="fallbacks",
                ),
                text,
            )
        return (
            _result(
                decision="reply",
                text="",
                intent=cast.fallback_intent,
                confidence=low,
                is_fallback=True,
            ),
            text,
        )
    text = rng.choice(intent.phrases) if turn == 0 else rng.choice((*FOLLOW_UPS, *intent.phrases))
    # Classified as the fallback intent counts as a fallback too (the reporting contract).
    is_fallback = intent.slug == cast.fallback_intent
    articles = cast.quote(intent.slug, turn, text)
    return (
        _result(
            decision="reply",
            text="",
            intent=intent.slug,
            confidence=confidence,
            is_fallback=is_fallback,
            articles=articles,
            reply_text=cast.answer(text, articles, intent=intent.slug),
        ),
        text,
    )


# --- Order lookups -------------------------------------------------------------------------


@dataclass
class _Lookup:
    """How a conversation about an intent with a data connector looks something up.

    ``connector`` is the one the bot would choose (``lookup.choose``). A signed-in customer
    (``identity``) asking for their orders gets a verified-only connector's answer at once;
    anyone else is asked for the details in reply to their first message and gives them in
    the next. ``step`` is what the customer's next message does: ``"own_orders"``,
    ``"ask"``, ``"details"``, ``"missed"`` (may send corrected details), ``"offered"`` (may
    take the person offered after a failed lookup), ``"over"``."""

    connector: ConnectorSpec
    order: dict[str, Any]
    identity: Identity | None = None
    step: str = "ask"
    misses: int = 0

    def next_step(self, rng: random.Random) -> str | None:
        """What the next customer message does for the lookup (``"details"``, ``"person"``...),
        or None when it is about something else."""
        if self.step == "missed":
            self.step = "details" if rng.random() < RETRY_AFTER_MISS else "over"
        elif self.step == "offered":
            self.step = "person" if rng.random() < ACCEPT_PERSON else "over"
        return None if self.step == "over" else self.step


def _lookup_plan(cast: Cast, rng: random.Random, intent: IntentSpec) -> _Lookup | None:
    """The lookup of a conversation about ``intent``, when one of ``cast.connectors`` answers
    it (an intent that always goes to a person never gets there). No draw otherwise, so a
    desk without connectors gets the traffic it always got."""
    if intent.policy == "always" or not cast.orders or not any(
        intent.slug in spec.intents for spec in cast.connectors
    ):
        return None
    order = rng.choice(cast.orders)
    signed_in = rng.random() < SIGNED_IN_SHARE
    choice = lookup.choose(cast.connectors, intent=intent.slug, verified=signed_in,
                           order_number=False, own_orders=signed_in)
    if choice.connector is None:
        return None
    if choice.connector.verified_only:
        identity = Identity(user_id=order["customer_id"], email=order["email"],
                            name=order["name"])
        return _Lookup(connector=choice.connector, order=order, identity=identity,
                       step="own_orders")
    return _Lookup(connector=choice.connector, order=order)


def _lookup_turn(
    cast: Cast, rng: random.Random, intent: IntentSpec, plan: _Lookup, step: str, turn: int
) -> tuple[TurnResult, str]:
    """A customer message of the lookup (``step``) and the bot's turn: the question for the
    details, a call with its reply (the connector's, its fallback text, or the intent's
    article with a person on offer when the call failed), or the handoff to that person."""
    confidence = rng.uniform(0.55, 0.98)
    spec = plan.connector
    if step == "person":
        plan.step = "over"
        return (_result(decision="handoff", text="", intent=intent.slug, confidence=confidence,
                        category="human_request"), rng.choice(ACCEPT_PERSON_TEXTS))
    if step == "ask":
        plan.step = "details"
        details = lookup.required_details(spec, cast.required_details.get(intent.slug, []))
        detail = details[0] if details else {"name": "order_number",
                                             "question": lookup.QUESTIONS["order_number"]}
        return (_result(decision="reply", text="", intent=intent.slug, confidence=confidence,
                        reply_text=detail["question"],
                        trace={"response": {"source": "question", "detail": detail["name"]}}),
                rng.choice(intent.phrases))
    if step == "own_orders":
        text = rng.choice(OWN_ORDERS_TEXTS)
        values = {"customer_id": plan.order["customer_id"]}
        kind = _draw(rng, OWN_ORDERS_CALL_WEIGHTS)
    else:
        kind = _draw(rng, CALL_WEIGHTS)
        number, email = plan.order["number"], plan.order["email"]
        if kind == "wrong_email":
            email = email.replace("@", f"{rng.randint(1, 9)}@", 1)
        elif kind == "no_such_order":
            known = {order["number"] for order in cast.orders}
            number = str(int(number) + 100)
            while number in known:
                number = str(int(number) + 100)
        text = rng.choice(DETAILS_TEXTS).format(number=number, email=email)
        values = {"order_number": number, "email": email}
    outcome = _call(spec, values, kind=kind, ms=_call_ms(rng, kind, spec))
    called = outcome.to_trace()
    # As the pipeline traces a lookup (``chat.bot.pipeline._look_up``).
    trace: dict[str, Any] = {"connector": {**called, "not_found": outcome.not_found},
                             "connector_calls": [called], "quality": {"ok": True}}
    articles: list[dict[str, Any]] = []
    if outcome.ok:
        plan.step = "over"
        trace["response"] = {"source": "connector", "connector": spec.name}
        reply = outcome.reply
    elif outcome.not_found and spec.fallback_text:
        plan.misses += 1
        plan.step = "missed" if plan.misses < lookup.MAX_LOOKUP_MISSES - 1 else "over"
        trace["response"] = {"source": "connector", "connector": spec.name, "fallback": True}
        reply = spec.fallback_text
    else:  # the intent's article, with a person on offer
        plan.step = "offered"
        articles = cast.quote(intent.slug, turn, text)
        trace["response"] = {"source": "offline",
                             "article": articles[0]["id"] if articles else None}
        trace["errors"] = [f"connector {spec.name}: {outcome.reason}"[:300]]
        answer = cast.answer(text, articles, intent=intent.slug) or (
            f"Here is what I found about {intent.slug.replace('_', ' ')}.")
        reply = f"{lookup.FAILURE_NOTICE} {answer}\n\n{lookup.PERSON_OFFER}"
    return (_result(decision="reply", text="", intent=intent.slug, confidence=confidence,
                    articles=articles, reply_text=reply, trace=trace), text)


def _draw(rng: random.Random, weights: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in weights], weights=[w for _, w in weights])[0]


def _call_ms(rng: random.Random, kind: str, spec: ConnectorSpec) -> float:
    """How long a call of ``kind`` takes: a company API answers in a tenth to half a second
    (a 404 a little sooner), a 5xx about as fast, a refused connection at once, and a timeout
    after the connector's timeout."""
    timeout_ms = spec.timeout_seconds * 1000
    if kind == "timeout":
        return round(timeout_ms + rng.uniform(2, 40), 2)
    if kind == "connect_error":
        return round(rng.uniform(2, 30), 2)
    median = 110 if kind in ("wrong_email", "no_such_order") else 170
    return round(min(timeout_ms * 0.95, rng.lognormvariate(math.log(median), 0.55)), 2)


def _call(spec: ConnectorSpec, values: dict[str, str], *, kind: str, ms: float) -> CallOutcome:
    """The call ``knowledge.connectors.connector_call`` makes of ``spec``, over a transport that
    answers as the company's API does for ``kind``: the demo orders API's answer for the
    values (``demo_api``), or a failure; ``ms`` is the duration it records."""

    def company_api(request: httpx2.Request) -> httpx2.Response:
        if kind == "timeout":
            raise httpx2.ReadTimeout("timed out", request=request)
        if kind == "connect_error":
            raise httpx2.ConnectError("[Errno 111] Connection refused", request=request)
        if kind.startswith("http_"):
            return httpx2.Response(int(kind.removeprefix("http_")), json={"error": "unavailable"})
        if "customer_id" in spec.needs:
            answer = demo_api.recent_orders(values.get("customer_id", ""))
        else:
            answer = demo_api.order_found(values.get("order_number", ""), values.get("email", ""))
        if answer is None:
            return httpx2.Response(404, json={"error": "not_found"})
        return httpx2.Response(200, json=answer)

    outcome = connector_call(spec, values, transport=httpx2.MockTransport(company_api))
    outcome.ms = ms
    return outcome


def _bot_latency_ms(rng: random.Random) -> float:
    # Mostly the offline pipeline (tens to hundreds of ms), some slow outliers.
    return min(15000.0, rng.lognormvariate(math.log(450), 0.6))


def _bot_ending(
    writer: Writer, cast: Cast, rng: random.Random, h: Any, last: datetime, intent: IntentSpec
) -> None:
    now = cast.now
    roll = rng.random()
    if roll < 0.55:
        at = last + timedelta(seconds=rng.uniform(10, 90))
        how = Resolution.BOT_CONFIRMED
    elif roll < 0.85:
        at = last + cast.inactivity
        how = Resolution.BOT_ASSUMED
    elif roll < 0.95:
        at = last + cast.inactivity
        if at < now:
            writer.abandon(h, at=at)
        return
    else:
        return  # still talking, or left open
    if at >= now:
        return
    writer.resolve(h, how=how, at=at)
    if rng.random() < 0.04:  # the customer comes back: reopened
        back = at + timedelta(minutes=rng.uniform(5, 600))
        if back >= now:
            return
        text = rng.choice(intent.phrases)
        writer.customer(h, text=text, at=back)
        reply_at = back + timedelta(milliseconds=_bot_latency_ms(rng))
        if reply_at >= now:
            return
        articles = cast.quote(intent.slug, 0, text)
        planned = _result(
            decision="reply",
            text="",
            intent=intent.slug,
            confidence=0.8,
            is_fallback=intent.slug == cast.fallback_intent,
            articles=articles,
            reply_text=cast.answer(text, articles, intent=intent.slug),
        )
        result = writer.bot(h, text="", planned=planned, at=reply_at)
        if result is None or result.decision == "handoff":
            return
        if rng.random() < 0.6 and reply_at + cast.inactivity < now:
            writer.resolve(h, how=Resolution.BOT_ASSUMED, at=reply_at + cast.inactivity)
        return
    if rng.random() < 0.35:
        score = rng.choices((5, 4, 3, 2, 1), weights=(50, 28, 10, 6, 6))[0]
        rate_at = at + timedelta(seconds=rng.uniform(5, 60))
        if rate_at < now:
            writer.rate(h, score=score, at=rate_at)


def _agent_path(
    writer: Writer, cast: Cast, rng: random.Random, h: Any, handed_off: datetime, first_text: str
) -> None:
    now = cast.now
    if rng.random() < 0.12:  # nobody came
        at = handed_off + cast.inactivity
        if at < now:
            writer.abandon(h, at=at)
        return
    wait = min(7200.0, rng.lognormvariate(math.log(100), 1.0))
    at = handed_off + timedelta(seconds=wait)
    if at >= now:
        return
    agent = rng.choice(cast.agents)
    writer.agent_reply(h, agent=agent, text=AGENT_TEXTS[0], at=at)
    for reply in range(1, 1 + rng.choice((0, 1, 1, 2))):
        at += timedelta(seconds=rng.uniform(20, 180))
        if at >= now:
            return
        writer.customer(h, text=rng.choice(FOLLOW_UPS), at=at)
        at += timedelta(seconds=rng.uniform(15, 240))
        if at >= now:
            return
        writer.agent_reply(h, agent=agent, text=AGENT_TEXTS[reply], at=at)
    at += timedelta(seconds=rng.uniform(30, 600))
    if at >= now:
        return
    if rng.random() < 0.1:  # handed back to the bot, which finishes
        writer.return_to_bot(h, agent=agent, at=at)
        end = at + cast.inactivity
        if end < now:
            writer.resolve(h, how=Resolution.BOT_ASSUMED, at=end)
        return
    writer.resolve(h, how=Resolution.AGENT, agent=agent, at=at)
    if rng.random() < 0.45:
        score = rng.choices((5, 4, 3, 2, 1), weights=(35, 25, 15, 12, 13))[0]
        rate_at = at + timedelta(seconds=rng.uniform(5, 60))
        if rate_at < now:
            writer.rate(h, score=score, at=rate_at)


# --- Writer 1: the real services -------------------------------------------------------------


@dataclass
class _ServiceHandle:
    conversation: Conversation
    last_customer: Message | None = None
    history: list[tuple[str, str]] = field(default_factory=list)
    last_at: datetime | None = None  # the conversation's last moment written so far


class ServiceWriter(Writer):
    """Carries the script out through ``chat.services`` (and the real pipeline if asked)."""

    def __init__(self, *, pipeline: bool = False) -> None:
        from chat import services

        self.services = services
        self.pipeline = pipeline

    def start(
        self, *, widget: Widget, at: datetime, identity: Identity | None = None
    ) -> _ServiceHandle:
        conversation, _token = self.services.conversation_start(
            widget=widget, at=at, identity=identity
        )
        # The customer is on the page while they chat, as the widget's socket records it (so
        # that no agent reply of this history is owed by e-mail: none is ever sent to the
        # cast's addresses); they leave at the conversation's last moment (``finish``).
        self.services.customer_socket_joined(conversation=conversation, at=at)
        return _ServiceHandle(conversation=conversation, last_at=at)

    def customer(self, h: _ServiceHandle, *, text: str, at: datetime) -> None:
        h.last_at = max(h.last_at or at, at)
        message, _ = self.services.message_create_incoming(
            conversation=h.conversation,
            text=text,
            client_id=uuid.uuid4(),
            at=at,
            queue_bot=False,
        )
        h.last_customer = message
        h.history.append((Author.CUSTOMER, text))

    def bot(
        self, h: _ServiceHandle, *, text: str, planned: TurnResult, at: datetime
    ) -> TurnResult | None:
        result = planned
        h.last_at = max(h.last_at or at, at)
        if self.pipeline:
            from chat.bot import answer_turn
            from chat.bot.types import TurnContext

            h.conversation.refresh_from_db(fields=["dialog_state"])
            context = TurnContext(
                history=h.history[-11:-1],
                dialog_state=dict(h.conversation.dialog_state or {}),
                customer_texts=[t for a, t in h.history[:-1] if a == Author.CUSTOMER],
                now=h.last_customer.created_at,
            )
            result = answer_turn(text=h.last_customer.text, context=context)
        reply = self.services.bot_turn_record(message=h.last_customer, result=result, at=at)
        if reply is None:
            return None
        h.history.append((reply.author, reply.text))
        return result

    def agent_reply(self, h: _ServiceHandle, *, agent: Any, text: str, at: datetime) -> None:
        h.last_at = max(h.last_at or at, at)
        self.services.agent_message_create(
            conversation=h.conversation, agent=agent, text=text, at=at
        )
        h.history.append((Author.AGENT, text))

    def return_to_bot(self, h: _ServiceHandle, *, agent: Any, at: datetime) -> None:
        h.last_at = max(h.last_at or at, at)
        self.services.conversation_return_to_bot(conversation=h.conversation, agent=agent, at=at)

    def resolve(self, h: _ServiceHandle, *, how: str, agent: Any = None, at: datetime) -> None:
        h.last_at = max(h.last_at or at, at)
        self.services.conversation_resolve(
            conversation=h.conversation, resolution=how, agent=agent, at=at
        )

    def rate(self, h: _ServiceHandle, *, score: int, at: datetime) -> None:
        h.last_at = max(h.last_at or at, at)
        self.services.conversation_rate(conversation=h.conversation, score=score, at=at)

    def abandon(self, h: _ServiceHandle, *, at: datetime) -> None:
        h.last_at = max(h.last_at or at, at)
        self.services.conversation_abandon(conversation=h.conversation, at=at)

    def finish(self, h: _ServiceHandle) -> None:
        self.services.customer_socket_left(conversation=h.conversation, at=h.last_at)


# --- Writer 2: bulk rows, mirroring what each service writes ---------------------------------


class _Ids:
    """Primary keys handed out in Python so that related rows can be built before insertion."""

    def __init__(self, model: type) -> None:
        from django.db.models import Max

        self.next = (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1

    def take(self) -> int:
        value = self.next
        self.next += 1
        return value


@dataclass
class _BulkHandle:
    conversation: Conversation
    last_customer: Message | None = None
    # Whether an agent has written since the latest handoff (the first one is timed).
    answered_since_handoff: bool = False


class BulkWriter(Writer):
    """Builds the services' rows in memory and inserts them in batches (``flush``)."""

    # In the order they are inserted (a conversation refers to its contact).
    MODELS = (Contact, Conversation, Message, BotTrace, ReportingEvent)

    def __init__(self, *, batch: int = 2000) -> None:
        self.batch = batch
        self.ids = {m: _Ids(m) for m in self.MODELS}
        self.rows: dict[type, list[Any]] = {m: [] for m in self.ids}
        self.done = 0
        # (widget id, the host page's user id) -> the verified contact's id.
        self.contacts: dict[tuple[int, str], int] = {}

    # Rows ------------------------------------------------------------------------------

    def _event(self, h: _BulkHandle, name: str, at: datetime, **fields: Any) -> None:
        conv = h.conversation
        self.rows[ReportingEvent].append(
            ReportingEvent(
                pk=self.ids[ReportingEvent].take(),
                name=name,
                occurred_at=at,
                conversation_id=conv.pk,
                conversation_started_at=conv.created_at,
                widget_id=conv.widget_id,
                intent=fields.get("intent", ""),
                category=fields.get("category", ""),
                backend=fields.get("backend", ""),
                value=fields.get("value"),
                agent_id=getattr(fields.get("agent"), "pk", None),
            )
        )

    def _message(self, h: _BulkHandle, author: str, text: str, at: datetime, **extra: Any):
        conv = h.conversation
        conv.last_seq += 1
        conv.updated_at = at
        message = Message(
            pk=self.ids[Message].take(),
            conversation_id=conv.pk,
            seq=conv.last_seq,
            author=author,
            text=text,
            created_at=at,
            **extra,
        )
        self.rows[Message].append(message)
        return message

    # The services, as rows -------------------------------------------------------------

    def _verified_contact(self, widget: Widget, identity: Identity, at: datetime) -> int:
        """The widget's verified contact for the identity, made on first sight (as
        ``contact_verified_upsert``; the identities given here are valid and never change)."""
        key = (widget.pk, identity.user_id)
        if key not in self.contacts:
            stored = Contact.objects.filter(
                widget=widget, external_id=identity.user_id, is_verified=True
            ).values_list("pk", flat=True).first()
            if stored is None:
                stored = self.ids[Contact].take()
                self.rows[Contact].append(Contact(
                    pk=stored, widget_id=widget.pk, external_id=identity.user_id,
                    is_verified=True, email=identity.email, name=identity.name, created_at=at,
                ))
            self.contacts[key] = stored
        return self.contacts[key]

    def start(
        self, *, widget: Widget, at: datetime, identity: Identity | None = None
    ) -> _BulkHandle:
        conv = Conversation(
            pk=self.ids[Conversation].take(),
            widget_id=widget.pk,
            token_hash=secrets.token_hex(32),  # no customer holds a token for these
            created_at=at,
            updated_at=at,
        )
        if identity is not None:
            conv.contact_id = self._verified_contact(widget, identity, at)
            conv.verified_user_id = identity.user_id
        h = _BulkHandle(conversation=conv)
        self._event(h, EventName.CONVERSATION_STARTED, at)
        return h

    def customer(self, h: _BulkHandle, *, text: str, at: datetime) -> None:
        conv = h.conversation
        h.last_customer = self._message(h, Author.CUSTOMER, text, at, client_id=uuid.uuid4())
        conv.last_customer_message_at = at
        if conv.status in (ConversationStatus.RESOLVED, ConversationStatus.ABANDONED):
            if conv.status == ConversationStatus.RESOLVED:
                self._event(h, EventName.REOPENED, at, category=conv.resolution)
            conv.status = ConversationStatus.BOT
            conv.resolution = Resolution.NONE
            conv.resolved_at = None

    def bot(
        self, h: _BulkHandle, *, text: str, planned: TurnResult, at: datetime
    ) -> TurnResult | None:
        conv, inbound, result = h.conversation, h.last_customer, planned
        if conv.status != ConversationStatus.BOT or inbound is None:
            return None
        handoff = result.decision == "handoff"
        conv.dialog_state = result.dialog_state or {}
        if result.intent:
            conv.intent = result.intent
        if result.sentiment:
            conv.sentiment = result.sentiment
        if handoff:
            conv.status = ConversationStatus.WAITING
            conv.handoff_reason = result.handoff_reason[:200]
            conv.handoff_category = (result.handoff_category or "other")[:32]
            conv.handed_off_at = at
            h.answered_since_handoff = False
        else:
            conv.last_bot_reply_at = at
        # As ``bot_turn_record`` keeps the articles a reply quoted, or the connector whose
        # data it answered from.
        articles = [
            {"id": a.get("id"), "title": a.get("title", "")}
            for a in (result.articles or []) if isinstance(a, dict)
        ]
        if not handoff and not articles and (looked_up := connector_answer(result.trace)):
            articles.append(looked_up)
        self._message(
            h, Author.SYSTEM if handoff else Author.BOT, result.reply_text, at,
            in_reply_to=inbound, articles=articles,
        )
        self.rows[BotTrace].append(
            BotTrace(
                pk=self.ids[BotTrace].take(),
                message_id=inbound.pk,
                conversation_id=conv.pk,
                intent=result.intent,
                confidence=float(result.confidence),
                backend=result.backend,
                decision=result.decision,
                handoff_reason=result.handoff_reason[:200],
                stages=result.to_dict(),
                total_ms=float(result.total_ms),
                created_at=at,
            )
        )
        if result.is_fallback:
            self._event(
                h,
                EventName.FALLBACK,
                at,
                intent=result.intent,
                backend=result.backend,
                value=float(result.confidence),
            )
        if handoff:
            self._event(
                h,
                EventName.HANDOFF,
                at,
                intent=result.intent,
                category=conv.handoff_category,
                backend=result.backend,
            )
        else:
            latency = max(0.0, (at - inbound.created_at).total_seconds() * 1000)
            self._event(
                h,
                EventName.BOT_REPLIED,
                at,
                intent=result.intent,
                category=connector_category(result.trace),
                backend=result.backend,
                value=latency,
            )
        for category, ms in connector_calls(result.trace):
            self._event(h, EventName.CONNECTOR_CALLED, at, intent=result.intent,
                        category=category, backend=result.backend, value=ms)
        return result

    def _claim(self, h: _BulkHandle, agent: Any, at: datetime) -> None:
        conv = h.conversation
        if conv.status == ConversationStatus.AGENT and conv.assignee_id == agent.pk:
            return
        if conv.handed_off_at is None or conv.status == ConversationStatus.BOT:
            conv.handed_off_at = at
        conv.status = ConversationStatus.AGENT
        conv.assignee_id = agent.pk
        name = agent_public_name(agent)
        self._message(h, Author.SYSTEM, f"{name} joined the conversation.", at)

    def agent_reply(self, h: _BulkHandle, *, agent: Any, text: str, at: datetime) -> None:
        conv = h.conversation
        self._claim(h, agent, at)
        self._message(h, Author.AGENT, text, at, sender_id=agent.pk)
        if not h.answered_since_handoff:
            h.answered_since_handoff = True
            self._event(
                h,
                EventName.FIRST_AGENT_REPLY,
                at,
                intent=conv.intent,
                agent=agent,
                value=max(0.0, (at - conv.handed_off_at).total_seconds()),
            )
        self._event(h, EventName.AGENT_REPLIED, at, agent=agent)

    def return_to_bot(self, h: _BulkHandle, *, agent: Any, at: datetime) -> None:
        conv = h.conversation
        conv.status = ConversationStatus.BOT
        conv.assignee_id = None
        conv.dialog_state = {}
        name = agent_public_name(agent)
        self._message(h, Author.SYSTEM, f"{name} handed you back to the assistant.", at)

    def resolve(self, h: _BulkHandle, *, how: str, agent: Any = None, at: datetime) -> None:
        conv = h.conversation
        if conv.status == ConversationStatus.RESOLVED:
            return
        conv.status = ConversationStatus.RESOLVED
        conv.resolution = how
        conv.resolved_at = at
        conv.updated_at = at
        self._event(
            h,
            EventName.RESOLVED,
            at,
            intent=conv.intent,
            category=how,
            value=max(0.0, (at - conv.created_at).total_seconds()),
            agent=agent if how == Resolution.AGENT else None,
        )

    def rate(self, h: _BulkHandle, *, score: int, at: datetime) -> None:
        h.conversation.rating = score
        h.conversation.updated_at = at
        self._event(h, EventName.RATING_GIVEN, at, value=score)

    def abandon(self, h: _BulkHandle, *, at: datetime) -> None:
        conv = h.conversation
        previous = conv.status
        conv.status = ConversationStatus.ABANDONED
        conv.updated_at = at
        self._event(h, EventName.ABANDONED, at, category=previous)

    def finish(self, h: _BulkHandle) -> None:
        self.rows[Conversation].append(h.conversation)
        self.done += 1
        if self.done % self.batch == 0:
            self.flush()

    def flush(self) -> None:
        with transaction.atomic():
            for model in self.MODELS:
                if self.rows[model]:
                    model.objects.bulk_create(self.rows[model], batch_size=2000)
                    self.rows[model] = []

    def close(self) -> None:
        self.flush()
        # Explicit ids leave PostgreSQL's sequences behind; move them past the new rows.
        sql = connection.ops.sequence_reset_sql(no_style(), list(self.ids))
        if sql:
            with connection.cursor() as cursor:
                for statement in sql:
                    cursor.execute(statement)


# --- Running ---------------------------------------------------------------------------------


def traffic_generate(
    *,
    conversations: int,
    days: int,
    seed: int = 42,
    bulk: bool = False,
    pipeline: bool = False,
    now: datetime | None = None,
    progress: Callable[[Iterable[datetime]], Iterable[datetime]] | None = None,
) -> int:
    """Generates ``conversations`` conversations over the last ``days`` days; returns how many.

    The service path commits one conversation at a time (as production would); the bulk path
    inserts in batches. Deterministic for a seed and ``now``.
    """
    if conversations < 0 or days < 1:
        raise ValueError("conversations must be >= 0 and days >= 1")
    if pipeline and bulk:
        raise ValueError("the real pipeline runs only on the service path")
    rng = random.Random(seed)
    cast = cast_load(now=now)
    starts = start_times(rng, n=conversations, days=days, now=cast.now)
    iterator: Iterable[datetime] = progress(starts) if progress else starts
    if bulk:
        writer = BulkWriter()
        for start in iterator:
            play_conversation(writer, cast, rng, start)
        writer.close()
        # Rows with ids handed out here may sit below the rollup's marks: rebuild it.
        rollup_refresh(full=True)
    else:
        writer = ServiceWriter(pipeline=pipeline)
        for start in iterator:
            with transaction.atomic():
                play_conversation(writer, cast, rng, start)
    return conversations
