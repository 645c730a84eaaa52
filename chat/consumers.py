"""The customer's WebSocket at ``/ws/chat/`` (the protocol is in docs/protocol.md).

A thin door: it checks the origin on the handshake, validates each frame, makes at most one
database hop per frame (a service or selector call) and forwards the conversation group's
events. Every bad frame gets an error frame and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from . import events, limits, realtime, selectors, services
from .frames import FrameError, decode_frame
from .models import Author, Conversation, ConversationStatus, Resolution
from .text import is_blank

logger = logging.getLogger(__name__)

MAX_FAILED_JOINS = 5
# A rejoin names at most this many seqs below its after_seq that it never received.
MAX_MISSING_SEQS = 100


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _missing_seqs(value: Any, after_seq: int) -> list[int] | None:
    """The join frame's ``missing_seqs`` checked (the gap fill), or None when malformed."""
    if not isinstance(value, list) or len(value) > MAX_MISSING_SEQS:
        return None
    if not all(_is_int(seq) and 1 <= seq <= after_seq for seq in value):
        return None
    return sorted(set(value))


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    """A conversation's public id from a frame: a UUID string, else None."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """The customer's side of a conversation."""

    conversation: Conversation | None = None

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
        self.customer_typing = False
        self.max_chars = settings.CHAT_MAX_MESSAGE_CHARS
        # Budgets (chat.limits): a cap on open sockets per address and a join deadline.
        self.address = limits.client_address(self.scope)
        self.join_deadline: asyncio.Task | None = None
        wait = limits.socket_open(self.address, self.channel_name)
        self.lease_address = self.address if wait is None else None
        await self.accept()
        if wait is not None:
            await self.error("rate_limited", "Too many open chats from this address.",
                             retry_after=wait)
            await self.close(code=4429)
            return
        self.join_deadline = asyncio.create_task(self._close_unless_joined())

    async def _close_unless_joined(self) -> None:
        await asyncio.sleep(settings.CHAT_JOIN_DEADLINE_SECONDS)
        if self.conversation is None:
            await self.error("join_timeout")
            await self.close(code=4408)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Runs the socket; however it ends (closed, an error, a cancelled task), its place in
        the per-address socket count is given back."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.release_socket()

    def release_socket(self) -> None:
        """Stops the join deadline and gives back the socket's lease; safe to call twice."""
        deadline, self.join_deadline = getattr(self, "join_deadline", None), None
        if deadline is not None:
            deadline.cancel()
        address, self.lease_address = getattr(self, "lease_address", None), None
        if address is not None:
            limits.socket_close(address, self.channel_name)

    async def disconnect(self, code: int) -> None:
        self.release_socket()
        if self.conversation is not None:
            if self.customer_typing:
                await realtime.abroadcast_typing(self.conversation.pk, Author.CUSTOMER, False)
            await self.channel_layer.group_discard(
                realtime.conversation_group(self.conversation.pk), self.channel_name
            )
            await self.channel_layer.group_discard(realtime.AVAILABILITY_GROUP, self.channel_name)
            try:  # for chat.mail: whether the customer has left (a write per leave, not message)
                await database_sync_to_async(services.customer_socket_left)(
                    conversation=self.conversation
                )
            except Exception:
                logger.warning("could not record a customer socket leaving", exc_info=True)

    # --- Inbound frames ----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = decode_frame(text_data, max_chars=self.max_chars)
        except FrameError as exc:
            await self.error(exc.code, exc.message)
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
        "transcript": "frame_transcript",
    }

    async def error(
        self,
        code: str,
        message: str | None = None,
        *,
        client_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        await self.send_json(
            realtime.error_frame(code, message, client_id=client_id, retry_after=retry_after)
        )

    async def over_budget(self, *charges: tuple[limits.Budget, str]) -> bool:
        """Spends one use of each budget; over one, answers rate_limited with retry_after."""
        wait = limits.spend(*charges)
        if wait is not None:
            await self.error("rate_limited", retry_after=wait)
        return wait is not None

    async def frame_join(self, frame: dict) -> None:
        if self.conversation is not None:
            await self.error("already_joined")
            return
        conversation_id = frame.get("conversation_id")
        token = frame.get("token")
        after_seq = frame.get("after_seq", 0)
        public_id = _uuid_or_none(conversation_id)
        if not (public_id and isinstance(token, str) and _is_int(after_seq)):
            await self.error("missing_field", "join needs conversation_id, token and after_seq.")
            return
        missing_seqs = _missing_seqs(frame.get("missing_seqs", []), after_seq)
        if missing_seqs is None:
            await self.error(
                "missing_field",
                f"missing_seqs is a list of at most {MAX_MISSING_SEQS} seqs from 1 to after_seq.",
            )
            return
        wait = limits.exhausted(limits.failed_joins_per_address(), self.address)
        if wait is not None:  # too many failed joins from this address: it waits
            await self.error("rate_limited", "Too many failed joins; wait.", retry_after=wait)
            return
        conversation = await database_sync_to_async(selectors.conversation_for_customer)(
            public_id=public_id, token=token
        )
        if conversation is None:
            self.failed_joins += 1
            if limits.spend((limits.failed_joins_per_address(), self.address)) is not None:
                logger.warning("failed joins from %s over the limit", self.address)
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
        # Join the groups before reading the transcript and the count of agents online, so
        # nothing falls between the two.
        await self.channel_layer.group_add(
            realtime.conversation_group(conversation.pk), self.channel_name
        )
        await self.channel_layer.group_add(realtime.AVAILABILITY_GROUP, self.channel_name)
        self.conversation = conversation
        zone = frame.get("timezone")
        joined, frames = await database_sync_to_async(self._joined)(
            conversation, after_seq, zone if isinstance(zone, str) else "", missing_seqs
        )
        # Live messages at or below this were in the transcript or are on the client already;
        # an after_seq above the conversation's last seq (a client that saw a seq the
        # database no longer has) must not hide the messages that take those seqs.
        self.history_seq = max([min(after_seq, joined["last_seq"])] + [f["seq"] for f in frames])
        await self.send_json(joined)
        for message_frame in frames:
            await self.send_json(message_frame)

    def _joined(
        self, conversation: Conversation, after_seq: int, zone: str, missing_seqs: list[int]
    ) -> tuple[events.JoinedFrame, list[events.MessageFrame]]:
        services.customer_socket_joined(conversation=conversation)
        conversation.refresh_from_db()
        if zone:
            try:
                services.conversation_timezone_set(conversation=conversation, zone=zone)
            except ValueError:
                pass  # an unknown zone is ignored: the join goes on with the zone it had
        frames = [
            realtime.message_frame(m)
            for m in selectors.messages_for_rejoin(
                conversation_id=conversation.pk, after_seq=after_seq, missing_seqs=missing_seqs
            )
        ]
        waiting = conversation.status == ConversationStatus.WAITING
        joined: events.JoinedFrame = {
            "type": "joined",
            "conversation_id": str(conversation.public_id),
            "status": conversation.status,
            "resolution": conversation.resolution,
            "rating": conversation.rating,
            "assignee_name": realtime.conversation_frame(conversation)["assignee_name"],
            "last_seq": conversation.last_seq,
            "agents_online": selectors.agents_online_count(),
            "max_chars": self.max_chars,
            "timezone": conversation.timezone,
            "email_left": services.address_left(conversation),
            "refused_emails": selectors.emails_refused_by_lookups(conversation_id=conversation.pk)
            if waiting else [],
        }
        return joined, frames

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
        charges = (
            (limits.message_per_conversation(), self.budget_id),
            (limits.message_per_address(), self.address),
        )
        if await self.over_budget(*charges):
            return
        async with realtime.deferred_broadcasts():
            # On the pool's threads, not the one thread-sensitive thread: every socket's
            # messages would otherwise queue behind each other.
            store = database_sync_to_async(services.message_create_incoming, thread_sensitive=False)
            message, created = await store(
                conversation=self.conversation, text=text, client_id=client_uuid
            )
        self.customer_typing = False
        if not created:
            # A resend: acknowledge again (the echo of the first send may have been lost). It
            # stored nothing, so it gives back what it spent: a widget sending its unacknowledged
            # messages again after a reconnect is not refused for its own resends.
            limits.refund(*charges)
            await self.send_json(realtime.message_frame(message))
        elif self.conversation.status == ConversationStatus.BOT:
            # The bot task is queued: show it working. Sent straight to this socket, which is
            # the only one that shows the bot's typing, rather than round the channel layer.
            await self.send_json({"type": "typing", "author": Author.BOT, "is_typing": True})

    @property
    def budget_id(self) -> str:
        """The joined conversation, as the subject of its budgets."""
        return str(self.conversation.pk)

    async def frame_typing(self, frame: dict) -> None:
        is_typing = frame.get("is_typing")
        if not isinstance(is_typing, bool):
            await self.error("missing_field", "typing needs is_typing (true or false).")
            return
        if await self.over_budget((limits.frame_per_conversation("typing"), self.budget_id)):
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
        if await self.over_budget((limits.frame_per_conversation("feedback"), self.budget_id)):
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
        comment = comment.strip()  # counted as the widget counts it, as a message is
        if len(comment) > self.max_chars:
            await self.error(
                "text_too_long", f"A comment has at most {self.max_chars} characters."
            )
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
        if not isinstance(email, str):
            await self.error("bad_email")
            return
        email = email.strip()
        try:  # a mistyped address is refused before it spends the budget
            services.check_email(email)
        except ValueError:
            await self.error("bad_email")
            return
        wait = limits.spend((limits.frame_per_conversation("contact"), self.budget_id))
        if wait is not None:
            # Not rate_limited: that tells the widget to send its messages again later, and
            # an address refused here is not sent later (the customer sends it again).
            await self.error("contact_limited", retry_after=wait)
            return
        try:
            await database_sync_to_async(services.conversation_contact_set)(
                conversation=self.conversation, email=email
            )
        except ValueError:
            await self.error("bad_email")
            return
        await self.send_json({"type": "ack", "of": "contact"})

    async def frame_transcript(self, frame: dict) -> None:
        email = frame.get("email", "")
        if not isinstance(email, str):
            await self.error("bad_email")
            return
        email = email.strip()
        try:  # a mistyped address is refused before it spends the budget
            if email:
                services.check_email(email)
        except ValueError:
            await self.error("bad_email")
            return
        # The budget per conversation, and the same per client address and per typed
        # recipient: a mail in the company's name must not become a way to flood an inbox.
        budget = limits.frame_per_conversation("transcript")
        charges = [(budget, self.budget_id), (budget, f"ip:{self.address}")]
        if email:
            charges.append((budget, f"to:{email.lower()}"))
        wait = limits.spend(*charges)
        if wait is not None:
            # Not rate_limited: that tells the widget to send its messages again later, and
            # a transcript refused here is not sent later.
            await self.error("transcript_limited", retry_after=wait)
            return
        try:
            await database_sync_to_async(services.transcript_email_request)(
                conversation=self.conversation, email=email
            )
        except ValueError:
            await self.error("bad_email")
            return
        await self.send_json({"type": "ack", "of": "transcript"})

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

    async def chat_availability(self, event: dict) -> None:
        await self.send_json(event["frame"])
