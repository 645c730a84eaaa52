"""The chat through the real stack: Daphne, the Redis channel layer and a Celery worker."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid

import pytest
from websockets.asyncio.client import connect

from chat.models import Message

pytestmark = pytest.mark.services

TIMEOUT = 20


def open_conversation(base_url: str, origin: str) -> dict:
    request = urllib.request.Request(
        base_url + "/api/widget/conversations/",
        data=json.dumps({"widget": "demo"}).encode(),
        headers={"Content-Type": "application/json", "Origin": origin},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.load(response)


async def next_frame(ws, predicate) -> dict:
    async def wait() -> dict:
        while True:
            frame = json.loads(await ws.recv())
            if predicate(frame):
                return frame

    return await asyncio.wait_for(wait(), TIMEOUT)


def test_customer_message_gets_the_workers_bot_reply(daphne_server, celery_worker, demo):
    opened = open_conversation(daphne_server, daphne_server)
    ws_url = daphne_server.replace("http", "ws", 1) + opened["ws_path"]

    async def chat() -> tuple[dict, dict, dict]:
        async with connect(ws_url, origin=daphne_server) as ws:
            await ws.send(
                json.dumps(
                    {
                        "type": "join",
                        "conversation_id": opened["conversation_id"],
                        "token": opened["token"],
                        "after_seq": 0,
                    }
                )
            )
            joined = await next_frame(ws, lambda f: True)
            frame = {
                "type": "message",
                "client_id": str(uuid.uuid4()),
                "text": "where is my order A-55102?",
            }
            await ws.send(json.dumps(frame))
            echo = await next_frame(ws, lambda f: f["type"] == "message")
            reply = await next_frame(ws, lambda f: f["type"] == "message" and f["author"] == "bot")
            await ws.send(json.dumps(frame))  # resent: acknowledged again, not stored again
            ack = await next_frame(ws, lambda f: f["type"] == "message")
            assert ack["seq"] == echo["seq"]
            return joined, echo, reply

    joined, echo, reply = asyncio.run(chat())
    assert joined["type"] == "joined" and joined["status"] == "bot"
    assert echo["author"] == "customer" and echo["seq"] == 1
    assert reply["reply_to"] == 1 and reply["text"]
    assert Message.objects.filter(conversation__public_id=opened["conversation_id"]).count() == 2


def test_a_foreign_origin_cannot_open_the_socket(daphne_server, widget):
    from websockets.exceptions import InvalidStatus

    async def attempt() -> None:
        async with connect(
            daphne_server.replace("http", "ws", 1) + "/ws/chat/", origin="https://evil.example"
        ):
            pass

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(attempt())
    assert refused.value.response.status_code == 403


def test_a_lost_bot_task_is_queued_again_and_the_worker_answers(celery_worker, demo, settings):
    """A customer message whose task never reached the worker (queued nowhere, as when Redis
    restarts without persistence) is answered once the outbox dispatcher runs."""
    import time

    from chat import services, tasks
    from chat.models import Widget

    settings.CHAT_OWED_ANSWER_REQUEUE_SECONDS = 0
    widget = Widget.objects.get(public_key="demo")
    conversation, _ = services.conversation_start(widget=widget)
    lost, _ = services.message_create_incoming(
        conversation=conversation, text="What is your return policy?", client_id=uuid.uuid4(),
        queue_bot=False,
    )
    time.sleep(1)
    assert not Message.objects.filter(in_reply_to=lost).exists()

    assert tasks.owed_answers_dispatch() == 1
    deadline = time.monotonic() + TIMEOUT
    while not Message.objects.filter(in_reply_to=lost).exists():
        assert time.monotonic() < deadline, "the worker did not answer the requeued message"
        time.sleep(0.2)
    reply = Message.objects.get(in_reply_to=lost)
    assert reply.author == "bot" and "return" in reply.text.lower()
    assert tasks.owed_answers_dispatch() == 0  # answered: nothing owed any more
