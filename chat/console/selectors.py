"""Reads for the agent console: the queue, one conversation's transcript, presence, articles.

Each selector fetches what its page shows in a fixed number of queries, whatever the number
of rows (the tests assert the counts).
"""

from __future__ import annotations

import dataclasses
import functools
import html
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.safestring import mark_safe
from ua_parser import parse as ua_parse

from chat import realtime
from chat.bot.claude import ClaudeError, claude_enabled, summarize_handoff
from chat.bot.responder import best_passages
from chat.bot.retrieval import INTENT_BOOST, MIN_SCORE
from chat.bot.taxonomy import taxonomy_snapshot
from chat.models import (
    AgentPresence,
    AgentProfile,
    Author,
    BotTrace,
    CannedResponse,
    Conversation,
    ConversationStatus,
    Label,
    Message,
    Note,
    OwedAnswer,
    PresenceStatus,
)
from chat.names import agent_public_name
from chat.selectors import agents_online_count, presence_fresh_since
from knowledge.markdown import render_markdown
from knowledge.selectors import articles_published_with_words, intent_wording

__all__ = [
    "agents_online_count",  # the customer side's question "is anybody there?", in chat.selectors
    "article_plain_text",
    "article_search",
    "conversation_for_agent",
    "presence_for_agent",
    "queue_for_agent",
    "transcript_for_agent",
]

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 200
ARTICLE_RESULTS = 8


def waiting_label(seconds: int) -> str:
    """How long a customer has waited, as an agent scanning the queue reads it."""
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours // 24} days"


def queue_for_agent(*, agent: Any) -> list[Conversation]:
    """Conversations waiting for a person, then the agent's own; and those the bot has owed an
    answer for over ``CHAT_OWED_ANSWER_QUEUE_AFTER_SECONDS`` (the bot may be down).

    Each carries ``waiting_seconds``, ``waiting_label``, ``is_mine`` and ``bot_late`` (the
    bot's conversation, in the queue because its answer is late). One query.
    """
    now = timezone.now()
    late = now - timedelta(seconds=settings.CHAT_OWED_ANSWER_QUEUE_AFTER_SECONDS)
    oldest_owed = (
        OwedAnswer.objects.filter(conversation_id=OuterRef("pk"))
        .order_by("created_at")
        .values("created_at")[:1]
    )
    rows = (
        Conversation.objects.annotate(oldest_owed_at=Subquery(oldest_owed))
        .filter(
            Q(status=ConversationStatus.WAITING)
            | Q(status=ConversationStatus.AGENT, assignee=agent)
            | Q(status=ConversationStatus.BOT, oldest_owed_at__lt=late)
        )
        .select_related("assignee", "widget")
        .order_by("status", "handed_off_at", "oldest_owed_at", "created_at")[:QUEUE_LIMIT]
    )
    conversations = list(rows)
    for conversation in conversations:
        conversation.bot_late = conversation.status == ConversationStatus.BOT
        if conversation.bot_late:
            since = conversation.oldest_owed_at
        else:
            since = conversation.handed_off_at or conversation.created_at
        conversation.waiting_seconds = max(0, int((now - since).total_seconds()))
        conversation.waiting_label = waiting_label(conversation.waiting_seconds)
        conversation.is_mine = conversation.assignee_id == agent.pk
    return conversations


def conversation_for_agent(*, pk: int) -> Conversation | None:
    return (
        Conversation.objects.select_related("assignee", "widget", "contact")
        .filter(pk=pk)
        .first()
    )


@dataclass(frozen=True)
class TraceView:
    """What the console shows of one bot turn's trace."""

    intent: str
    confidence: float
    decision: str
    backend: str
    handoff_reason: str
    entities: list[dict[str, str]]
    total_ms: float
    # The data connector call of the turn, as its trace keeps it (``CallOutcome.to_trace``:
    # connector, method, URL with secrets masked, status, ms, ok, reason, fields), or None.
    connector: dict[str, Any] | None = None


def _connector_call(stages: Any) -> dict[str, Any] | None:
    trace = stages.get("trace") if isinstance(stages, dict) else None
    call = trace.get("connector") if isinstance(trace, dict) else None
    return call if isinstance(call, dict) and call.get("connector") else None


def _entity_text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("text") or value.get("value") or value.get("date") or value)
    return str(value)


def _entities(stages: Any) -> list[dict[str, str]]:
    """Entities as ``[{"kind", "value"}]`` from the stored turn (``TurnResult.to_dict()``).

    The pipeline keeps a first value beside the list of all (``order_number`` and
    ``order_numbers``); the list is shown, under the singular name.
    """
    found = stages.get("entities") if isinstance(stages, dict) else None
    items: list[dict[str, str]] = []
    if isinstance(found, dict):
        for kind, values in found.items():
            if not isinstance(values, list) and f"{kind}s" in found:
                continue
            label = kind[:-1] if isinstance(values, list) and kind.endswith("s") else kind
            for value in values if isinstance(values, list) else [values]:
                items.append({"kind": label, "value": _entity_text(value)})
    elif isinstance(found, list):
        items = [{"kind": "", "value": _entity_text(value)} for value in found]
    return items


def transcript_for_agent(*, conversation: Conversation) -> list[Message]:
    """Every message of the conversation in order, each with ``trace_view`` (or None) and
    ``html``: for a bot or system message (``realtime.HTML_AUTHORS``) its Markdown as the
    widget shows it, the sanitised HTML of ``realtime.message_html``; "" for customer and
    agent messages, which the page shows as escaped plain text.

    A trace hangs off the customer message it answers (or off the bot's message, depending on
    how the turn was stored); either way it is fetched in the same query.
    """
    messages = list(
        Message.objects.filter(conversation=conversation)
        .select_related("trace", "sender", "emailed_in")
        .order_by("seq")
    )
    for message in messages:
        message.html = (
            mark_safe(realtime.message_html(message.text))  # noqa: S308 -- sanitised by nh3
            if message.author in realtime.HTML_AUTHORS else ""
        )
        trace = _trace_of(message)
        message.trace_view = (
            TraceView(
                intent=trace.intent,
                confidence=trace.confidence,
                decision=trace.decision,
                backend=trace.backend,
                handoff_reason=trace.handoff_reason,
                entities=_entities(trace.stages),
                total_ms=trace.total_ms,
                connector=_connector_call(trace.stages),
            )
            if trace is not None
            else None
        )
    return messages


def _trace_of(message: Message) -> BotTrace | None:
    try:
        return message.trace
    except BotTrace.DoesNotExist:
        return None


def presence_for_agent(*, agent: Any) -> AgentPresence | None:
    return AgentPresence.objects.filter(user=agent).first()


def article_search(*, query: str) -> QuerySet:
    """Published articles (``knowledge.Article``) whose title or body contains the words of
    ``query``."""
    return articles_published_with_words(query=query, limit=ARTICLE_RESULTS)


def article_plain_text(article: Any) -> str:
    """The article body as plain text, for pasting into a reply: Markdown rendered, tags gone."""
    text = html.unescape(strip_tags(render_markdown(article.body)))
    lines = [line.strip() for line in text.splitlines()]
    paragraphs: list[str] = []
    blank = False
    for line in lines:
        if line:
            paragraphs.append(line)
            blank = False
        elif not blank and paragraphs:
            paragraphs.append("")
            blank = True
    return "\n".join(paragraphs).strip()


# --- The workspace: tabs, filters, search, sidebar, handoff summary, canned replies ---------

TABS = ("waiting", "mine", "open", "resolved")
TAB_TITLES = {"waiting": "Waiting", "mine": "Mine", "open": "All open", "resolved": "Resolved"}
LIST_LIMIT = 50
PAST_CONVERSATIONS = 10
_OPEN = (ConversationStatus.WAITING, ConversationStatus.AGENT)


@dataclass(frozen=True)
class ListFilters:
    """What the conversation list shows: a tab of ``TABS`` and optional filters.

    ``label`` and ``agent`` are ids; ``since`` and ``until`` are dates (the conversation's
    start, inclusive, in the server's time zone); ``q`` is a search (``conversation_search``).
    """

    tab: str = "waiting"
    intent: str = ""
    label: int | None = None
    agent: int | None = None
    since: date | None = None
    until: date | None = None
    q: str = ""


def ago_label(seconds: int) -> str:
    """A past moment as "just now", "4 min ago" or "2 h 05 min ago"."""
    return "just now" if seconds < 60 else f"{waiting_label(seconds)} ago"


def search_filter(q: str) -> Q:
    """Conversations whose customer or agent messages, contact name or contact e-mail match
    ``q``: PostgreSQL full-text search (``django.contrib.postgres.search``, English stemming,
    web-search syntax, the GIN index ``message_text_search_idx``), else ``icontains``."""
    contact = Q(contact__name__icontains=q) | Q(contact__email__icontains=q)
    if connection.vendor == "postgresql":
        matches = (
            Message.objects.filter(
                conversation_id=OuterRef("pk"), author__in=(Author.CUSTOMER, Author.AGENT)
            )
            .annotate(document=SearchVector("text", config="english"))
            .filter(document=SearchQuery(q, config="english", search_type="websearch"))
        )
        return Q(Exists(matches)) | contact
    matches = Message.objects.filter(
        conversation_id=OuterRef("pk"), author__in=(Author.CUSTOMER, Author.AGENT),
        text__icontains=q,
    )
    return Q(Exists(matches)) | contact


def conversation_list_for_agent(*, agent: Any, filters: ListFilters) -> list[Conversation]:
    """One tab of the console's list (at most ``LIST_LIMIT`` rows), filtered and searched.

    Waiting: handed-off conversations nobody has, and the bot's that it owes an answer for
    too long (``bot_late``); Mine: the agent's own; All open: waiting or with any agent;
    Resolved: most recently resolved first. Each row carries ``waiting_seconds`` /
    ``waiting_label`` (from the customer's oldest message not yet answered by a person, or
    None when answered), ``replied_label`` (since the last agent reply), ``is_mine``,
    ``bot_late`` and its ``labels``. Two queries (rows, labels), whatever the number of rows.
    """
    now = timezone.now()
    tab = filters.tab if filters.tab in TABS else "waiting"
    last_person = Message.objects.filter(
        conversation_id=OuterRef("pk"), author=Author.AGENT
    ).order_by("-seq")
    rows = Conversation.objects.annotate(
        last_person_seq=Coalesce(Subquery(last_person.values("seq")[:1]), Value(0)),
        last_person_at=Subquery(last_person.values("created_at")[:1]),
    ).annotate(
        unanswered_since=Subquery(
            Message.objects.filter(
                conversation_id=OuterRef("pk"),
                author=Author.CUSTOMER,
                seq__gt=OuterRef("last_person_seq"),
            )
            .order_by("seq")
            .values("created_at")[:1]
        )
    )
    if tab == "waiting":
        late = now - timedelta(seconds=settings.CHAT_OWED_ANSWER_QUEUE_AFTER_SECONDS)
        oldest_owed = (
            OwedAnswer.objects.filter(conversation_id=OuterRef("pk"))
            .order_by("created_at")
            .values("created_at")[:1]
        )
        owed_late = OwedAnswer.objects.filter(conversation_id=OuterRef("pk"), created_at__lt=late)
        # The status list first lets PostgreSQL read conversation_queue_idx for just these two
        # statuses instead of testing every conversation against the OR.
        rows = (
            rows.filter(status__in=(ConversationStatus.WAITING, ConversationStatus.BOT))
            .filter(Q(status=ConversationStatus.WAITING) | Q(Exists(owed_late)))
            .annotate(oldest_owed_at=Subquery(oldest_owed))
            .order_by("status", "handed_off_at", "oldest_owed_at", "created_at")
        )
    elif tab == "mine":
        rows = rows.filter(status=ConversationStatus.AGENT, assignee=agent).order_by(
            "handed_off_at"
        )
    elif tab == "open":
        rows = rows.filter(status__in=_OPEN).order_by("handed_off_at")
    else:
        rows = rows.filter(status=ConversationStatus.RESOLVED).order_by("-resolved_at")
    if filters.intent:
        rows = rows.filter(intent=filters.intent)
    if filters.label:
        rows = rows.filter(labels__id=filters.label)
    if filters.agent:
        rows = rows.filter(assignee_id=filters.agent)
    zone = timezone.get_current_timezone()
    if filters.since:
        rows = rows.filter(created_at__gte=datetime.combine(filters.since, time.min, zone))
    if filters.until:
        end = datetime.combine(filters.until, time.min, zone) + timedelta(days=1)
        rows = rows.filter(created_at__lt=end)
    if filters.q:
        rows = rows.filter(search_filter(filters.q))
    conversations = list(
        rows.select_related("assignee__agent_profile", "contact").prefetch_related("labels")[
            :LIST_LIMIT
        ]
    )
    for conversation in conversations:
        conversation.bot_late = conversation.status == ConversationStatus.BOT
        since = getattr(conversation, "oldest_owed_at", None) if conversation.bot_late else None
        since = since or conversation.unanswered_since
        if since is None and conversation.last_person_at is None and conversation.status in _OPEN:
            since = conversation.handed_off_at or conversation.created_at
        if conversation.status == ConversationStatus.RESOLVED:
            since = None
        conversation.waiting_seconds = (
            max(0, int((now - since).total_seconds())) if since is not None else None
        )
        conversation.waiting_label = (
            waiting_label(conversation.waiting_seconds) if since is not None else ""
        )
        conversation.replied_label = (
            ago_label(max(0, int((now - conversation.last_person_at).total_seconds())))
            if conversation.last_person_at is not None
            else ""
        )
        conversation.resolved_label = (
            ago_label(max(0, int((now - conversation.resolved_at).total_seconds())))
            if conversation.resolved_at is not None
            else ""
        )
        conversation.is_mine = (
            conversation.assignee_id == agent.pk and conversation.status == ConversationStatus.AGENT
        )
        contact = conversation.contact
        conversation.who = (contact.name or contact.email) if contact else ""
        conversation.who = conversation.who or "Visitor"
    return conversations


def tab_counts_for_agent(*, agent: Any, now: datetime | None = None) -> dict[str, int]:
    """How many conversations wait, are the agent's, are open, and were resolved today
    (since midnight in the current time zone, ``settings.TIME_ZONE``): one query.

    The Resolved tab lists history, which only grows, so its count is today's: the figure
    agents compare with their colleagues' at the end of a shift."""
    now = now or timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    resolved_today = Q(status=ConversationStatus.RESOLVED, resolved_at__gte=midnight)
    counts = Conversation.objects.filter(Q(status__in=_OPEN) | resolved_today).aggregate(
        waiting=Count("pk", filter=Q(status=ConversationStatus.WAITING)),
        mine=Count("pk", filter=Q(status=ConversationStatus.AGENT, assignee=agent)),
        open=Count("pk", filter=Q(status__in=_OPEN)),
        resolved=Count("pk", filter=resolved_today),
    )
    return counts


def tabs_for_agent(*, agent: Any) -> list[tuple[str, str, int]]:
    """The tabs as ``(key, title, count)``; Resolved counts today's (see
    ``tab_counts_for_agent``). One query."""
    counts = tab_counts_for_agent(agent=agent)
    return [(tab, TAB_TITLES[tab], counts[tab]) for tab in TABS]


def list_filter_choices() -> dict[str, Any]:
    """The filters' options: intents seen on open or recent conversations, labels, agents."""
    from django.contrib.auth import get_user_model

    from accounts.roles import AGENTS

    agents = (
        get_user_model()
        .objects.filter(groups__name=AGENTS, is_active=True)
        .select_related("agent_profile", "presence")
        .order_by("username")
    )
    return {
        "intents": list(
            Conversation.objects.exclude(intent="")
            .order_by("intent")
            .values_list("intent", flat=True)
            .distinct()[:100]
        ),
        "labels": list(Label.objects.all()),
        "agents": list(agents),
    }


def agents_for_assignment(*, exclude: Any = None) -> list[Any]:
    """Active agents to assign or transfer to: online ones first, then by name. Each has
    ``is_online``."""
    from django.contrib.auth import get_user_model

    from accounts.roles import AGENTS

    fresh = presence_fresh_since()
    agents = list(
        get_user_model()
        .objects.filter(groups__name=AGENTS, is_active=True)
        .select_related("agent_profile", "presence")
        .order_by("username")
    )
    for user in agents:
        presence = getattr(user, "presence", None)
        user.is_online = bool(
            presence is not None
            and presence.status == PresenceStatus.ONLINE
            and presence.connections > 0
            and presence.last_seen >= fresh
        )
    agents.sort(key=lambda user: (not user.is_online, user.get_username()))
    return [user for user in agents if exclude is None or user.pk != exclude.pk]


@dataclass(frozen=True)
class ContactPanel:
    """The contact sidebar of one conversation."""

    name: str
    email: str
    verified: bool  # the site signed the customer's identity (chat.identity)
    reply_email: str  # a verified customer's other address for replies; "" when none
    page_url: str
    page_title: str
    browser: str
    os: str
    language: str
    timezone: str
    first_seen: datetime
    past: list[Conversation]


@functools.lru_cache(maxsize=512)
def browser_and_os(user_agent: str) -> tuple[str, str]:
    """("Chrome 120", "Windows 10") from a User-Agent header, parsed by ``ua-parser``
    (the uap-core rules); ("", "") when it is empty or unknown."""
    if not user_agent:
        return "", ""
    parsed = ua_parse(user_agent)

    def named(part: Any) -> str:
        if part is None or part.family in ("", "Other"):
            return ""
        return " ".join(x for x in (part.family, part.major) if x)

    return named(parsed.user_agent), named(parsed.os)


def _verified(conversation: Conversation) -> bool:
    """Whether the site signed this customer's identity (``chat.identity``): the conversation
    carries the verified user id, or its contact is a verified one."""
    contact = conversation.contact
    return bool(conversation.verified_user_id) or (contact is not None and contact.is_verified)


def contact_panel_for_agent(*, conversation: Conversation) -> ContactPanel:
    """The sidebar: contact, where and in what the chat started, and the contact's other
    conversations (by contact, or by the same e-mail on the same widget; at most
    ``PAST_CONVERSATIONS``, newest first). Two queries at most."""
    contact = conversation.contact
    past: list[Conversation] = []
    first_seen = conversation.created_at
    if contact is not None:
        # The same person: this contact, or another contact of the widget with the same
        # e-mail (a visitor who left it again in a new chat).
        same = Q(contact_id=contact.pk)
        if contact.email:
            same |= Q(contact__widget_id=contact.widget_id, contact__email__iexact=contact.email)
        others = Conversation.objects.filter(same).exclude(pk=conversation.pk)
        past = list(others.order_by("-created_at")[:PAST_CONVERSATIONS])
        first = others.aggregate(first=Min("created_at"))["first"]
        if first is not None and first < first_seen:
            first_seen = first
    browser, os_name = browser_and_os(conversation.user_agent)
    return ContactPanel(
        name=contact.name if contact else "",
        email=contact.email if contact else "",
        verified=_verified(conversation),
        reply_email=conversation.reply_email,
        page_url=conversation.page_url,
        page_title=conversation.page_title,
        browser=browser,
        os=os_name,
        language=conversation.language,
        timezone=conversation.timezone,
        first_seen=first_seen,
        past=past,
    )


@dataclass(frozen=True)
class HandoffSummary:
    """What an agent reads first on a handed-off conversation."""

    wants: str  # the intent, in words
    details: list[str]  # "order number: 55102"
    articles: list[str]  # titles of the articles the bot answered with
    reason: str
    sentiment: str
    text: str  # the whole, as two or three sentences
    by: str = "traces"  # "traces" (composed offline) or "claude"


# An escalation signal's reason as the bot records it: 'Legal signal: "lawyer", "sue"'.
_SIGNAL_REASON = re.compile(r"(?P<kind>[A-Za-z][\w -]{0,40}) signal: (?P<words>.+)")
# How a captured detail reads in the summary's "They gave ..." ("the amount $40").
ENTITY_WORDS = {
    "money": "the amount", "email": "the e-mail address", "date": "the date",
    "product": "the product", "phone": "the phone number",
}


def mid_sentence(text: str) -> str:
    """``text`` with a lower-case first letter to sit mid-sentence ("The customer..." ->
    "the customer..."), unless its first word is an acronym or a name written in capitals."""
    first = text.split(" ", 1)[0]
    if len(first) > 1 and not first[1:].islower():
        return text
    return text[:1].lower() + text[1:]


def _joined(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _summary_opening(slug: str) -> tuple[str, str]:
    """What the customer wants as ``(topic, sentence)``: the intent's name (as admins wrote
    it; one query) and a sentence from its description when that says what
    the customer wants ("The customer wants to know where an order is (Order status).").
    An intent missing from the taxonomy reads from its slug; none reads as unclassified."""
    if not slug:
        return "not classified", "The bot could not tell what the customer wants."
    name, description = intent_wording(slug) or ("", "")
    name = name or slug.replace("_", " ").capitalize()
    description = description.strip()
    clause = re.split(r"[:;.]", description, maxsplit=1)[0].strip()
    if clause.lower().startswith("the customer ") and len(clause) <= 160:
        return name, f"The customer{clause[len('the customer'):]} (intent “{name}”)."
    return name, f"The customer's request is about “{name}”."


def _lookup_words(call: dict[str, Any] | None) -> str:
    """A turn's data connector call in the summary's words: "looked up “Order status”
    (answered)", "(found nothing)" or "(failed: timeout)"; "" for a turn without one."""
    if not call:
        return ""
    if call.get("ok"):
        outcome = "answered"
    elif call.get("not_found"):
        outcome = "found nothing"
    else:
        outcome = f"failed: {str(call.get('reason') or 'unknown')[:40]}"
    return f"looked up “{str(call.get('connector'))[:120]}” ({outcome})"


def handoff_summary_for_agent(
    *, conversation: Conversation, transcript: list[Message]
) -> HandoffSummary | None:
    """The handoff summary, composed offline from the conversation and its traces (no query:
    ``transcript`` is ``transcript_for_agent``'s list). None before any handoff."""
    if conversation.handed_off_at is None and not conversation.handoff_reason:
        return None
    details: list[str] = []
    seen: set[str] = set()
    titles: list[str] = []
    lookups: list[str] = []
    for message in transcript:
        trace = getattr(message, "trace_view", None)
        if trace is not None:
            lookup = _lookup_words(trace.connector)
            if lookup and lookup not in lookups:
                lookups.append(lookup)
            for entity in trace.entities:
                kind = ENTITY_WORDS.get(entity["kind"], entity["kind"].replace("_", " "))
                line = f"{kind} {entity['value']}".strip()
                if line not in seen:
                    seen.add(line)
                    details.append(line)
        if message.author == Author.BOT:
            for article in message.articles or []:
                title = article.get("title") if isinstance(article, dict) else None
                if title and title not in titles:
                    titles.append(title)
    wants, opening = _summary_opening(conversation.intent)
    sentences = [opening]
    if details:
        # In one order on both databases (PostgreSQL's jsonb keeps no key order).
        sentences.append(f"They gave {_joined(sorted(details)[:4])}.")
    if lookups:
        sentences.append("The bot " + _joined(lookups[:3]) + ".")
    if titles:
        sentences.append("The bot answered with " + _joined([f"“{t}”" for t in titles[:3]]) + ".")
    elif not lookups:
        sentences.append("The bot quoted no article.")
    reason = conversation.handoff_reason.strip().rstrip(".") or "no reason recorded"
    signal = _SIGNAL_REASON.fullmatch(reason)
    if signal:
        sentences.append(
            f"It handed over on {mid_sentence(signal['kind'])} signal words ({signal['words']})."
        )
    elif conversation.handoff_reason.strip():
        # Reasons are labels ("2 consecutive messages not understood", "Critical urgency"),
        # not clauses: "because" before them would not read as a sentence.
        sentences.append(f"Handoff reason: {reason[:1].upper()}{reason[1:]}.")
    else:
        sentences.append("It handed over without recording why.")
    if conversation.sentiment:
        sentences.append(f"Their messages read as {conversation.sentiment}.")
    summary = HandoffSummary(
        wants=wants,
        details=details,
        articles=titles,
        reason=reason,
        sentiment=conversation.sentiment,
        text=" ".join(sentences),
    )
    if claude_enabled():
        written = _claude_summary(conversation, transcript, summary.text)
        if written:
            summary = dataclasses.replace(summary, text=written, by="claude")
    return summary


SUMMARY_CACHE_SECONDS = 3600


def _claude_summary(conversation: Conversation, transcript: list[Message], facts: str) -> str:
    """Claude's two or three sentences, cached per conversation state (one call per handoff,
    not per page view); "" when Claude fails (the offline summary stands)."""
    since = int(conversation.handed_off_at.timestamp()) if conversation.handed_off_at else 0
    key = f"console:summary:{conversation.pk}:{since}:{len(transcript)}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    history = [
        (message.author, message.text)
        for message in transcript
        if message.author in (Author.CUSTOMER, Author.BOT, Author.AGENT)
    ]
    try:
        written = summarize_handoff(facts=facts, history=history)
    except ClaudeError as exc:
        logger.warning("handoff summary by Claude failed (%s); the offline one stands", exc.reason)
        return ""
    cache.set(key, written, SUMMARY_CACHE_SECONDS)
    return written


_VARIABLE = re.compile(r"\{\{\s*([a-z_]+)\.([a-z_]+)\s*\}\}")
# Any ``{{ ... }}``: what a canned text holds in the places of variables, known or not.
PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")
CANNED_VARIABLES = (
    "contact.name", "contact.email", "agent.name", "conversation.order_number", "conversation.id"
)
# What an unknown contact name reads as: "Hi there, ..." rather than "Hi , ...".
NAME_FALLBACK = "there"
# An empty variable's stray space: the spaces before it when punctuation or the line's end
# follows it, or the spaces after it when it starts a line (text, value, text).
_BEFORE_PUNCTUATION = re.compile(r"[ \t]+$")
_PUNCTUATION_NEXT = re.compile(r"^(?:[,.;:!?)]|$|\n)")


def _order_number(state: Any) -> str:
    """The order number the bot kept in a dialog state: ``details.order_number`` (where the
    dialog stores it), else ``order_number`` or ``entities.order_number`` (first of a list)."""
    if not isinstance(state, dict):
        return ""
    for key in ("details", "order_number", "entities"):
        value = state.get(key)
        if key != "order_number":
            value = value.get("order_number") if isinstance(value, dict) else None
        if isinstance(value, list):
            value = value[0] if value else ""
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return ""


def canned_variables(*, conversation: Conversation | None, agent: Any) -> dict[str, str]:
    """The values of the variables a canned response may hold (``CANNED_VARIABLES``):
    ``contact.name`` (``NAME_FALLBACK`` when the contact has no name), ``contact.email``,
    ``agent.name`` (the public name), ``conversation.order_number`` (what the bot kept in the
    dialog state, see ``_order_number``) and ``conversation.id``; "" when not known."""
    contact = conversation.contact if conversation is not None else None
    state = conversation.dialog_state if conversation is not None else None
    return {
        "contact.name": ((contact.name if contact else "") or "").strip() or NAME_FALLBACK,
        "contact.email": (contact.email if contact else "") or "",
        "agent.name": agent_public_name(agent),
        "conversation.order_number": _order_number(state),
        "conversation.id": str(conversation.pk) if conversation is not None else "",
    }


def canned_render(text: str, variables: dict[str, str]) -> str:
    """``text`` with each known ``{{ holder.field }}`` replaced by its value from
    ``variables``. A known variable whose value is "" leaves no stray space: the spaces before
    it go when punctuation or the line's end follows ("order {{ x }}." reads "order.").
    An unknown variable (not in ``variables``, or not of the ``holder.field`` form) stays as
    written, for the agent to see and mend before sending. Plain substitution, no template
    language: a canned response cannot run code."""
    out: list[str] = []
    last = 0
    for match in _VARIABLE.finditer(text):
        name = f"{match.group(1)}.{match.group(2)}"
        out.append(text[last:match.start()])
        last = match.end()
        if name not in variables:
            out.append(match.group(0))
            continue
        value = variables[name]
        if not value and _PUNCTUATION_NEXT.match(text[last:]):
            out[-1] = _BEFORE_PUNCTUATION.sub("", out[-1])
        elif not value and out[-1].endswith((" ", "\t")) and text[last:last + 1] in (" ", "\t"):
            last += 1  # "a {{ x }} b" reads "a b", not "a  b"
        out.append(value)
    out.append(text[last:])
    return "".join(out)


def unknown_canned_variables(text: str) -> list[str]:
    """The placeholders (``{{ ... }}``) of ``text`` that are not one of ``CANNED_VARIABLES``,
    as written, in order, without repeats."""
    unknown: list[str] = []
    for match in PLACEHOLDER.finditer(text):
        known = _VARIABLE.fullmatch(match.group(0))
        if known and f"{known.group(1)}.{known.group(2)}" in CANNED_VARIABLES:
            continue
        if match.group(0) not in unknown:
            unknown.append(match.group(0))
    return unknown


def canned_for_agent(
    *, query: str, conversation: Conversation | None, agent: Any, limit: int = 8
) -> list[dict[str, Any]]:
    """The canned responses ``agent`` may use (their own personal ones and the shared ones)
    whose shortcut starts with ``query`` (then those whose title holds it), each
    ``{"response", "text"}`` with the variables filled in; at one shortcut, the agent's own
    comes first. One query."""
    query = query.strip().lstrip("/").lower()
    rows = CannedResponse.objects.filter(Q(owner__isnull=True) | Q(owner=agent))
    if query:
        rows = rows.filter(Q(shortcut__istartswith=query) | Q(title__icontains=query))
    found = sorted(
        rows[:50],
        key=lambda r: (not r.shortcut.lower().startswith(query), r.shortcut, r.is_shared),
    )[:limit]
    variables = canned_variables(conversation=conversation, agent=agent)
    return [{"response": r, "text": canned_render(r.text, variables)} for r in found]


_TABLE_RULE = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")
_LINK_MD = re.compile(r"!?\[([^\]]*)\]\(([^)\s]+)[^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)")


def readable_passage(markdown: str) -> str:
    """Markdown as text a customer reads in a chat bubble: headings without ``#``, links as
    "text (url)", emphasis marks gone, table rows as "cell: cell" lines, rules dropped."""
    lines: list[str] = []
    for raw in markdown.splitlines():
        line = raw.strip()
        if _TABLE_RULE.match(line) and "-" in line:
            continue
        if line.startswith("|") or (line.count("|") >= 2):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            line = ": ".join(cell for cell in cells if cell) if len(cells) == 2 else " · ".join(
                cell for cell in cells if cell
            )
        line = re.sub(r"^#{1,6}\s+", "", line)
        line = re.sub(r"^[*+]\s+", "• ", line)
        line = _LINK_MD.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if m.group(1) else m.group(2),
                            line)
        line = _EMPHASIS.sub("", line)
        lines.append(line)
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# With words typed, the conversation's intent only nudges the ranking: an article linked to it
# gains this much on its text score (from 0 to 1), enough to order near-equal articles, never
# enough to lift an article the words do not match above one they do.
TYPED_INTENT_NUDGE = 0.02


def _conversation_intents(conversation: Conversation) -> list[str]:
    """The intents of ``conversation``, most recent first, without repeats: its own field, the
    dialog state's last and pending intents, then the bot traces' intents (newest first)."""
    state = conversation.dialog_state if isinstance(conversation.dialog_state, dict) else {}
    pending = state.get("pending") if isinstance(state.get("pending"), dict) else {}
    found = [conversation.intent, state.get("last_intent"), pending.get("intent")]
    found += list(
        BotTrace.objects.filter(conversation=conversation)
        .exclude(intent="")
        .order_by("-created_at", "-pk")
        .values_list("intent", flat=True)[:20]
    )
    intents: list[str] = []
    for intent in found:
        if isinstance(intent, str) and intent and intent not in intents:
            intents.append(intent)
    return intents


def article_suggestions_for_agent(
    *, query: str, conversation: Conversation | None, limit: int = ARTICLE_RESULTS
) -> list[dict[str, Any]]:
    """Published articles for the agent's "Insert from the knowledge base", best first, each
    ``{"id", "title", "text"}`` where ``text`` is the passage that best answers, as readable
    text (``readable_passage``), not the article's Markdown.

    With words typed (``query``), the words rank: the bot's TF-IDF text score
    (``ArticleIndex.text_scores``), an article needing ``MIN_SCORE`` to be listed; the
    conversation's intent adds only ``TYPED_INTENT_NUDGE``. With nothing typed, the
    conversation suggests: the text score for the customer's last three messages plus
    ``INTENT_BOOST`` for an article of any of the conversation's intents
    (``_conversation_intents``: its field, the dialog's, the bot traces'), so the intents'
    articles come first, ordered by the customer's words, then other articles those words
    match. ``[]`` with neither words nor a conversation.
    """
    query = " ".join(query.split())
    index = taxonomy_snapshot().articles
    if not index.articles:
        return []
    intents = _conversation_intents(conversation) if conversation is not None else []
    rows: list[int] = []
    if query:
        scores = index.text_scores(query)
        listed = scores >= MIN_SCORE
        if intents and (own := index.intent_rows.get(intents[0])) is not None:
            scores[own] += TYPED_INTENT_NUDGE
        rows = [int(i) for i in np.argsort(-scores, kind="stable") if listed[i]]
        passage_query = query
    elif conversation is not None:
        recent = (
            Message.objects.filter(conversation=conversation, author=Author.CUSTOMER)
            .order_by("-seq")
            .values_list("text", flat=True)[:3]
        )
        passage_query = " ".join(reversed(list(recent)))
        scores = index.text_scores(passage_query) if passage_query else np.zeros(
            len(index.articles)
        )
        # Every article of one of the conversation's intents gains the bot's own intent
        # boost (once, however many of its intents it serves); the customer's words then
        # order them, and any other article they match follows.
        boost = np.zeros(len(scores))
        for intent in intents:
            own = index.intent_rows.get(intent)
            if own is not None and len(own):
                boost[own] = INTENT_BOOST
        listed = (scores >= MIN_SCORE) | (boost > 0)
        scores = scores + boost
        rows = [int(i) for i in np.argsort(-scores, kind="stable") if listed[i]]
        passage_query = passage_query or " ".join(i.replace("_", " ") for i in intents[:1])
    found = []
    for i in rows[:limit]:
        doc = index.articles[i]
        found.append(
            {"id": doc.id, "title": doc.title,
             "text": readable_passage(best_passages(doc, passage_query))}
        )
    return found


def transcript_with_notes(*, conversation: Conversation, messages: list[Message]) -> list[Any]:
    """The transcript with the agents-only lines (``Note``: private notes, assignments) in
    time order among the messages; a note has ``is_note`` True. One query for the notes."""
    notes = list(
        Note.objects.filter(conversation=conversation)
        .select_related("author__agent_profile")
        .order_by("created_at", "pk")
    )
    for note in notes:
        note.is_note = True
    for message in messages:
        message.is_note = False
    return sorted(
        [*messages, *notes], key=lambda item: (item.created_at, item.is_note, item.pk)
    )


def label_list() -> list[Label]:
    return list(Label.objects.all())


def profile_for_agent(*, agent: Any) -> AgentProfile | None:
    return AgentProfile.objects.filter(user=agent).first()
