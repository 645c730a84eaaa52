"""chat.realtime: where a sync caller's broadcasts go (the worker's and the console's path)."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer

from chat import realtime


@pytest.mark.services
def test_a_sync_broadcast_reaches_the_groups_sockets_through_redis():
    """Sent through the layer's public group_send on the process's send loop, heard by a
    consumer of the real pub/sub layer."""
    assert realtime.use_private_loop()  # the services pass uses a Redis layer
    group = realtime.conversation_group(987654)

    async def listen() -> list[dict]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        try:
            await asyncio.sleep(0.2)  # the subscription is live
            await asyncio.to_thread(realtime.broadcast_typing, 987654, "bot", True)
            await asyncio.to_thread(realtime.broadcast_delta, 987654, 3, "Hel")
            return [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(2)]
        finally:
            await layer.group_discard(group, channel)
            await layer.flush()

    first, second = asyncio.run(listen())
    assert first == {"type": "chat.typing",
                     "frame": {"type": "typing", "author": "bot", "is_typing": True}}
    assert second["frame"] == {"type": "message.delta", "reply_to": 3, "text": "Hel"}


def test_the_in_memory_layer_keeps_its_own_path(settings):
    """The in-memory layer's queues belong to the server's loop: no send loop of its own."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    try:
        assert realtime.use_private_loop() is False
    finally:
        channel_layers.backends.clear()
