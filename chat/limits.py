"""Budgets shared by every socket and every process: floods are counted where they land.

A budget allows ``limit`` uses per ``seconds`` for one subject (a conversation, an address) in
fixed windows (window number = ``now // seconds``; a burst can reach twice the limit across a
window boundary, never more). The count lives in Redis when ``REDIS_URL`` is set, so ten sockets
on two Daphne processes draw on one budget, and in this process's memory otherwise (the
embedded setup is one process). Redis is reached with redis-py in one round trip per check
(``SET key 0 EX ttl NX`` + ``INCR key``, pipelined); if Redis cannot be reached a budget lets
the frame through and logs a warning, so a Redis restart never turns into refused messages.

What is counted (each a setting, see supportdesk/settings.py and the README's security section):

* messages per conversation and per address (a resend of a stored message gives its use back,
  ``refund``); ``contact``, ``typing`` and ``feedback`` frames per conversation; failed joins
  per address;
* open customer sockets per address (a lease per socket, so a crashed process's sockets stop
  counting after ``CHAT_SOCKET_LEASE_SECONDS``);
* queue updates to agent consoles: at most one per conversation per
  ``CONSOLE_QUEUE_UPDATE_SECONDS``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches

from . import shared_redis

logger = logging.getLogger(__name__)

LOCAL_CACHE = "limits"


@dataclass(frozen=True)
class Budget:
    """``limit`` uses per ``seconds`` for each subject, counted under ``name``."""

    name: str
    limit: int
    seconds: float


def _rate(name: str, value: Any) -> Budget:
    limit, seconds = value
    return Budget(name, int(limit), float(seconds))


def message_per_conversation() -> Budget:
    return Budget(
        "message", settings.CHAT_RATE_LIMIT_MESSAGES, settings.CHAT_RATE_LIMIT_SECONDS
    )


def message_per_address() -> Budget:
    return _rate("message-address", settings.CHAT_RATE_ADDRESS_MESSAGES)


def frame_per_conversation(kind: str) -> Budget:
    """The budget of ``contact``, ``typing``, ``feedback`` or ``transcript`` frames of one
    conversation."""
    value = {
        "contact": settings.CHAT_RATE_CONTACT,
        "typing": settings.CHAT_RATE_TYPING,
        "feedback": settings.CHAT_RATE_FEEDBACK,
        "transcript": settings.CHAT_RATE_TRANSCRIPT,
    }[kind]
    return _rate(kind, value)


def failed_joins_per_address() -> Budget:
    return _rate("failed-join", settings.CHAT_FAILED_JOINS)


# --- Storage ---------------------------------------------------------------------------------

def _redis() -> Any | None:
    """The process's redis-py client (``chat.shared_redis``), or None without Redis."""
    return shared_redis.client()


def _key(*parts: object) -> str:
    return shared_redis.key("limits", *parts)


def _redis_failed(what: str) -> None:
    logger.warning("budget check skipped: Redis unreachable (%s)", what)


def spend(*charges: tuple[Budget, str]) -> float | None:
    """Counts one use of each ``(budget, subject)``.

    Returns None when every budget still had room, else the seconds until the tightest
    exhausted budget's window ends (the ``retry_after`` to answer; the use is counted either
    way, so a client that keeps pushing stays refused until then).
    """
    now = time.time()
    rows = []
    for budget, subject in charges:
        window = math.floor(now / budget.seconds)
        rows.append((budget, _key(budget.name, subject, window), (window + 1) * budget.seconds))
    client = _redis()
    if client is not None:
        import redis

        pipe = client.pipeline(transaction=False)
        for budget, key, _ in rows:
            pipe.set(key, 0, ex=math.ceil(budget.seconds) + 1, nx=True)
            pipe.incr(key)
        try:
            counts = pipe.execute()[1::2]
        except redis.RedisError:
            _redis_failed("spend")
            return None
    else:
        cache = caches[LOCAL_CACHE]
        counts = []
        for budget, key, _ in rows:
            cache.add(key, 0, timeout=budget.seconds + 1)
            try:
                counts.append(cache.incr(key))
            except ValueError:  # expired between add and incr: a fresh window
                cache.add(key, 1, timeout=budget.seconds + 1)
                counts.append(1)
    waits = [
        max(0.0, ends - now)
        for (budget, _, ends), count in zip(rows, counts, strict=True)
        if count > budget.limit
    ]
    return round(max(waits), 1) if waits else None


# Gives one use back unless the count is gone (its window ended) or already nothing: a
# refund never creates a key, so it never leaves one without its expiry.
_REFUND_SCRIPT = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
"""


def refund(*charges: tuple[Budget, str]) -> None:
    """Gives back one use of each ``(budget, subject)`` that ``spend`` counted for a frame that
    turned out to change nothing (a resend of a stored message). Only the current window is
    refunded (a use counted just before a window's end is not given back in the next); one
    round trip (a short Lua script, as ``spend``'s pipeline); never raises: with Redis
    unreachable the use stays counted and a warning is logged."""
    now = time.time()
    keys = [_key(budget.name, subject, math.floor(now / budget.seconds))
            for budget, subject in charges]
    client = _redis()
    if client is not None:
        import redis

        try:
            client.eval(_REFUND_SCRIPT, len(keys), *keys)
        except redis.RedisError:
            _redis_failed("refund")
        return
    cache = caches[LOCAL_CACHE]
    for key in keys:
        if cache.get(key, 0) > 0:
            try:
                cache.decr(key)
            except ValueError:  # expired meanwhile: nothing to give back
                pass


def exhausted(budget: Budget, subject: str) -> float | None:
    """Like ``spend`` but counts nothing: the seconds to wait if ``subject`` has used up
    ``budget`` in this window, else None."""
    now = time.time()
    window = math.floor(now / budget.seconds)
    key = _key(budget.name, subject, window)
    client = _redis()
    if client is not None:
        import redis

        try:
            count = int(client.get(key) or 0)
        except redis.RedisError:
            _redis_failed("exhausted")
            return None
    else:
        count = caches[LOCAL_CACHE].get(key, 0)
    if count < budget.limit:
        return None
    return round(max(0.0, (window + 1) * budget.seconds - now), 1)


def once_per(name: str, subject: object, seconds: float) -> bool:
    """True for the first call per ``seconds`` for ``(name, subject)`` across every process,
    False for the others in that time."""
    key = _key("once", name, subject)
    client = _redis()
    if client is not None:
        import redis

        try:
            return bool(client.set(key, 1, px=max(1, int(seconds * 1000)), nx=True))
        except redis.RedisError:
            _redis_failed("once_per")
            return True
    return caches[LOCAL_CACHE].add(key, 1, timeout=seconds)


# --- Open sockets per address ------------------------------------------------------------------


def socket_open(address: str, channel_name: str) -> float | None:
    """Counts an open customer socket for ``address``.

    Returns None if it is within ``CHAT_SOCKETS_PER_ADDRESS``; otherwise it is not counted and
    the answer is the seconds to wait (the join deadline: by then sockets that never joined are
    closed). Each socket holds a lease of ``CHAT_SOCKET_LEASE_SECONDS`` so that sockets of a
    process that died stop counting; ``socket_close`` gives it back.
    """
    cap = settings.CHAT_SOCKETS_PER_ADDRESS
    lease = settings.CHAT_SOCKET_LEASE_SECONDS
    retry = float(settings.CHAT_JOIN_DEADLINE_SECONDS)
    now = time.time()
    key = _key("sockets", address)
    client = _redis()
    if client is not None:
        import redis

        try:
            pipe = client.pipeline(transaction=True)
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zadd(key, {channel_name: now + lease})
            pipe.zcard(key)
            pipe.expire(key, int(lease) + 1)
            count = pipe.execute()[2]
            if count > cap:
                client.zrem(key, channel_name)
                return retry
        except redis.RedisError:
            _redis_failed("socket_open")
        return None
    cache = caches[LOCAL_CACHE]
    held = {c: t for c, t in cache.get(key, {}).items() if t > now}
    if len(held) >= cap:
        return retry
    held[channel_name] = now + lease
    cache.set(key, held, timeout=lease + 1)
    return None


def socket_close(address: str, channel_name: str) -> None:
    """Gives back the lease ``socket_open`` took (nothing if it took none)."""
    key = _key("sockets", address)
    client = _redis()
    if client is not None:
        import redis

        try:
            client.zrem(key, channel_name)
        except redis.RedisError:
            _redis_failed("socket_close")
        return
    cache = caches[LOCAL_CACHE]
    held = cache.get(key, {})
    if held.pop(channel_name, None) is not None:
        cache.set(key, held, timeout=settings.CHAT_SOCKET_LEASE_SECONDS + 1)


def reset() -> None:
    """Forgets every count (tests; an operator lifting a block)."""
    client = _redis()
    if client is not None:
        keys = list(client.scan_iter(match=_key("*"), count=1000))
        if keys:
            client.delete(*keys)
    caches[LOCAL_CACHE].clear()


def client_address(scope: dict[str, Any]) -> str:
    """The peer address of a connection's ASGI scope (Daphne's ``--proxy-headers`` puts the
    forwarded client there behind a proxy); ``"unknown"`` when the server gives none."""
    client = scope.get("client")
    if client and client[0]:
        return str(client[0])
    return "unknown"
