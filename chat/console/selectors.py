"""Reads for the agent console: the queue, one conversation's transcript, presence, articles.

Each selector fetches what its page shows in a fixed number of queries, whatever the number
of rows (the tests assert the counts).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.html import strip_tags

from chat.models import (
    AgentPresence,
    BotTrace,
    Conversation,
    ConversationStatus,
    Message,
    OwedAnswer,
)
from chat.selectors import agents_online_count
from knowledge.markdown import render_markdown
from knowledge.selectors import articles_published_with_words

__all__ = [
    "agents_online_count",  # the customer side's question "is anybody there?", in chat.selectors
    "article_plain_text",
    "article_search",
    "conversation_for_agent",
    "presence_for_agent",
    "queue_for_agent",
    "transcript_for_agent",
]

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
    """Every message of the conversation in order, each with ``trace_view`` (or None).

    A trace hangs off the customer message it answers (or off the bot's message, depending on
    how the turn was stored); either way it is fetched in the same query.
    """
    messages = list(
        Message.objects.filter(conversation=conversation)
        .select_related("trace", "sender")
        .order_by("seq")
    )
    for message in messages:
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
