"""Reachability checks for /healthz: the database, the channel layer and the Celery broker."""

from __future__ import annotations

import time
import uuid
from typing import TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection


class Check(TypedDict):
    ok: bool
    backend: str
    ms: float
    error: str


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


def check_all() -> dict[str, Check]:
    return {
        "database": check_database(),
        "channel_layer": check_channel_layer(),
        "broker": check_broker(),
    }
