"""One redis-py client per process for the desk's own small shared state.

Budgets (``chat.limits``), the webhook subscriptions' generation (``webhooks.services``) and
the bot's drain marks (``chat.outbox``) are a key or two each, read or written on every chat
turn. Django's cache builds a new ``redis.Redis`` for every call (about 0.2 ms of CPU each,
mostly its table of response callbacks); this client is built once per process (again after a
fork) and shares its connection pool. Keys are the desk's own (``key``), never the cache's or
Celery's. ``client()`` is None when ``REDIS_URL`` is not set: callers then keep the state in
this process (the embedded setup is one process).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from django.conf import settings

_client: tuple[int, Any] | None = None
_client_lock = threading.Lock()


def client() -> Any | None:
    """This process's ``redis.Redis`` for ``REDIS_URL`` (2 s socket timeouts), or None when
    ``REDIS_URL`` is empty. Built on first use and again in a forked child."""
    global _client
    if not settings.REDIS_URL:
        return None
    held = _client
    if held is not None and held[0] == os.getpid():
        return held[1]
    import redis

    with _client_lock:
        if _client is None or _client[0] != os.getpid():
            _client = (
                os.getpid(),
                redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
                ),
            )
        return _client[1]


def key(*parts: object) -> str:
    """``<REDIS_KEY_PREFIX>:<part>:<part>...``: one namespace per deployment's prefix."""
    return ":".join([settings.REDIS_KEY_PREFIX, *(str(p) for p in parts)])
