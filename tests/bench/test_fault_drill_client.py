"""The drill's customer resends as the widget does: one resend scheduled at a time.

Its first full run after issue 15's budgets spent minutes on ``rate_limited`` frames: every
refusal scheduled a resend of every pending message, each of which was refused again.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys

from tests.conftest import ROOT


def load_drill():
    spec = importlib.util.spec_from_file_location("fault_drill", ROOT / "bench" / "fault_drill.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fault_drill", module)
    spec.loader.exec_module(module)
    return module


class Socket:
    def __init__(self) -> None:
        self.frames: list[dict] = []

    async def send(self, raw: str) -> None:
        self.frames.append(json.loads(raw))


def test_many_refusals_schedule_one_resend_of_each_pending_message() -> None:
    drill = load_drill()

    async def scenario() -> tuple[list[dict], list[dict]]:
        customer = drill.Customer(number=1, base_url="http://127.0.0.1:1", origin="http://x")
        customer.ws, customer.joined = Socket(), True
        customer.pending = [(f"id-{n}", f"question {n}") for n in range(5)]
        for _ in range(5):  # one refusal per pending message, as the server answers them
            await customer.handle({"type": "error", "code": "rate_limited", "retry_after": 1})
        await customer.handle({"type": "error", "code": "server_error"})
        await asyncio.sleep(0.3)
        early = list(customer.ws.frames)
        await asyncio.sleep(1.2)  # past retry_after (1 s); the server_error waits for it
        return early, customer.ws.frames

    early, frames = asyncio.run(scenario())
    assert early == []  # nothing before retry_after
    assert sorted(f["client_id"] for f in frames) == [f"id-{n}" for n in range(5)]
    assert {f["type"] for f in frames} == {"message"}
