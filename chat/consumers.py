from channels.generic.websocket import AsyncJsonWebsocketConsumer


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """The customer's side of a conversation (see docs/protocol.md)."""

    async def connect(self) -> None:
        await self.close(code=4403)
