"""The agent console's WebSocket: live queue changes, the watched transcript, customer typing.

A thin door: it admits only signed-in agents from an allowed origin, joins the queue group,
follows the one conversation the agent has open, and forwards group events to the page as
small frames (the page then refreshes its htmx fragments). Presence counts these sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from accounts.roles import AGENTS, has_role
from chat.frames import FrameError, decode_frame
from chat.models import Conversation
from chat.origins import same_origin
from chat.realtime import (
    QUEUE_GROUP,
    abroadcast_typing,
    agent_group,
    console_conversation_group,
    conversation_group,
    deferred_broadcasts,
)

from .services import presence_connect, presence_disconnect, presence_touch

# Close codes: 4401 not signed in, 4403 not an agent or a foreign origin.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# Console frames carry ids and flags only: a few hundred characters is plenty.
MAX_FRAME_TEXT_CHARS = 256


def origin_allowed(scope: dict[str, Any]) -> bool:
    """The handshake's Origin must be the server's own: same scheme, host and port."""
    return same_origin(scope)


def _is_agent(user: Any) -> bool:
    return has_role(user, [AGENTS])


def _conversation_exists(pk: int) -> bool:
    return Conversation.objects.filter(pk=pk).exists()


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    """Live updates for the agent console (queue changes, transcripts, customer typing)."""

    user: Any = None
    watching: int | None = None
    heartbeat: asyncio.Task | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not origin_allowed(self.scope):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await database_sync_to_async(_is_agent)(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user = user
        await self.channel_layer.group_add(QUEUE_GROUP, self.channel_name)
        await self.channel_layer.group_add(agent_group(user.pk), self.channel_name)
        await self.accept()
        async with deferred_broadcasts():  # customers' widgets hear an agent came online
            await database_sync_to_async(presence_connect)(agent=user)
        self.heartbeat = asyncio.create_task(self._beat())
        await self.send_json({"type": "ready"})

    async def _beat(self) -> None:
        """Keeps the presence fresh while this socket lives; a crashed process stops beating,
        and its agent stops counting as online (see ``agents_online_count``)."""
        while True:
            await asyncio.sleep(settings.CONSOLE_PRESENCE_HEARTBEAT_SECONDS)
            await database_sync_to_async(presence_touch)(agent=self.user)

    async def disconnect(self, code: int) -> None:
        await self.leave()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Runs the socket; however it ends (closed, a handler's error, a cancelled task), its
        heartbeat stops and its presence and groups are given back."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            await asyncio.shield(self.leave())

    async def leave(self) -> None:
        """Gives back what ``connect`` took; safe to call twice."""
        user, self.user = self.user, None
        if user is None:
            return
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.heartbeat
        await self.channel_layer.group_discard(QUEUE_GROUP, self.channel_name)
        await self.channel_layer.group_discard(agent_group(user.pk), self.channel_name)
        if self.watching is not None:
            await self.channel_layer.group_discard(
                conversation_group(self.watching), self.channel_name
            )
            await self.channel_layer.group_discard(
                console_conversation_group(self.watching), self.channel_name
            )
        async with deferred_broadcasts():
            await database_sync_to_async(presence_disconnect)(agent=user)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            content = decode_frame(text_data, max_chars=MAX_FRAME_TEXT_CHARS)
        except FrameError as exc:
            await self._error(exc.code, exc.message)
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        kind = content.get("type")
        if kind == "watch":
            await self._watch(content.get("conversation_id"))
        elif kind == "typing":
            if self.watching is None or not isinstance(content.get("is_typing"), bool):
                await self._error("bad_frame", "Typing needs an open conversation and is_typing.")
                return
            await abroadcast_typing(self.watching, "agent", content["is_typing"])
        else:
            await self._error("unknown_type", "Frames are watch or typing.")

    async def _watch(self, conversation_id: Any) -> None:
        if conversation_id is None:
            pk = None
        elif isinstance(conversation_id, int) and not isinstance(conversation_id, bool):
            pk = conversation_id
            if not await database_sync_to_async(_conversation_exists)(pk):
                await self._error("not_found", "No such conversation.")
                return
        else:
            await self._error("bad_frame", "conversation_id is a number or null.")
            return
        if self.watching is not None and self.watching != pk:
            await self.channel_layer.group_discard(
                conversation_group(self.watching), self.channel_name
            )
            await self.channel_layer.group_discard(
                console_conversation_group(self.watching), self.channel_name
            )
        if pk is not None and pk != self.watching:
            await self.channel_layer.group_add(conversation_group(pk), self.channel_name)
            await self.channel_layer.group_add(console_conversation_group(pk), self.channel_name)
        self.watching = pk
        await self.send_json({"type": "watching", "conversation_id": pk})

    async def _error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    # --- Group events (chat.events): each carries the frame to forward in "frame". ----------

    async def _forward_conversation_frame(self, event: dict[str, Any]) -> None:
        """A frame of the watched conversation, labelled with its id for the page."""
        if self.watching is not None:
            await self.send_json({**event["frame"], "conversation_id": self.watching})

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self._forward_conversation_frame(event)

    async def chat_typing(self, event: dict[str, Any]) -> None:
        await self._forward_conversation_frame(event)

    async def chat_handoff(self, event: dict[str, Any]) -> None:
        await self._forward_conversation_frame(event)

    async def chat_conversation(self, event: dict[str, Any]) -> None:
        await self._forward_conversation_frame(event)

    async def chat_delta(self, event: dict[str, Any]) -> None:
        """Streamed bot text: the console shows the stored reply when it lands instead."""

    async def console_note(self, event: dict[str, Any]) -> None:
        """A private note or assignment line of the watched conversation (agents only)."""
        if event["frame"].get("conversation_id") == self.watching:
            await self.send_json(event["frame"])

    async def agent_notice(self, event: dict[str, Any]) -> None:
        """This agent was mentioned in a note or handed a conversation."""
        await self.send_json(event["frame"])

    async def queue_changed(self, event: dict[str, Any]) -> None:
        await self.send_json(event["frame"])

    async def conversation_updated(self, event: dict[str, Any]) -> None:
        await self.send_json(event["frame"])
