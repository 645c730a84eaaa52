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


def _failing_sends(monkeypatch, failures: int) -> list:
    """Replaces the layer send: its first ``failures`` calls fail as a connection that Redis
    closed on restart does; records every call's events."""
    calls: list = []

    async def send_many(sends):
        calls.append(sends)
        if len(calls) <= failures:
            raise ConnectionError("Connection closed by server.")

    monkeypatch.setattr(realtime, "_agroup_send_many", send_many)
    return calls


def test_a_send_that_meets_a_closed_connection_is_tried_once_more(monkeypatch, caplog):
    """After a Redis restart each process's first send meets a dead connection: the reply
    still reaches the widget (the second try takes a fresh one)."""
    calls = _failing_sends(monkeypatch, failures=1)
    realtime.broadcast_delta(42, 7, "Hel")
    assert len(calls) == 2 and calls[0] == calls[1]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_a_send_that_fails_twice_is_logged_and_never_raised(monkeypatch, caplog):
    calls = _failing_sends(monkeypatch, failures=5)
    realtime.broadcast_delta(42, 7, "Hel")  # the caller's stored reply is not undone
    assert len(calls) == 2
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        f"real-time send failed ({realtime.conversation_group(42)})"
    ]
