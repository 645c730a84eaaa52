"""Checks for /healthz: the database, the channel layer, the Celery broker, the worker and beat
(seen within ``HEALTH_PROCESS_STALE_SECONDS``) and the age of the oldest answer the bot owes
(unhealthy past ``HEALTH_OWED_ANSWER_MAX_SECONDS``).

Worker and beat are seen through their heartbeats (``chat.liveness``). With eager Celery (the
embedded defaults) there is no beat, only ``manage.py run_schedule`` beside Daphne, which
publishes nothing a heartbeat could see: /healthz then has no beat check at all, neither a
claim that beat is well nor a failure for its absence.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import NotRequired, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.utils import timezone

from chat.liveness import seen_ago, tasks_run_in_process

logger = logging.getLogger(__name__)


class Check(TypedDict):
    ok: bool
    backend: str
    ms: float
    error: str
    # worker and beat: seconds since last seen; owed_answers: the oldest owed answer's age.
    age_seconds: NotRequired[float | None]


def _timed(backend: str, probe) -> Check:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:
        return {
            "ok": False,
            "backend": backend,
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "error": type(exc).__name__,
        }
    return {
        "ok": True,
        "backend": backend,
        "ms": round((time.perf_counter() - started) * 1000, 1),
        "error": "",
    }


def check_database() -> Check:
    def probe() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    return _timed(connection.vendor, probe)


def check_channel_layer() -> Check:
    layer = get_channel_layer()

    async def roundtrip() -> None:
        channel = await layer.new_channel("healthz.")
        marker = uuid.uuid4().hex
        await layer.send(channel, {"type": "healthz", "marker": marker})
        message = await layer.receive(channel)
        if message.get("marker") != marker:
            raise RuntimeError("channel layer returned another message")

    def probe() -> None:
        async_to_sync(roundtrip)()

    return _timed(type(layer).__name__, probe)


def check_broker() -> Check:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "backend": "eager", "ms": 0.0, "error": ""}
    from supportdesk.celery import app

    def probe() -> None:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)

    return _timed("redis", probe)


def check_process(process: str) -> Check:
    """The worker or beat was seen within ``HEALTH_PROCESS_STALE_SECONDS``.

    With eager Celery (embedded defaults) the web process runs the tasks: always ok (beat is
    not checked there at all, see ``check_all``).
    """
    if tasks_run_in_process():
        return {"ok": True, "backend": "eager", "ms": 0.0, "error": ""}
    ago = seen_ago(process)
    ok = ago is not None and ago <= settings.HEALTH_PROCESS_STALE_SECONDS
    return {
        "ok": ok,
        "backend": "celery",
        "ms": 0.0,
        "error": "" if ok else ("never seen" if ago is None else f"last seen {ago:.0f} s ago"),
        "age_seconds": round(ago, 1) if ago is not None else None,
    }


def check_owed_answers() -> Check:
    """The oldest answer the bot still owes is younger than ``HEALTH_OWED_ANSWER_MAX_SECONDS``.

    ``age_seconds`` is that age (0 when nothing is owed).
    """
    from chat.outbox import owed_answer_oldest_age

    started = time.perf_counter()
    try:
        age = owed_answer_oldest_age(now=timezone.now()) or 0.0
    except Exception as exc:
        return {
            "ok": False,
            "backend": "outbox",
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "error": type(exc).__name__,
        }
    ok = age <= settings.HEALTH_OWED_ANSWER_MAX_SECONDS
    return {
        "ok": ok,
        "backend": "outbox",
        "ms": round((time.perf_counter() - started) * 1000, 1),
        "error": "" if ok else f"an answer has been owed for {age:.0f} s",
        "age_seconds": round(age, 1),
    }


def beat_expected() -> bool:
    """Whether a Celery beat process should be running: only with worker processes (a broker);
    eager Celery has none (``run_schedule`` runs the schedule instead)."""
    return not tasks_run_in_process()


def check_all() -> dict[str, Check]:
    """Every check /healthz reports, by name; ``beat`` only where a beat is expected."""
    checks: dict[str, Check] = {
        "database": check_database(),
        "channel_layer": check_channel_layer(),
        "broker": check_broker(),
        "worker": check_process("worker"),
    }
    if beat_expected():
        checks["beat"] = check_process("beat")
    checks["owed_answers"] = check_owed_answers()
    return checks
