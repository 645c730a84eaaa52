"""Heartbeats of the Celery worker and beat, for /healthz and the console's banner.

Beat records itself when it publishes the heartbeat task (``chat.tasks.heartbeat``), the worker
when it runs it, both in the cache (Redis with services, so every process reads the same
moments). ``supportdesk.health`` reports them; chat never imports ``supportdesk``.
"""

from __future__ import annotations

import logging
import time

from celery import current_app
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

SEEN_KEY = "health:seen:{}"


def seen(process: str) -> None:
    """Records that ``process`` ("worker" or "beat") is alive now; never raises."""
    try:
        cache.set(SEEN_KEY.format(process), time.time(), timeout=24 * 3600)
    except Exception:  # the cache (Redis) is down: /healthz says so through the broker check
        logger.warning("could not record the %s heartbeat", process, exc_info=True)


def seen_ago(process: str) -> float | None:
    """Seconds since ``process`` was last seen, or None if never (or the cache is down)."""
    try:
        moment = cache.get(SEEN_KEY.format(process))
    except Exception:
        return None
    return None if moment is None else max(0.0, time.time() - float(moment))


def tasks_run_in_process() -> bool:
    """Whether Celery runs tasks in the calling process (eager: the embedded defaults)."""
    return bool(current_app.conf.task_always_eager)


def bot_down() -> bool:
    """Whether the bot cannot answer now: no worker seen within
    ``HEALTH_PROCESS_STALE_SECONDS`` (never with eager Celery), for the console's banner."""
    if tasks_run_in_process():
        return False
    ago = seen_ago("worker")
    return ago is None or ago > settings.HEALTH_PROCESS_STALE_SECONDS
