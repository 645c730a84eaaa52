"""The one module that sends real-time events: group names, frames and ``broadcast_*`` helpers.

Services call the sync helpers through ``transaction.on_commit`` (so nobody hears of a row that
was rolled back); async consumers use the ``a*`` variants. Payloads are typed in
``chat.events`` and listed in docs/protocol.md.

Where sends run: a consumer wraps its database call in ``deferred_broadcasts()``, and the
events that call broadcast are sent afterwards from the consumer's own loop. Other sync callers
(Celery tasks, console views) call the layer's public ``group_send`` on one long-lived event
loop per process in a daemon thread: ``async_to_sync(layer.group_send)`` would otherwise start
a fresh loop and Redis connection per call in a worker. The in-memory layer, whose queues
belong to the server's loop, keeps the ``async_to_sync`` path.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from knowledge.markdown import render_markdown

from . import events, limits
from .names import agent_public_initials, agent_public_name

if TYPE_CHECKING:
    from .models import Conversation, Message

logger = logging.getLogger(__name__)


QUEUE_GROUP = "console.queue"
# Every customer socket that joined a conversation: how many agents are online.
AVAILABILITY_GROUP = "chat.availability"

_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None
_deferred: ContextVar[list[tuple[str, dict]] | None] = ContextVar(
    "chat_realtime_deferred", default=None
)
_loop_lock = threading.Lock()


def conversation_group(conversation_id: int) -> str:
    """The group of every socket (customer tabs, agents) following one conversation."""
    return f"chat.conversation.{int(conversation_id)}"


def console_conversation_group(conversation_id: int) -> str:
    """Agents' consoles that have one conversation open, and nobody else: private notes and
    assignment lines go here, never to ``conversation_group`` (which customers' sockets join)."""
    return f"console.conversation.{int(conversation_id)}"


def agent_group(user_id: int) -> str:
    """Every console socket of one agent: mentions and transfers to them."""
    return f"console.agent.{int(user_id)}"


def use_private_loop() -> bool:
    """Starts this process's send loop (a daemon thread) unless the layer is in-memory.

    Returns whether sync sends now go through it: not with the in-memory layer, whose queues
    belong to the server's loop. Safe to call again, and after a fork.
    """
    global _loop, _loop_pid
    layer = get_channel_layer()
    if layer is None or type(layer).__name__ == "InMemoryChannelLayer":
        return False
    with _loop_lock:
        if _loop is not None and _loop_pid == os.getpid():
            return True
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="chat-realtime", daemon=True)
        thread.start()
        _loop, _loop_pid = loop, os.getpid()
    return True


async def _agroup_send_many(sends: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group, event in sends:
        await layer.group_send(group, event)


def _send(*sends: tuple[str, dict]) -> None:
    """Sends events to groups, in order; a failure is logged, never raised into the caller.

    Inside ``deferred_broadcasts()`` the events are only collected, for the consumer to send.
    The caller waits for the send (a fraction of a millisecond): a send left running in
    another thread would compete for the GIL with the caller's next steps and arrive later.
    """
    deferred = _deferred.get()
    if deferred is not None:
        deferred.extend(sends)
        return
    if _loop_pid != os.getpid():
        use_private_loop()
    # Twice at most: after a Redis restart the first send of each process meets a connection
    # the server closed ("Connection closed by server"); the second takes a fresh one. A group
    # that got the event before the failure may get it twice: frames carry their seq.
    for attempt in (1, 2):
        try:
            if _loop is not None and _loop_pid == os.getpid():
                asyncio.run_coroutine_threadsafe(_agroup_send_many(list(sends)), _loop).result(10)
            else:
                async_to_sync(_agroup_send_many)(list(sends))
            return
        except Exception:
            if attempt == 2:
                logger.exception("real-time send failed (%s)", ", ".join(g for g, _ in sends))
            else:
                logger.warning("real-time send failed (%s); trying once more",
                               ", ".join(g for g, _ in sends))


@contextlib.asynccontextmanager
async def deferred_broadcasts() -> AsyncIterator[None]:
    """For consumers: broadcasts made by the database call inside are sent from this loop.

    A consumer's service call runs in a worker thread; its on-commit broadcasts are collected
    there (the list travels in a context variable, which asgiref copies into the thread) and
    sent here once the call returns: no second thread or loop on the hot path.
    """
    sends: list[tuple[str, dict]] = []
    token = _deferred.set(sends)
    try:
        yield
    finally:
        _deferred.reset(token)
        if sends:
            try:
                await _agroup_send_many(sends)
            except Exception:
                logger.exception("real-time send failed (%s)", ", ".join(g for g, _ in sends))


# --- Frames ----------------------------------------------------------------------------------


def _user_name(user) -> str:
    return agent_public_name(user)


# Authors whose text is Markdown the server writes (article quotes, Claude's replies, notices);
# their frames carry it rendered as ``html``.
HTML_AUTHORS = frozenset({"bot", "system"})


@functools.lru_cache(maxsize=1024)
def message_html(text: str) -> str:
    """A bot or system message's Markdown as sanitised HTML (cached: a reply is sent to every
    socket of its conversation, and again on every rejoin)."""
    return render_markdown(text)


def message_frame(message: Message) -> events.MessageFrame:
    sender = message.sender if message.sender_id else None
    reply_to = message.in_reply_to.seq if message.in_reply_to_id else None
    frame: events.MessageFrame = {
        "type": "message",
        "seq": message.seq,
        "client_id": str(message.client_id) if message.client_id else None,
        "author": message.author,
        "text": message.text,
        "created_at": message.created_at.isoformat(),
        "sender_name": _user_name(sender),
        "sender_initials": agent_public_initials(sender),
        "reply_to": reply_to,
        "articles": message.articles or [],
    }
    if message.quick_replies:
        frame["quick_replies"] = list(message.quick_replies)
    if message.author in HTML_AUTHORS:
        frame["html"] = message_html(message.text)
    emailed_at = message_emailed_at(message)
    if emailed_at is not None:
        frame["emailed_at"] = emailed_at.isoformat()
    return frame


def message_emailed_at(message: Message):
    """When ``message`` (an agent reply) was sent by e-mail (``chat.mail``), or None.

    Reads the mail row only for a message that has one (``select_related("emailed_in")``
    avoids even that)."""
    if not message.emailed_in_id:
        return None
    email = message.emailed_in
    return email.sent_at if email.status == "sent" else None


def queue_summary(conversation: Conversation) -> events.QueueSummary:
    return {
        "conversation_id": conversation.pk,
        "status": conversation.status,
        "assignee_id": conversation.assignee_id,
        "intent": conversation.intent,
        "sentiment": conversation.sentiment,
        "handoff_reason": conversation.handoff_reason,
        "handoff_category": conversation.handoff_category,
        "handed_off_at": conversation.handed_off_at.isoformat()
        if conversation.handed_off_at
        else None,
        "last_seq": conversation.last_seq,
    }


def conversation_frame(conversation: Conversation) -> events.ConversationFrame:
    assignee = conversation.assignee if conversation.assignee_id else None
    return {
        "type": "conversation",
        # The public id: this frame reaches the customer (the console relabels it).
        "conversation_id": str(conversation.public_id),
        "status": conversation.status,
        "resolution": conversation.resolution,
        "assignee_name": _user_name(assignee),
        "rating": conversation.rating,
    }


def handoff_frame(conversation: Conversation) -> events.HandoffFrame:
    from .selectors import agents_online_count, emails_refused_by_lookups, expected_wait_seconds

    online = agents_online_count()
    return {
        "type": "handoff",
        "reason": conversation.handoff_reason,
        "category": conversation.handoff_category,
        "agents_online": online,
        "expected_wait_seconds": expected_wait_seconds() if online else None,
        "refused_emails": emails_refused_by_lookups(conversation_id=conversation.pk),
    }


def availability_frame() -> events.AvailabilityFrame:
    """How many agents are online now (``selectors.agents_online_count``)."""
    from .selectors import agents_online_count

    return {"type": "availability", "agents_online": agents_online_count()}


def error_frame(
    code: str,
    message: str | None = None,
    *,
    client_id: str | None = None,
    retry_after: float | None = None,
) -> events.ErrorFrame:
    """An error frame: ``code`` from ``events.ERROR_CODES``, its text unless ``message`` is
    given, the refused message's ``client_id`` when there is one, and for ``rate_limited`` the
    seconds to wait before trying again (``retry_after``)."""
    frame: events.ErrorFrame = {
        "type": "error", "code": code, "message": message or events.ERROR_CODES[code]
    }
    if client_id is not None:
        frame["client_id"] = client_id
    if retry_after is not None:
        frame["retry_after"] = retry_after
    return frame


# --- Broadcasts ------------------------------------------------------------------------------

_QUEUE_STATUSES = {"waiting", "agent"}


def broadcast_message(message: Message) -> None:
    """A stored message to its conversation; agents' consoles hear of it when it is theirs."""
    conversation = message.conversation
    sends: list[tuple[str, dict]] = [
        (
            conversation_group(conversation.pk),
            {"type": "chat.message", "frame": message_frame(message)},
        )
    ]
    # Agents' consoles refetch their queue on this; a burst is one update per period.
    if conversation.status in _QUEUE_STATUSES and limits.once_per(
        "queue-update", conversation.pk, settings.CONSOLE_QUEUE_UPDATE_SECONDS
    ):
        sends.append(
            (
                QUEUE_GROUP,
                {
                    "type": "conversation.updated",
                    "frame": {
                        "type": "conversation.updated",
                        "conversation": queue_summary(conversation),
                        "author": message.author,
                    },
                },
            )
        )
    _send(*sends)


def broadcast_delta(conversation_id: int, reply_to: int, text: str) -> None:
    frame: events.DeltaFrame = {"type": "message.delta", "reply_to": reply_to, "text": text}
    _send((conversation_group(conversation_id), {"type": "chat.delta", "frame": frame}))


def _typing_event(author: str, is_typing: bool) -> dict:
    frame: events.TypingFrame = {"type": "typing", "author": author, "is_typing": bool(is_typing)}
    return {"type": "chat.typing", "frame": frame}


def broadcast_typing(conversation_id: int, author: str, is_typing: bool) -> None:
    _send((conversation_group(conversation_id), _typing_event(author, is_typing)))


async def abroadcast_typing(conversation_id: int, author: str, is_typing: bool) -> None:
    """``broadcast_typing`` for async consumers (no database involved)."""
    await _agroup_send_many(
        [(conversation_group(conversation_id), _typing_event(author, is_typing))]
    )


def _queue_changed(conversation: Conversation, change: str) -> tuple[str, dict]:
    frame: events.QueueChangedFrame = {
        "type": "queue.changed", "change": change, "conversation": queue_summary(conversation)
    }
    return (QUEUE_GROUP, {"type": "queue.changed", "frame": frame})


def broadcast_handoff(conversation: Conversation) -> None:
    """The conversation went to the agents' queue: tell the customer and every agent."""
    _send(
        (
            conversation_group(conversation.pk),
            {"type": "chat.handoff", "frame": handoff_frame(conversation)},
        ),
        _queue_changed(conversation, "handoff"),
    )


def broadcast_availability() -> None:
    """The number of agents online may have changed: every customer's widget hears the count
    (its header says whether the team replies in minutes or by e-mail)."""
    _send((AVAILABILITY_GROUP, {"type": "chat.availability", "frame": availability_frame()}))


def broadcast_conversation_changed(conversation: Conversation, change: str) -> None:
    """Status, assignee, resolution or rating changed: both the conversation and the queue.

    ``change`` names what happened, one of ``events.QUEUE_CHANGES`` (``claimed``,
    ``unassigned``...): agents' consoles word their notices by it, so a conversation put back
    in the queue never reads as a new handoff."""
    if change not in events.QUEUE_CHANGES:
        raise ValueError(f"unknown queue change {change!r}")
    _send(
        (
            conversation_group(conversation.pk),
            {"type": "chat.conversation", "frame": conversation_frame(conversation)},
        ),
        _queue_changed(conversation, change),
    )


def note_frame(note: Any) -> events.NoteFrame:
    """A private note or an assignment line, for agents' consoles only."""
    return {
        "type": "note",
        "conversation_id": note.conversation_id,
        "kind": note.kind,
        "author_id": note.author_id,
        "created_at": note.created_at.isoformat(),
    }


def broadcast_note(note: Any, *, notify_user_ids: list[int] | tuple[int, ...] = ()) -> None:
    """A note to the consoles that have its conversation open, and a notice to each agent in
    ``notify_user_ids`` (mentioned, or handed the conversation). Never to the customer."""
    frame = note_frame(note)
    sends: list[tuple[str, dict]] = [
        (console_conversation_group(note.conversation_id), {"type": "console.note", "frame": frame})
    ]
    for user_id in notify_user_ids:
        notice: events.AgentNoticeFrame = {
            "type": "agent.notice",
            "conversation_id": note.conversation_id,
            "kind": note.kind,
            "text": note.text[:200],
        }
        sends.append((agent_group(user_id), {"type": "agent.notice", "frame": notice}))
    _send(*sends)
