"""The JSON bodies webhooks carry, one shape for every event (documented in docs/webhooks.md).

``{"id": "evt_...", "type": "message.created", "created_at": "<ISO 8601, UTC>",
"data": {"conversation": {...}, "message": {...}}}``: ``data.conversation`` on every event,
``data.message`` on ``message.created`` only. The body is built when the fact happens and
stored with the event, so every attempt and every "send again" carries the same bytes.
"""

from __future__ import annotations

import functools
import secrets
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from django.db import connection


class ContactData(TypedDict):
    email: str
    name: str
    verified_user_id: str


class ConversationData(TypedDict):
    id: str
    widget: str
    status: str
    intent: str
    assignee: str | None
    handoff_reason: str
    handoff_category: str
    resolution: str
    rating: int | None
    rating_comment: str
    contact: ContactData | None
    reply_email: str
    created_at: str
    resolved_at: str | None


class MessageData(TypedDict):
    seq: int
    author: str
    sender: str | None
    text: str
    created_at: str


class EventData(TypedDict):
    conversation: ConversationData
    message: NotRequired[MessageData]


class EventBody(TypedDict):
    id: str
    type: str
    created_at: str
    data: EventData


def new_event_id() -> str:
    """A fresh public event id: ``evt_`` and 24 random URL-safe characters."""
    return "evt_" + secrets.token_urlsafe(18)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@functools.cache
def _widget_key_statement() -> str:
    from chat.models import Widget

    qn = connection.ops.quote_name
    return (  # only quoted identifiers are interpolated; the id is a parameter
        f"SELECT {qn('public_key')} FROM {qn(Widget._meta.db_table)} "  # noqa: S608
        f"WHERE {qn(Widget._meta.pk.column)} = %s"
    )


def widget_key(conversation: Any) -> str:
    """The public key of ``conversation``'s widget: from the loaded widget when the
    conversation holds it, else one plain statement built once (``SELECT public_key FROM
    chat_widget WHERE id = %s``; the ORM compiled a query for each bot reply's event)."""
    if type(conversation)._meta.get_field("widget").is_cached(conversation):
        return conversation.widget.public_key
    with connection.cursor() as cursor:
        cursor.execute(_widget_key_statement(), [conversation.widget_id])
        row = cursor.fetchone()
    return row[0] if row else ""


def conversation_data(conversation: Any) -> ConversationData:
    """The conversation as webhooks show it (reads its contact, assignee and widget: up to
    three queries unless they are already loaded)."""
    contact = conversation.contact if conversation.contact_id else None
    return {
        "id": str(conversation.public_id),
        "widget": widget_key(conversation),
        "status": conversation.status,
        "intent": conversation.intent,
        "assignee": conversation.assignee.get_username() if conversation.assignee_id else None,
        "handoff_reason": conversation.handoff_reason,
        "handoff_category": conversation.handoff_category,
        "resolution": conversation.resolution,
        "rating": conversation.rating,
        "rating_comment": conversation.rating_comment,
        "contact": {
            "email": contact.email, "name": contact.name,
            "verified_user_id": contact.external_id if contact.is_verified else "",
        } if contact is not None else None,
        "reply_email": conversation.reply_email,
        "created_at": _iso(conversation.created_at) or "",
        "resolved_at": _iso(conversation.resolved_at),
    }


def message_data(message: Any) -> MessageData:
    """A stored message: its number in the conversation, author, agent (username) and text."""
    return {
        "seq": message.seq,
        "author": message.author,
        "sender": message.sender.get_username() if message.sender_id else None,
        "text": message.text,
        "created_at": _iso(message.created_at) or "",
    }


def event_body(
    *, event_id: str, name: str, at: datetime, conversation: Any, message: Any = None
) -> EventBody:
    """The whole body of one event."""
    data: EventData = {"conversation": conversation_data(conversation)}
    if message is not None:
        data["message"] = message_data(message)
    return {"id": event_id, "type": name, "created_at": _iso(at) or "", "data": data}
