"""The one door through which facts reach the analytics: ``event_record``.

Callers are services inside a transaction; the row is written in that same transaction, so a
rolled-back conversation change never leaves an event behind, and a committed one always does.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from .models import EventName, ReportingEvent

if TYPE_CHECKING:
    from chat.models import Conversation


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
    if name not in EventName.values:
        raise ValueError(f"unknown reporting event {name!r}")
    return ReportingEvent.objects.create(
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
