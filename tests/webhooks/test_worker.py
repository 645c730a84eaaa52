"""Webhooks through the real stack: a Celery worker on the webhooks queue (threads, as in the
Procfile), PostgreSQL, Redis and Daphne. Ids arrive in order per endpoint with retries after
500s, and slow, redirecting and unreachable endpoints delay no customer's message."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid

import pytest
from websockets.asyncio.client import connect

from chat import services as chat_services
from tests.chat.test_live import next_frame, open_conversation
from webhooks import services
from webhooks.models import Delivery, DeliveryStatus, Event

from .receiver import Receiver

pytestmark = pytest.mark.services


def _wait(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_the_worker_delivers_in_id_order_retrying_after_500s(webhook_worker, admin_user,
                                                             widget, receiver):
    receiver.statuses = [200, 200, 500, 200, 200, 500, 500]
    endpoint, receiver.secret = services.endpoint_create(
        actor=admin_user, url=receiver.url, events=["conversation.created", "message.created"],
    )
    conversations = [chat_services.conversation_start(widget=widget)[0] for _ in range(3)]
    for number in range(8):
        for conversation in conversations:
            chat_services.message_create_incoming(
                conversation=conversation, text=f"message {number}", client_id=None,
                queue_bot=False,
            )
    ids = list(Event.objects.order_by("id").values_list("public_id", flat=True))
    assert len(ids) == 27
    assert _wait(lambda: not Delivery.objects.filter(
        endpoint=endpoint, status=DeliveryStatus.PENDING).exists()), receiver.event_ids()
    assert receiver.event_ids(ok_only=True) == ids  # each once, in order
    failed = [r.event_id for r in receiver.received if r.answered == 500]
    assert len(failed) == 3
    for event_id in failed:  # retried at once after its failure, before any later event
        at = receiver.event_ids().index(event_id)
        assert receiver.received[at + 1].event_id == event_id or (
            receiver.received[at + 1].answered == 500)
    assert all(r.signature_ok for r in receiver.received)


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_slow_redirecting_and_unreachable_endpoints_delay_no_customer_message(
    webhook_worker, daphne_server, admin_user, demo
):
    slow = Receiver(delay=3.0).start()
    redirecting = Receiver(redirect_to="http://other-host.invalid/").start()
    try:
        for url in (slow.url, redirecting.url, f"http://127.0.0.1:{_dead_port()}/h"):
            services.endpoint_create(actor=admin_user, url=url,
                                     events=["conversation.created", "message.created"])
        opened = open_conversation(daphne_server, daphne_server)
        ws_url = daphne_server.replace("http", "ws", 1) + opened["ws_path"]

        async def chat() -> list[float]:
            waits = []
            async with connect(ws_url, origin=daphne_server) as ws:
                await ws.send(json.dumps({"type": "join", "token": opened["token"],
                                          "conversation_id": opened["conversation_id"],
                                          "after_seq": 0}))
                await next_frame(ws, lambda f: f["type"] == "joined")
                for number in range(5):
                    started = time.perf_counter()
                    await ws.send(json.dumps({"type": "message", "client_id": str(uuid.uuid4()),
                                              "text": f"hello {number}"}))
                    await next_frame(ws, lambda f: f["type"] == "message"
                                     and f["author"] == "customer")
                    waits.append(time.perf_counter() - started)
            return waits

        waits = asyncio.run(chat())
        # A delivery in the chat's path would hold each echo for the slow receiver's 3 s.
        assert max(waits) < 2.5, waits
        assert _wait(lambda: len(slow.received) >= 2)  # delivered all the same, later
        assert _wait(lambda: len(redirecting.received) >= 1)
    finally:
        slow.stop()
        redirecting.stop()
