"""Delivering an endpoint's events: one signed POST per event, in event order, one task at a time.

``endpoint_deliver`` takes the endpoint's lease (``services.endpoint_lease``), then sends its
pending deliveries oldest event first until none is due, one fails (the rest wait behind it,
so a receiver sees the events of one endpoint in the order of their ids), or the time budget
is spent. ``post_event`` is the one HTTP request: httpx with ``WEBHOOK_TIMEOUT_SECONDS``,
no redirect followed (a 3xx is a failure: the body is never re-sent to another host), the
host checked again at delivery time (``services.address_allowed``: a name that now resolves
to a private address is refused), at most 500 characters of the answer kept. Successes are
stored a batch at a time (``_send_due``). Nothing here runs in a chat turn: the Celery task on
``WEBHOOK_QUEUE`` calls it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from knowledge.connector_network import AddressRefused, CheckedBackend, CheckedTransport

from . import services
from .models import Delivery, DeliveryStatus, Endpoint, Event
from .signing import SIGNATURE_HEADER, signature_header

EXCERPT_BYTES = 500
ERROR_CHARS = 200  # DeliveryAttempt.error's length
BATCH = 50  # deliveries read at a time (the endpoint is read again between batches)
FLUSH_SECONDS = 1.0  # successes held unstored at most this long (see ``_send_due``)
USER_AGENT = "SupportDesk-Webhooks/1"

_local = threading.local()


def _private_allowed(host: str, port: int) -> bool:
    """Whether a delivery may connect to any address of ``host``
    (``WEBHOOK_ALLOW_PRIVATE_NETWORKS``)."""
    return settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS


def _client() -> httpx2.Client:
    """This thread's HTTP client, made once: building one (its TLS context above all) costs
    more CPU than a delivery, and its pool keeps connections to the receivers open."""
    client = getattr(_local, "client", None)
    if client is None:
        # Each connection goes to an address checked when it is opened (the connectors'
        # CheckedBackend): a name that resolves to a public address when the endpoint is
        # saved cannot later send deliveries to a private one (DNS rebinding).
        transport = CheckedTransport(CheckedBackend(exempt=_private_allowed))
        client = _local.client = httpx2.Client(follow_redirects=False, transport=transport)
    return client


@dataclass
class AttemptOutcome:
    """One POST: ``ok`` for a 2xx answer; else ``error`` or the ``status_code`` says why."""

    ok: bool
    status_code: int | None
    error: str
    body_excerpt: str
    duration_ms: float


@dataclass
class DeliverRun:
    """What one run did: ``sent`` attempts, ``more`` when the budget ran out with deliveries
    still due, ``retry_in`` seconds until the head delivery's next try (None: nothing waits)."""

    sent: int = 0
    more: bool = False
    retry_in: float | None = None


def event_bytes(event: Event) -> bytes:
    """The body of every delivery of ``event``: its stored payload as compact UTF-8 JSON."""
    return json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False,
                      cls=DjangoJSONEncoder).encode()


def post_event(
    *, url: str, secret: str, event: Event, transport: httpx2.BaseTransport | None = None,
    timeout: float | None = None,
) -> AttemptOutcome:
    """POSTs ``event`` to ``url`` signed with ``secret``; never raises for what the receiver
    does. ``transport`` replaces the network (tests)."""
    body = event_bytes(event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "SupportDesk-Event": event.name,
        "SupportDesk-Event-Id": event.public_id,
        SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
    }
    started = time.perf_counter()

    def done(ok: bool, status: int | None, error: str = "", excerpt: str = "") -> AttemptOutcome:
        return AttemptOutcome(ok, status, error, excerpt,
                              (time.perf_counter() - started) * 1000)

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if transport is None and not services.address_allowed(parts.hostname or "", port):
        return done(False, None, "private address refused")
    seconds = timeout if timeout is not None else settings.WEBHOOK_TIMEOUT_SECONDS
    client = (httpx2.Client(follow_redirects=False, transport=transport) if transport is not None
              else _client())
    try:
        with client.stream("POST", url, content=body, headers=headers,
                           timeout=seconds) as response:
            excerpt = b""
            for chunk in response.iter_bytes():
                excerpt += chunk
                if len(excerpt) >= EXCERPT_BYTES:
                    break
            text = excerpt[:EXCERPT_BYTES].decode("utf-8", "replace")
            status = response.status_code
            if response.is_redirect:
                return done(False, status, "redirect not followed", text)
            return done(200 <= status < 300, status, "", text)  # the code says why
    except AddressRefused:
        return done(False, None, "private address refused")
    except httpx2.TimeoutException:
        return done(False, None, "timeout")
    except httpx2.HTTPError as error:  # what the admins read on the delivery page
        return done(False, None, connection_error(parts.hostname or "", error))
    except (httpx2.InvalidURL, ValueError):  # a URL the client will not send (saved before
        return done(False, None, "invalid URL")  # check_endpoint_url refused such hosts)
    finally:
        if transport is not None:
            client.close()


def connection_error(host: str, error: Exception) -> str:
    """What the delivery log says of a failed connection to ``host``: the client's reason
    without the system's error number, naming the host ("connection failed: hooks.example.com
    does not resolve: Name or service not known", "connection to 203.0.113.9 failed:
    Connection refused"), at most ``ERROR_CHARS`` characters."""
    reason = _ERRNO.sub("", " ".join(str(error).split())) or type(error).__name__
    said = (f"connection failed: {reason}" if host and host in reason
            else f"connection to {host or 'the endpoint'} failed: {reason}")
    return said[:ERROR_CHARS]


_ERRNO = re.compile(r"\[Errno -?\d+\]\s*")


def endpoint_deliver(
    endpoint_id: int, *, budget_seconds: float = 30.0,
    transport: httpx2.BaseTransport | None = None,
) -> DeliverRun:
    """Sends the endpoint's due deliveries in event order (see the module's docstring).

    Does nothing when another task holds the endpoint or it is disabled.
    """
    run = DeliverRun()
    deadline = time.monotonic() + budget_seconds
    while services.endpoint_lease(
        endpoint_id, seconds=budget_seconds + settings.WEBHOOK_TIMEOUT_SECONDS + 30
    ):
        try:
            _send_due(endpoint_id, run, deadline, transport)
        finally:
            # Events committed from now on queue a task of their own (``queue_deliveries``
            # skipped them while this one was queued or running); one committed before is
            # seen by the look below.
            services.queued_mark_clear(endpoint_id)
            services.endpoint_release(endpoint_id)
        # Look once more after giving the endpoint back, so that no event waits for the
        # dispatcher.
        if run.more or run.retry_in is not None or not _due(endpoint_id):
            break
    return run


def _due(endpoint_id: int) -> bool:
    return Delivery.objects.filter(
        endpoint_id=endpoint_id, status=DeliveryStatus.PENDING,
        next_attempt_at__lte=timezone.now(),
    ).exists()


def _send_due(
    endpoint_id: int, run: DeliverRun, deadline: float,
    transport: httpx2.BaseTransport | None,
) -> None:
    """Sends due deliveries oldest event first, reading them ``BATCH`` at a time; stops at a
    failure (the failed one stays first, with its retry time), the deadline, or none due.

    Successes of an endpoint that is not failing are stored together
    (``services.successes_record``): at the end of each batch, before a failure is stored, and
    at least every ``FLUSH_SECONDS`` (at once after an answer that took that long: a deleted
    endpoint is then seen before the next POST, which would carry its secret); each keeps its
    own time, status code and excerpt. A task that dies before storing them leaves those
    deliveries pending: they are sent again (the receiver sees the same event id twice, as
    after any lost answer)."""
    delivered: list[services.Delivered] = []
    flush_by = 0.0

    def flush() -> bool:
        """Stores the successes held; False when some delivery was gone (deleted)."""
        stored = services.successes_record(delivered)
        complete = stored == len(delivered)
        delivered.clear()
        return complete

    try:
        while True:
            endpoint = Endpoint.objects.filter(pk=endpoint_id, is_enabled=True).first()
            if endpoint is None:
                return
            batch = list(
                Delivery.objects.filter(endpoint_id=endpoint_id, status=DeliveryStatus.PENDING)
                .select_related("event").order_by("event_id")[:BATCH]
            )
            if not batch:
                return
            for delivery in batch:
                wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
                if wait > 0:
                    run.retry_in = wait
                    return
                if time.monotonic() >= deadline:
                    run.more = True
                    return
                outcome = post_event(url=endpoint.url, secret=endpoint.secret,
                                     event=delivery.event, transport=transport)
                run.sent += 1
                failing = bool(endpoint.failing_since or endpoint.retry_at)
                if outcome.ok and not failing:
                    if not delivered:
                        flush_by = time.monotonic() + FLUSH_SECONDS
                    delivered.append(services.Delivered(
                        delivery_id=delivery.pk, at=timezone.now(),
                        status_code=outcome.status_code, body_excerpt=outcome.body_excerpt,
                        duration_ms=outcome.duration_ms,
                    ))
                    # A receiver that takes FLUSH_SECONDS or more to answer gains nothing from
                    # the batching: its success is stored at once, so that an endpoint deleted
                    # meanwhile is seen before another POST (with its secret) starts.
                    slow = outcome.duration_ms >= FLUSH_SECONDS * 1000
                    if (slow or time.monotonic() >= flush_by) and not flush():
                        break  # the endpoint was deleted: read it again
                    continue
                if not flush():
                    break
                attempt = services.attempt_record(
                    delivery=delivery, ok=outcome.ok, status_code=outcome.status_code,
                    error=outcome.error, body_excerpt=outcome.body_excerpt,
                    duration_ms=outcome.duration_ms, endpoint_failing=failing,
                )
                if attempt is None or not outcome.ok:
                    break  # read the endpoint and its first delivery again
                endpoint.failing_since = endpoint.retry_at = None
            else:
                if len(batch) < BATCH:
                    return  # all sent; ``endpoint_deliver`` looks once more after the release
            flush()  # before the next read: the deliveries held are still pending there
    finally:
        flush()
