from channels.generic.websocket import AsyncJsonWebsocketConsumer


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    """Live updates for the agent console (queue changes, transcripts, customer typing)."""

    async def connect(self) -> None:
        await self.close(code=4403)
