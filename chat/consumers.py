"""The customer's WebSocket at ``/ws/chat/`` (the protocol is in docs/protocol.md).

A thin door: it checks the origin on the handshake, validates each frame, makes at most one
database hop per frame (a service or selector call) and forwards the conversation group's
events. Every bad frame gets an error frame and changes nothing.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import deque
from typing import Any

from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from . import realtime, selectors, services
from .models import Author, Conversation, ConversationStatus, Resolution
from .text import is_blank

logger = logging.getLogger(__name__)

MAX_FAILED_JOINS = 5


def database_sync_to_async(func):
    """Runs ``func`` on a worker thread of the pool, closing stale connections around it.

    Not on Daphne's single thread-sensitive thread (the default), where every socket's calls
    would queue behind each other: the chat's services hold no thread-bound state.
    """
    return DatabaseSyncToAsync(func, thread_sensitive=False)


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """The customer's side of a conversation."""

    conversation: Conversation | None = None

    async def dispatch(self, message: dict) -> None:
        """Channels' dispatch without its ``aclose_old_connections()`` hop before each handler.

        That hop costs a trip to the sync thread for every frame and every group event; this
        consumer reaches the database only through ``database_sync_to_async``, which closes
        stale connections itself.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.origin = _header(self.scope, b"origin")
        scheme = "https" if self.scope.get("scheme") in ("wss", "https") else "http"
        self.self_origin = selectors.server_origin(
            scheme=scheme, host=_header(self.scope, b"host") or ""
        )
        allowed = self.origin is not None and (
            self.origin.rstrip("/") == self.self_origin
            or await database_sync_to_async(selectors.any_widget_allows_origin)(
                origin=self.origin, self_origin=self.self_origin
            )
        )
        if not allowed:
            await self.close(code=4403)  # before accept: the handshake is refused (HTTP 403)
            return
        self.conversation = None
        self.history_seq = 0
        self.failed_joins = 0
        self.sent_times: deque[float] = deque()
        self.customer_typing = False
        self.max_chars = settings.CHAT_MAX_MESSAGE_CHARS
        self.max_frame = self.max_chars * 6 + 1024  # room for JSON escapes of any text
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.conversation is not None:
            if self.customer_typing:
                await realtime.abroadcast_typing(self.conversation.pk, Author.CUSTOMER, False)
            await self.channel_layer.group_discard(
                realtime.conversation_group(self.conversation.pk), self.channel_name
            )

    # --- Inbound frames ----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.error("bad_json")
            return
        if len(text_data) > self.max_frame:
            await self.error("frame_too_large")
            return
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):
            await self.error("bad_json")
            return
        if not isinstance(frame, dict):
            await self.error("bad_json")
            return
        kind = frame.get("type")
        handler = self.FRAME_HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            await self.error("unknown_type")
            return
        if handler != "frame_join" and self.conversation is None:
            await self.error("not_joined")
            return
        try:
            await getattr(self, handler)(frame)
        except Conversation.DoesNotExist:
            await self.error("bad_token")
        except Exception:
            logger.exception("chat frame %r failed", frame.get("type"))
            await self.error("server_error", "Something went wrong; try again.")

    FRAME_HANDLERS = {
        "join": "frame_join",
        "message": "frame_message",
        "typing": "frame_typing",
        "feedback": "frame_feedback",
        "rating": "frame_rating",
        "contact": "frame_contact",
    }

    async def error(
        self, code: str, message: str | None = None, *, client_id: str | None = None
    ) -> None:
        await self.send_json(realtime.error_frame(code, message, client_id=client_id))

    async def frame_join(self, frame: dict) -> None:
        if self.conversation is not None:
            await self.error("already_joined")
            return
        conversation_id = frame.get("conversation_id")
        token = frame.get("token")
        after_seq = frame.get("after_seq", 0)
        if not (_is_int(conversation_id) and isinstance(token, str) and _is_int(after_seq)):
            await self.error("missing_field", "join needs conversation_id, token and after_seq.")
            return
        conversation = await database_sync_to_async(selectors.conversation_for_customer)(
            conversation_id=conversation_id, token=token
        )
        if conversation is None:
            self.failed_joins += 1
            await self.error("bad_token")
            if self.failed_joins >= MAX_FAILED_JOINS:
                await self.close(code=4401)
            return
        if not selectors.widget_allows_origin(
            conversation.widget, origin=self.origin, self_origin=self.self_origin
        ):
            await self.error("origin_not_allowed")
            await self.close(code=4403)
            return
        # Join the group before reading the transcript, so nothing falls between the two.
        await self.channel_layer.group_add(
            realtime.conversation_group(conversation.pk), self.channel_name
        )
        self.conversation = conversation
        zone = frame.get("timezone")
        joined, frames = await database_sync_to_async(self._joined)(
            conversation, after_seq, zone if isinstance(zone, str) else ""
        )
        self.history_seq = max([after_seq] + [f["seq"] for f in frames])
        await self.send_json(joined)
        for message_frame in frames:
            await self.send_json(message_frame)

    def _joined(
        self, conversation: Conversation, after_seq: int, zone: str
    ) -> tuple[dict, list[dict]]:
        conversation.refresh_from_db()
        if zone:
            try:
                services.conversation_timezone_set(conversation=conversation, zone=zone)
            except ValueError:
                pass  # an unknown zone is ignored: the join goes on with the zone it had
        frames = [
            realtime.message_frame(m)
            for m in selectors.messages_after(conversation_id=conversation.pk, after_seq=after_seq)
        ]
        joined = {
            "type": "joined",
            "conversation_id": conversation.pk,
            "status": conversation.status,
            "resolution": conversation.resolution,
            "rating": conversation.rating,
            "assignee_name": realtime.conversation_frame(conversation)["assignee_name"],
            "last_seq": conversation.last_seq,
            "agents_online": selectors.agents_online_count(),
            "max_chars": self.max_chars,
            "timezone": conversation.timezone,
        }
        return joined, frames

    def _rate_limited(self) -> bool:
        now = time.monotonic()
        window = settings.CHAT_RATE_LIMIT_SECONDS
        while self.sent_times and now - self.sent_times[0] >= window:
            self.sent_times.popleft()
        if len(self.sent_times) >= settings.CHAT_RATE_LIMIT_MESSAGES:
            return True
        self.sent_times.append(now)
        return False

    async def frame_message(self, frame: dict) -> None:
        text = frame.get("text")
        client_id = frame.get("client_id")
        if not isinstance(text, str) or not isinstance(client_id, str):
            await self.error("missing_field", "message needs client_id and text.")
            return
        try:
            client_uuid = uuid.UUID(client_id)
        except ValueError:
            await self.error("missing_field", "client_id must be a UUID.")
            return
        text = text.strip()
        if is_blank(text):  # also a message of invisible characters only
            await self.error("empty_text", client_id=str(client_uuid))
            return
        if len(text) > self.max_chars:
            await self.error(
                "text_too_long", f"A message has at most {self.max_chars} characters.",
                client_id=str(client_uuid),
            )
            return
        if self._rate_limited():
            await self.error("rate_limited")
            return
        async with realtime.deferred_broadcasts():
            message, created = await database_sync_to_async(services.message_create_incoming)(
                conversation=self.conversation, text=text, client_id=client_uuid
            )
        self.customer_typing = False
        if not created:
            # A resend: acknowledge again (the echo of the first send may have been lost).
            await self.send_json(realtime.message_frame(message))
        elif self.conversation.status == ConversationStatus.BOT:
            # The bot task is queued: show it working. Sent straight to this socket, which is
            # the only one that shows the bot's typing, rather than round the channel layer.
            await self.send_json({"type": "typing", "author": Author.BOT, "is_typing": True})

    async def frame_typing(self, frame: dict) -> None:
        is_typing = frame.get("is_typing")
        if not isinstance(is_typing, bool):
            await self.error("missing_field", "typing needs is_typing (true or false).")
            return
        if is_typing != self.customer_typing:
            self.customer_typing = is_typing
            await realtime.abroadcast_typing(self.conversation.pk, Author.CUSTOMER, is_typing)

    async def frame_feedback(self, frame: dict) -> None:
        helpful = frame.get("helpful")
        seq = frame.get("seq")
        if not isinstance(helpful, bool) or not _is_int(seq):
            await self.error("missing_field", "feedback needs helpful and seq.")
            return
        async with realtime.deferred_broadcasts():
            code = await database_sync_to_async(self._feedback)(helpful, seq)
        if code:
            await self.error(code)
        else:
            await self.send_json({"type": "ack", "of": "feedback"})

    def _feedback(self, helpful: bool, seq: int) -> str | None:
        conversation = self.conversation
        # A "yes" confirms the bot's resolution only under an answer quoted from a source.
        if not selectors.bot_answer_is_sourced(conversation_id=conversation.pk, seq=seq):
            return "bad_feedback"
        conversation.refresh_from_db()
        if helpful and conversation.status == ConversationStatus.BOT:
            services.conversation_resolve(
                conversation=conversation, resolution=Resolution.BOT_CONFIRMED
            )
        return None

    async def frame_rating(self, frame: dict) -> None:
        score = frame.get("score")
        comment = frame.get("comment", "")
        if not _is_int(score) or not 1 <= score <= 5:
            await self.error("bad_rating")
            return
        if not isinstance(comment, str):
            await self.error("missing_field", "comment must be text.")
            return
        if len(comment) > self.max_chars:
            await self.error("text_too_long")
            return
        async with realtime.deferred_broadcasts():
            code = await database_sync_to_async(self._rate)(score, comment)
        if code:
            await self.error(code)
        else:
            await self.send_json({"type": "ack", "of": "rating"})

    def _rate(self, score: int, comment: str) -> str | None:
        conversation = self.conversation
        conversation.refresh_from_db()
        if conversation.status != ConversationStatus.RESOLVED:
            return "not_resolved"
        try:
            services.conversation_rate(conversation=conversation, score=score, comment=comment)
        except services.ConversationStateError:
            return "already_rated"
        return None

    async def frame_contact(self, frame: dict) -> None:
        email = frame.get("email")
        if not isinstance(email, str) or len(email) > 254:
            await self.error("bad_email")
            return
        try:
            await database_sync_to_async(services.conversation_contact_set)(
                conversation=self.conversation, email=email
            )
        except ValueError:
            await self.error("bad_email")
            return
        await self.send_json({"type": "ack", "of": "contact"})

    # --- Group events (chat.realtime) -> frames ----------------------------------------------

    async def chat_message(self, event: dict) -> None:
        frame = event["frame"]
        if frame["seq"] <= self.history_seq:
            return  # already sent with the transcript on join
        await self.send_json(frame)

    async def chat_delta(self, event: dict) -> None:
        await self.send_json(event["frame"])

    async def chat_typing(self, event: dict) -> None:
        if event["frame"]["author"] != Author.CUSTOMER:
            await self.send_json(event["frame"])

    async def chat_handoff(self, event: dict) -> None:
        await self.send_json(event["frame"])

    async def chat_conversation(self, event: dict) -> None:
        await self.send_json(event["frame"])
