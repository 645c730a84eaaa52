"""The one door through which facts reach the analytics: ``event_record``.

Callers are services inside a transaction; the row is written in that same transaction, so a
rolled-back conversation change never leaves an event behind, and a committed one always does.
``event_build`` is the same row unsaved, for a service that inserts it along with its change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from django.utils import timezone

from .models import EventName, ReportingEvent

__all__ = ["Conversation", "EventName", "event_build", "event_record", "event_record_many"]


class Conversation(Protocol):
    """What an event needs of the conversation it belongs to (a ``chat.Conversation``; chat
    imports analytics, not the reverse)."""

    pk: Any
    created_at: datetime
    widget_id: int


def event_record(
    *,
    name: EventName | str,
    conversation: Conversation | None = None,
    at: datetime | None = None,
    intent: str = "",
    category: str = "",
    backend: str = "",
    value: float | None = None,
    agent: Any = None,
) -> ReportingEvent:
    event = event_build(
        name=name, conversation=conversation, at=at, intent=intent, category=category,
        backend=backend, value=value, agent=agent,
    )
    event.save(force_insert=True)
    return event


def event_record_many(events: list[ReportingEvent]) -> None:
    """Saves rows built by ``event_build`` in one statement (a chat write's several events)."""
    ReportingEvent.objects.bulk_create(events)


def event_build(
    *,
    name: EventName | str,
    conversation: Conversation | None = None,
    at: datetime | None = None,
    intent: str = "",
    category: str = "",
    backend: str = "",
    value: float | None = None,
    agent: Any = None,
) -> ReportingEvent:
    """``event_record``'s row, checked but not saved: for a service that saves several at once
    with ``event_record_many`` (``chat.services.bot_turn_record``)."""
    if name not in EventName.values:
        raise ValueError(f"unknown reporting event {name!r}")
    return ReportingEvent(
        name=name,
        occurred_at=at or timezone.now(),
        conversation=conversation,
        conversation_started_at=conversation.created_at if conversation is not None else None,
        widget_id=conversation.widget_id if conversation is not None else None,
        intent=intent,
        category=category,
        backend=backend,
        value=value,
        agent=agent,
    )
