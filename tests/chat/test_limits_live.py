"""Budgets under load on the real stack: ten sockets split over two Daphne processes.

Loopback only and bounded in count (100 messages, 60 contact frames), never in time: every
frame sent is awaited until its answer arrives. The two Daphne processes share the test
database and Redis and run with a per-conversation budget of 10 messages per 600 s.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from chat.models import Contact, Message, Widget
from tests.conftest import ROOT, _free_port, _subprocess_env, _wait_for

pytestmark = pytest.mark.services

LIMIT = 10
WINDOW = 600
SOCKETS = 10
PER_SOCKET = 10
TIMEOUT = 20


def _start_daphne(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
             "supportdesk.asgi:application"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    _wait_for(answering, 60, "Daphne", log)
    return proc, base


@pytest.fixture(scope="module")
def two_daphnes(django_db_setup, django_db_blocker, artifacts_dir: Path) -> Iterator[list[str]]:
    from tests.conftest import _services_problem

    if _services_problem():
        pytest.skip(_services_problem())
    with django_db_blocker.unblock():
        env = _subprocess_env()
    env.update({
        "CHAT_RATE_LIMIT_MESSAGES": str(LIMIT),
        "CHAT_RATE_LIMIT_SECONDS": str(WINDOW),
        "CHAT_RATE_ADDRESS_MESSAGES": f"1000/{WINDOW}",
        "CHAT_RATE_CONTACT": f"3/{WINDOW}",
        "CHAT_SOCKETS_PER_ADDRESS": "100",
    })
    procs, bases = [], []
    try:
        for number in range(2):
            proc, base = _start_daphne(env, artifacts_dir / f"daphne-limits-{number}.log")
            procs.append(proc)
            bases.append(base)
        yield bases
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def waiting(transactional_db):
    """A conversation an agent has: customer messages queue no bot task."""
    from chat import services
    from tests.chat.conftest import make_user

    widget = Widget.objects.create(
        public_key="acme", name="Acme", allowed_origins=["https://shop.example", "self"]
    )
    conversation, token = services.conversation_start(widget=widget)
    services.conversation_claim(conversation=conversation, agent=make_user("alex", "agents"))
    return conversation, token


async def _socket(base: str, conversation, token: str):
    ws = await connect(base.replace("http", "ws", 1) + "/ws/chat/", origin="https://shop.example")
    await ws.send(json.dumps({"type": "join", "conversation_id": str(conversation.public_id),
                              "token": token}))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if frame["type"] == "joined":
            return ws
        assert frame["type"] != "error", frame


async def _answer(ws, sent: dict) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if frame["type"] in ("error", "ack"):
            return frame
        if frame["type"] == "message" and frame.get("client_id") == sent.get("client_id"):
            return frame


def _flood(bases: list[str], conversation, token: str, frames) -> list[dict]:
    """Ten sockets, alternating between the two processes, each sending its frames as fast
    as answers come back; returns every answer."""

    async def run() -> list[dict]:
        sockets = [
            await _socket(bases[i % len(bases)], conversation, token) for i in range(SOCKETS)
        ]

        async def one(ws) -> list[dict]:
            answers = []
            for frame in frames():
                await ws.send(json.dumps(frame))
                answers.append(await _answer(ws, frame))
            return answers

        try:
            results = await asyncio.gather(*(one(ws) for ws in sockets))
        finally:
            for ws in sockets:
                await ws.close()
        return [answer for answers in results for answer in answers]

    return asyncio.run(run())


def test_ten_sockets_on_two_processes_share_one_message_budget(two_daphnes, waiting):
    conversation, token = waiting

    def messages():
        return [
            {"type": "message", "client_id": str(uuid.uuid4()), "text": f"hello {n}"}
            for n in range(PER_SOCKET)
        ]

    answers = _flood(two_daphnes, conversation, token, messages)
    assert len(answers) == SOCKETS * PER_SOCKET
    accepted = [a for a in answers if a["type"] == "message"]
    refused = [a for a in answers if a["type"] == "error"]
    assert {a["code"] for a in refused} == {"rate_limited"}
    assert all(0 <= a["retry_after"] <= WINDOW for a in refused)
    # One budget for the conversation: at most the limit in a window (twice it if the run
    # happened to straddle a window boundary), never one budget per socket or process.
    assert 1 <= len(accepted) <= 2 * LIMIT
    stored = Message.objects.filter(conversation=conversation, author="customer").count()
    assert stored == len(accepted)


def test_contact_frames_on_two_processes_share_one_budget_and_make_one_row(
    two_daphnes, waiting
):
    conversation, token = waiting

    def contacts():
        return [{"type": "contact", "email": "ann@example.com"} for _ in range(6)]

    answers = _flood(two_daphnes, conversation, token, contacts)
    acks = [a for a in answers if a["type"] == "ack"]
    assert 1 <= len(acks) <= 2 * 3
    assert {a["code"] for a in answers if a["type"] == "error"} == {"contact_limited"}
    assert Contact.objects.count() == 1
