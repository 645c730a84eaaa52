"""The application the benchmark serves: SupportDesk's own, plus a bare echo socket.

``/ws/bench/echo/`` answers each text frame by sending it through the channel layer to a
group of its own and back to the socket, so the baseline crosses the same Daphne and the
same channel layer (Redis) as a chat message does, without the database or the worker. It
exists only in this module: the production routing never has it.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")

from channels.generic.websocket import AsyncWebsocketConsumer

from supportdesk.asgi import application as supportdesk_application


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


echo_application = EchoConsumer.as_asgi()


async def application(scope, receive, send):
    if scope["type"] == "websocket" and scope.get("path") == "/ws/bench/echo/":
        return await echo_application(scope, receive, send)
    return await supportdesk_application(scope, receive, send)
