"""The application the benchmark serves: SupportDesk's own, plus a bare echo socket.

``/ws/bench/echo/`` answers each text frame by sending it through the channel layer to a
group of its own and back to the socket, so the baseline crosses the same Daphne and the
same channel layer (Redis) as a chat message does, without the database or the worker. It
exists only in this module: the production routing never has it.

``SD_BENCH_EXPERIMENTS`` (comma-separated, set by ``bench_chat.py --experiment``) patches the
customer consumer in this process only, to measure a proposed change before it is made:

* ``dispatch``: no ``aclose_old_connections()`` hop before every handler (Channels runs one
  on the single sync thread for every frame and every group event; the consumers reach the
  database only through ``database_sync_to_async``, which closes stale connections itself);
* ``threads``: the consumer's database calls run on a thread pool
  (``thread_sensitive=False``) instead of queueing on Daphne's one sync thread.
"""

from __future__ import annotations

import os
from functools import partial

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")

from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncWebsocketConsumer

from supportdesk.asgi import application as supportdesk_application

EXPERIMENTS = {
    name.strip() for name in os.environ.get("SD_BENCH_EXPERIMENTS", "").split(",") if name.strip()
}


async def dispatch_without_connection_hop(self, message: dict) -> None:
    handler = getattr(self, get_handler_name(message), None)
    if handler is None:
        raise ValueError(f"No handler for message type {message['type']}")
    await handler(message)


class EchoConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.group = f"bench.echo.{self.channel_name.rsplit('!', 1)[-1][-12:]}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.channel_layer.group_send(self.group, {"type": "bench.echo", "text": text_data})

    async def bench_echo(self, event: dict) -> None:
        await self.send(text_data=event["text"])

    # The echo touches no database: it never needs Channels' connection-closing hop.
    dispatch = dispatch_without_connection_hop


if EXPERIMENTS:
    import chat.consumers

    if "dispatch" in EXPERIMENTS:
        chat.consumers.ChatConsumer.dispatch = dispatch_without_connection_hop
    if "threads" in EXPERIMENTS:
        chat.consumers.database_sync_to_async = partial(
            DatabaseSyncToAsync, thread_sensitive=False
        )

echo_application = EchoConsumer.as_asgi()


async def application(scope, receive, send):
    if scope["type"] == "websocket" and scope.get("path") == "/ws/bench/echo/":
        return await echo_application(scope, receive, send)
    return await supportdesk_application(scope, receive, send)
