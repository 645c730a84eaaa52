"""Every write of the webhooks: endpoints (with their audit entries), events, deliveries.

Events are recorded by ``events_record`` inside the chat's own transaction (it receives
``chat.hooks.chat_event``): the chat fact, the ``Event`` and one ``Delivery`` per subscribed
endpoint commit together, and the delivery task is queued on commit. The services never import
the tasks: ``webhooks.tasks`` registers how a delivery is queued (``register_queue``).
An attempt's outcome is stored by ``attempt_record``, which schedules the retry (exponential
backoff with jitter) and disables an endpoint that has failed for ``WEBHOOK_DISABLE_AFTER_SECONDS``;
successes of an endpoint that is not failing are stored together by ``successes_record``.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import mail_admins, send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.roles import ADMINS
from chat import shared_redis
from chat.hooks import HookEvent
from knowledge.audit import audit_record, field_changes
from knowledge.connector_network import (
    HostInvalid,
    HostUnresolved,
    canonical_host,
    host_is_public,
    is_public,
    resolve_within,
)

from .models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, Event
from .payloads import event_body, new_event_id
from .signing import new_secret

logger = logging.getLogger(__name__)

EVENT_NAMES: tuple[str, ...] = tuple(event.value for event in HookEvent)
URL_MAX_CHARS = 1000
DESCRIPTION_MAX_CHARS = 200

# Which enabled endpoint wants which event: each process keeps the rows it read with the
# generation it read them under (``_read``), and a chat write checks only that generation, one
# small read of the desk's Redis (``chat.shared_redis``; this process's cache on the embedded
# setup). Every change of an endpoint sets a new generation (``subscriptions_changed``, now and
# on commit), so rows read before the change are never used after it, even by a reader that
# raced the change. A write that bypasses the model (``QuerySet.update`` of ``events`` or
# ``is_enabled`` outside this module) must call ``subscriptions_changed`` itself.
SUBSCRIPTIONS_GENERATION_KEY = "webhooks:subscriptions-generation"
# A process reads the rows again after this long even under the same generation: a deletion
# that bypasses the model (``manage.py flush``, raw SQL) is followed within this time.
SUBSCRIPTIONS_SECONDS = 60
# Endpoint fields whose change changes who gets which event.
SUBSCRIPTION_FIELDS = frozenset({"events", "is_enabled"})
# A queued task's mark outlives a lost task by at most this (the dispatcher queues it anyway).
QUEUED_MARK_SECONDS = 60
# Set while an endpoint the desk disabled after a day of failures awaits an admin: the admin
# pages read the endpoints for their notice only then (no statement on every page otherwise).
DISABLED_NOTICE_KEY = "webhooks:disabled-notice"

# A chat event's delivery task is queued this long after the commit, so that the events of the
# next moment find it queued (its mark set) and publish nothing: at most about one publish per
# endpoint per this many seconds however fast the chat writes, for a delivery this much later.
EVENT_GATHER_SECONDS = 0.5

_queue: Callable[[int, float], None] | None = None


class EndpointInvalid(ValueError):
    """An endpoint's field that cannot be saved; ``field`` names it, the message says why."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(message)


def register_queue(queue: Callable[[int, float], None]) -> None:
    """Sets the function that queues the delivery task: ``queue(endpoint_id, countdown)``, the
    task to start ``countdown`` seconds from now (0: at once)."""
    global _queue
    _queue = queue


def queued_key(endpoint_id: int) -> str:
    """The key that marks a delivery task queued for ``endpoint_id`` and not yet started: in
    the desk's Redis (``chat.shared_redis``) with ``REDIS_URL``, else in Django's cache."""
    return f"webhooks:queued:{endpoint_id}"


def queued_mark_clear(endpoint_id: int) -> None:
    """The delivery task for ``endpoint_id`` is giving the endpoint back: a later event queues
    another. A store failure is logged (the mark then lapses after ``QUEUED_MARK_SECONDS``)."""
    queued_marks_clear([endpoint_id])


def queued_marks_clear(endpoint_ids: Iterable[int]) -> None:
    """``queued_mark_clear`` for several endpoints in one round trip."""
    keys = [queued_key(pk) for pk in endpoint_ids]
    if not keys:
        return
    try:
        client = shared_redis.client()
        if client is None:
            cache.delete_many(keys)
        else:
            client.delete(*(shared_redis.key(k) for k in keys))
    except Exception:
        logger.warning("could not clear the webhook queue mark", exc_info=True)


def _marks_take(endpoint_ids: list[int]) -> list[int]:
    """Sets the queue mark of each endpoint that has none; returns those it set (their task is
    to be queued). One round trip with Redis (a pipeline of ``SET NX EX``); Django's cache,
    one ``add`` each, without ``REDIS_URL``. Raises what the store raises."""
    client = shared_redis.client()
    if client is None:
        return [pk for pk in endpoint_ids if cache.add(queued_key(pk), 1, QUEUED_MARK_SECONDS)]
    pipe = client.pipeline(transaction=False)
    for pk in endpoint_ids:
        pipe.set(shared_redis.key(queued_key(pk)), 1, nx=True, ex=QUEUED_MARK_SECONDS)
    return [pk for pk, taken in zip(endpoint_ids, pipe.execute(), strict=True) if taken]


def queue_deliveries(endpoint_ids: Iterable[int], *, countdown: float = 0.0) -> None:
    """Queues the delivery task, to start in ``countdown`` seconds, for each endpoint that has
    none queued or running (a burst of events queues one task per endpoint, not one per event:
    the task sends every due delivery, clears the mark, gives the endpoint back and looks
    again). The marks cost one Redis round trip for all the endpoints. A store or broker
    failure is logged and changes nothing (the beat dispatcher, ``deliveries_dispatch``,
    queues what is due); a store failure queues them all."""
    endpoint_ids = sorted(set(endpoint_ids))
    if not endpoint_ids:
        return
    try:
        endpoint_ids = _marks_take(endpoint_ids)
    except Exception:
        logger.warning("the queue marks failed; queueing webhook deliveries anyway",
                       exc_info=True)
    if not endpoint_ids:
        return
    if _queue is None:
        logger.error("no webhook delivery task is registered; the dispatcher will queue it")
        return
    for endpoint_id in endpoint_ids:
        try:
            _queue(endpoint_id, countdown)
        except Exception:
            logger.warning("could not queue webhook deliveries for endpoint %s", endpoint_id,
                           exc_info=True)


def queue_delivery(endpoint_id: int) -> None:
    """``queue_deliveries`` for one endpoint."""
    queue_deliveries([endpoint_id])


class _CommitQueue:
    """The endpoints whose deliveries one transaction wrote, queued once when it commits."""

    __slots__ = ("countdown", "done", "endpoint_ids")

    def __init__(self, countdown: float) -> None:
        self.endpoint_ids: set[int] = set()
        self.countdown = countdown
        self.done = False

    def run(self) -> None:
        if self.done:
            return
        self.done = True
        queue_deliveries(self.endpoint_ids, countdown=self.countdown)


_pending = threading.local()


def _queue_on_commit(endpoint_ids: Iterable[int], *, countdown: float = 0.0) -> None:
    """Queues the deliveries of ``endpoint_ids`` when the transaction commits, to start in
    ``countdown`` seconds (the least asked in the transaction): every event of a transaction
    adds to one set of this thread, queued by the first of its commit callbacks (one round trip
    of marks for all of them). A set whose transaction rolled back is still open: the next
    transaction adds to it and queues its leftovers too (a task with nothing to send, at
    worst)."""
    pending = getattr(_pending, "queue", None)
    if pending is None or pending.done:
        pending = _pending.queue = _CommitQueue(countdown)
    pending.countdown = min(pending.countdown, countdown)
    pending.endpoint_ids.update(endpoint_ids)
    transaction.on_commit(pending.run, robust=True)


# (generation, rows, when read by time.monotonic()) this process last read; never shared.
_read: tuple[str, list[tuple[int, list[str]]], float] | None = None


def _generation_get() -> str | None:
    client = shared_redis.client()
    if client is None:
        return cache.get(SUBSCRIPTIONS_GENERATION_KEY)
    value = client.get(shared_redis.key(SUBSCRIPTIONS_GENERATION_KEY))
    return None if value is None else value.decode()


def _generation_set(value: str, *, only_if_missing: bool = False) -> bool:
    client = shared_redis.client()
    if client is None:
        if only_if_missing:
            return cache.add(SUBSCRIPTIONS_GENERATION_KEY, value, None)
        cache.set(SUBSCRIPTIONS_GENERATION_KEY, value, None)
        return True
    return bool(client.set(shared_redis.key(SUBSCRIPTIONS_GENERATION_KEY), value,
                           nx=only_if_missing))


def subscriptions() -> list[tuple[int, list[str]]]:
    """(endpoint id, event names) of every enabled endpoint.

    One read of the generation (a Redis ``GET`` with ``REDIS_URL``); the database is read only
    when this process has not read the rows under that generation yet, or read them over
    ``SUBSCRIPTIONS_SECONDS`` ago. A generation that is
    missing (never set, or Redis restarted) is set anew first. A store that fails is skipped
    (the rows are read from the database, and not kept)."""
    global _read
    try:
        generation = _generation_get()
        if generation is None:
            _generation_set(uuid.uuid4().hex, only_if_missing=True)
            generation = _generation_get()
    except Exception:
        logger.warning("the generation of the webhook subscriptions could not be read; "
                       "they are read from the database")
        return _subscriptions_read()
    held = _read
    if (generation is not None and held is not None and held[0] == generation
            and time.monotonic() - held[2] < SUBSCRIPTIONS_SECONDS):
        return held[1]
    # Read after the generation: a change that commits from now on sets another one, and the
    # rows kept below under this one are not used again.
    rows = _subscriptions_read()
    if generation is not None:
        _read = (generation, rows, time.monotonic())
    return rows


def _subscriptions_read() -> list[tuple[int, list[str]]]:
    return [(pk, list(events)) for pk, events in
            Endpoint.objects.filter(is_enabled=True).values_list("pk", "events")]


def _subscriptions_forget() -> None:
    """This process reads the subscriptions from the database at the next event."""
    global _read
    _read = None


def subscriptions_changed() -> None:
    """Sets a new subscriptions generation now (this transaction reads the rows again) and on
    commit (every process does, even one that read the old rows meanwhile and kept them).
    Called for every saved or deleted ``Endpoint`` (``webhooks.apps``) and by a service that
    changes one with ``QuerySet.update``."""

    def bump() -> None:
        try:
            _generation_set(uuid.uuid4().hex)
        except Exception:
            logger.warning("could not renew the webhook subscriptions", exc_info=True)

    bump()
    transaction.on_commit(bump, robust=True)


def endpoint_changed(
    sender: type[Endpoint], instance: Endpoint, update_fields: Iterable[str] | None = None,
    **kwargs: Any,
) -> None:
    """The receiver of ``post_save`` and ``post_delete`` of ``Endpoint`` (any door: these
    services, the shell, ``loaddata``): ``subscriptions_changed`` unless the save wrote only
    fields that subscriptions do not read (a delivery task's lease, a retry time)."""
    if update_fields is None or SUBSCRIPTION_FIELDS.intersection(update_fields):
        subscriptions_changed()


# --- Checks ----------------------------------------------------------------------------------


def check_endpoint_url(url: Any) -> str:
    """The URL, stripped, when deliveries may go there; else ``EndpointInvalid("url", ...)``.

    http or https, a host written out, no user name or password in it, no ``#fragment`` (never
    sent, so a receiver could not read what it says), at most 1,000
    characters, a host the system resolver and the HTTP client read alike
    (``knowledge.connector_network.canonical_host``: an IP address written as four decimal
    numbers), a host that resolves now (``resolve_within``, waiting at most ``RESOLVE_SECONDS``:
    every delivery to a name that does not would fail), and, unless
    ``WEBHOOK_ALLOW_PRIVATE_NETWORKS`` is on, a host whose every address is public (the checks of
    ``knowledge.connector_network.host_is_public`` that connectors make too: no loopback,
    private, link-local or reserved address, no ``localhost``). Deliveries check the addresses
    again at every connection (``address_allowed`` and ``CheckedBackend``).
    """
    if not isinstance(url, str) or not url.strip():
        raise EndpointInvalid("url", "Enter the URL that receives the events.")
    url = url.strip()
    if len(url) > URL_MAX_CHARS or any(ch.isspace() for ch in url):
        raise EndpointInvalid("url", "Not a URL (spaces, or over 1,000 characters).")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise EndpointInvalid("url", "Not a URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointInvalid("url", "The URL must start with http:// or https:// and name a host.")
    if parts.username or parts.password:
        raise EndpointInvalid(
            "url", "Put no user name or password in the URL; the secret signs each delivery."
        )
    if "#" in url:
        raise EndpointInvalid("url", "A URL's #fragment is never sent; remove it.")
    private = EndpointInvalid(
        "url",
        f'"{parts.hostname}" is a private or loopback address; webhooks go to public '
        "addresses only (WEBHOOK_ALLOW_PRIVATE_NETWORKS allows others).",
    )
    checked = not settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS
    try:
        host = canonical_host(parts.hostname)
        if checked and not host_is_public(host, port, resolve=False):  # a literal, localhost
            raise private
        addresses = resolve_within(host, port)
    except (HostInvalid, HostUnresolved) as error:
        raise EndpointInvalid("url", str(error)) from None
    if checked and not all(map(is_public, addresses)):
        raise private
    return url


def address_allowed(host: str, port: int) -> bool:
    """Whether a delivery may connect to ``host``: any host with
    ``WEBHOOK_ALLOW_PRIVATE_NETWORKS``, else only a valid one (``canonical_host``) whose every
    address is public (``host_is_public``, shared with the connectors)."""
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return True
    try:
        return host_is_public(canonical_host(host.strip("[]")), port)
    except HostInvalid:
        return False


def check_events(events: Any) -> list[str]:
    """The subscribed event names in the documented order; ``EndpointInvalid("events", ...)``
    for none or an unknown one."""
    if not isinstance(events, list | tuple) or not events:
        raise EndpointInvalid("events", "Choose at least one event.")
    unknown = [str(name)[:40] for name in events if name not in EVENT_NAMES]
    if unknown:
        raise EndpointInvalid("events", f"Unknown event: {unknown[0]!r}.")
    return [name for name in EVENT_NAMES if name in events]


def _check_description(description: Any) -> str:
    description = (description or "").strip() if isinstance(description, str | None) else None
    if description is None or len(description) > DESCRIPTION_MAX_CHARS:
        raise EndpointInvalid("description", "A description is text of at most 200 characters.")
    return description


def _audited(endpoint: Endpoint) -> dict[str, Any]:
    """What the audit log keeps of an endpoint: never the secret."""
    return {
        "url": endpoint.url, "description": endpoint.description,
        "events": ", ".join(endpoint.events), "is_enabled": endpoint.is_enabled,
    }


# --- Endpoints -------------------------------------------------------------------------------


@transaction.atomic
def endpoint_create(
    *, actor: Any, url: str, events: list[str], description: str = ""
) -> tuple[Endpoint, str]:
    """Registers an endpoint, enabled; returns it and its signing secret (show it once).

    Raises ``EndpointInvalid`` (nothing is written) for a refused URL, event list or
    description. Audited as ``webhook_created`` (without the secret).
    """
    values = {
        "url": check_endpoint_url(url), "events": check_events(events),
        "description": _check_description(description),
    }
    secret = new_secret()
    endpoint = Endpoint.objects.create(
        **values, secret=secret,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(actor=actor, action="webhook_created", obj=endpoint,
                 changes=field_changes({}, _audited(endpoint)))
    return endpoint, secret


@transaction.atomic
def endpoint_update(
    *, actor: Any, endpoint: Endpoint, url: str, events: list[str], description: str = ""
) -> Endpoint:
    """Changes an endpoint's URL, events and description (the secret stays). Raises
    ``EndpointInvalid`` and changes nothing for a refused value. Audited as ``webhook_changed``.
    """
    values = {
        "url": check_endpoint_url(url), "events": check_events(events),
        "description": _check_description(description),
    }
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    before = _audited(endpoint)
    for name, value in values.items():
        setattr(endpoint, name, value)
    endpoint.save(update_fields=[*values, "updated_at"])
    changes = field_changes(before, _audited(endpoint))
    if changes:
        audit_record(actor=actor, action="webhook_changed", obj=endpoint, changes=changes)
    return endpoint


@transaction.atomic
def endpoint_set_enabled(*, actor: Any, endpoint: Endpoint, enabled: bool) -> Endpoint:
    """Enables or disables an endpoint. Enabling forgets the failures (the next attempt is
    now) and queues the deliveries still pending, oldest first. Audited."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    if endpoint.is_enabled == enabled:
        return endpoint
    before = _audited(endpoint)
    now = timezone.now()
    endpoint.is_enabled = enabled
    if enabled:
        endpoint.disabled_reason, endpoint.disabled_at = "", None
        endpoint.failing_since = endpoint.retry_at = None
        Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
            next_attempt_at=now
        )
        # A task queued while it was disabled found nothing to take and left its mark.
        transaction.on_commit(lambda pk=endpoint.pk: queued_mark_clear(pk), robust=True)
        _queue_on_commit([endpoint.pk])
    else:
        endpoint.disabled_reason, endpoint.disabled_at = "Disabled by an admin.", now
        endpoint.failing_since = endpoint.retry_at = None
    endpoint.save()
    audit_record(actor=actor, action="webhook_enabled" if enabled else "webhook_disabled",
                 obj=endpoint, changes=field_changes(before, _audited(endpoint)))
    transaction.on_commit(disabled_notice_refresh, robust=True)
    return endpoint


@transaction.atomic
def endpoint_delete(*, actor: Any, endpoint: Endpoint) -> None:
    """Deletes an endpoint with its deliveries and their log. Audited. Takes the endpoint's row
    lock first, so that an attempt being recorded waits, then finds the endpoint gone."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    # Lock the deliveries too before their attempts are read for the cascade: a success
    # being recorded (it updates its delivery first) then either committed before, or waits
    # and finds its delivery gone.
    list(Delivery.objects.select_for_update().filter(endpoint=endpoint).values_list("pk"))
    audit_record(actor=actor, action="webhook_deleted", obj=endpoint,
                 changes=field_changes(_audited(endpoint), {}))
    endpoint.delete()
    Event.objects.filter(deliveries__isnull=True).delete()
    transaction.on_commit(disabled_notice_refresh, robust=True)


# --- Events ----------------------------------------------------------------------------------


def events_record_for_hook(
    *, event: str, conversation: Any, at: datetime, message: Any = None, **kwargs: Any
) -> None:
    """The receiver of ``chat.hooks.chat_event``: ``events_record`` for each chat fact."""
    events_record(name=str(event), conversation=conversation, message=message, at=at)


def events_record(
    *, name: str, conversation: Any, at: datetime, message: Any = None
) -> Event | None:
    """Records the chat fact ``name`` for every enabled endpoint subscribed to it: one
    ``Event`` (its body built now) and one pending ``Delivery`` per endpoint, in the caller's
    transaction; the deliveries are queued on commit. None (nothing written, and no statement
    while the subscriptions are cached) when no endpoint wants it. Never calls the network.

    Two plain statements built once (``_record_statements``): the event's ``INSERT ...
    RETURNING id``, then the deliveries as ``INSERT ... SELECT`` from the endpoints this
    process believes subscribed that still exist and are enabled, so that a stale list (an
    endpoint deleted without a signal) writes nothing for the gone endpoint instead of failing
    the chat's write on its foreign key at commit. The same statements on both databases (no
    row lock on the endpoints: an endpoint deleted by an admin in the milliseconds between this
    select and the chat's commit fails that one write on the foreign key; the widget resends a
    message refused with ``server_error``). When none of the endpoints is left, the event is
    removed again and this process reads the subscriptions afresh next time; None."""
    endpoint_ids = [pk for pk, events in subscriptions() if name in events]
    if not endpoint_ids:
        return None
    event_id = new_event_id()
    payload = event_body(event_id=event_id, name=name, at=at, conversation=conversation,
                         message=message)
    event_sql, deliveries_sql = _record_statements(len(endpoint_ids))
    now = timezone.now()
    fields = _record_fields()
    with connection.cursor() as cursor:
        cursor.execute(event_sql, [
            event_id, name, fields["payload"].get_db_prep_save(payload, connection),
            fields["created_at"].get_db_prep_save(at, connection),
        ])
        pk = cursor.fetchone()[0]
        at_db = fields["next_attempt_at"].get_db_prep_save(now, connection)
        cursor.execute(deliveries_sql, [pk, DeliveryStatus.PENDING.value, at_db, at_db,
                                        *endpoint_ids])
        written = [row[0] for row in cursor.fetchall()]
        if len(written) < len(endpoint_ids):
            _subscriptions_forget()  # some are gone: read them afresh next time
        if not written:
            cursor.execute(_event_delete_statement(), [pk])
            return None
    _queue_on_commit(written, countdown=EVENT_GATHER_SECONDS)
    return Event.from_db(connection.alias, ["id", "public_id", "name", "payload", "created_at"],
                         [pk, event_id, name, payload, at])


@functools.cache
def _record_fields() -> dict[str, Any]:
    return {
        "payload": Event._meta.get_field("payload"),
        "created_at": Event._meta.get_field("created_at"),
        "next_attempt_at": Delivery._meta.get_field("next_attempt_at"),
    }


@functools.cache
def _record_statements(endpoints: int) -> tuple[str, str]:
    """The two statements of ``events_record`` for ``endpoints`` endpoint ids (built once per
    count): the event (parameters: public id, name, payload, time; returns its id) and its
    deliveries (parameters: event id, status, next attempt, created, the endpoint ids; returns
    the endpoint ids written). Both run, as they are, on SQLite (3.35+) and PostgreSQL."""
    qn = connection.ops.quote_name
    event, delivery, endpoint = Event._meta, Delivery._meta, Endpoint._meta
    event_columns = ("public_id", "name", "payload", "created_at")
    event_sql = (  # only quoted identifiers are interpolated; every value is a parameter
        f"INSERT INTO {qn(event.db_table)} "  # noqa: S608
        f"({', '.join(qn(event.get_field(f).column) for f in event_columns)}) "
        f"VALUES (%s, %s, %s, %s) RETURNING {qn(event.pk.column)}"
    )
    columns = ("endpoint", "event", "status", "attempts", "next_attempt_at", "created_at")
    endpoint_pk = qn(endpoint.pk.column)
    deliveries_sql = (
        f"INSERT INTO {qn(delivery.db_table)} "  # noqa: S608
        f"({', '.join(qn(delivery.get_field(f).column) for f in columns)}) "
        f"SELECT {endpoint_pk}, %s, %s, 0, %s, %s FROM {qn(endpoint.db_table)} "
        f"WHERE {endpoint_pk} IN ({', '.join(['%s'] * endpoints)}) "
        f"AND {qn(endpoint.get_field('is_enabled').column)} "
        f"RETURNING {qn(delivery.get_field('endpoint').column)}"
    )
    return event_sql, deliveries_sql


@functools.cache
def _event_delete_statement() -> str:
    qn = connection.ops.quote_name
    return f"DELETE FROM {qn(Event._meta.db_table)} WHERE {qn(Event._meta.pk.column)} = %s"  # noqa: S608


# --- Delivering ------------------------------------------------------------------------------


def endpoint_lease(endpoint_id: int, *, seconds: float) -> bool:
    """Takes the endpoint for one delivery task for ``seconds``; False when it is disabled
    or another task holds it (deliveries of one endpoint go one at a time, in order)."""
    now = timezone.now()
    taken = Endpoint.objects.filter(pk=endpoint_id, is_enabled=True).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    ).update(lease_until=now + timedelta(seconds=seconds))
    return taken == 1


def endpoint_release(endpoint_id: int) -> None:
    """Gives the endpoint back (the next task may take it at once)."""
    Endpoint.objects.filter(pk=endpoint_id).update(lease_until=None)


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: exponential
    (``WEBHOOK_RETRY_BASE_SECONDS`` doubled per attempt, at most ``WEBHOOK_RETRY_MAX_SECONDS``)
    with jitter (a random half to the whole of it), so failed receivers are not hit in step."""
    ceiling = min(
        settings.WEBHOOK_RETRY_MAX_SECONDS,
        settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(0, min(attempts - 1, 30)),
    )
    return random.uniform(ceiling / 2, ceiling)  # jitter, not a secret


@transaction.atomic
def attempt_record(
    *, delivery: Delivery, ok: bool, status_code: int | None, error: str, body_excerpt: str,
    duration_ms: float, at: datetime | None = None, endpoint_failing: bool = True,
) -> DeliveryAttempt | None:
    """Stores one attempt and its consequences: a delivered delivery, or the next try's time;
    an endpoint failing since ``WEBHOOK_DISABLE_AFTER_SECONDS`` ago is disabled (its pending
    deliveries wait for it to be enabled again) and the admins are told on commit. None when
    the endpoint or the delivery was deleted meanwhile (under the endpoint's row lock, which
    ``endpoint_delete`` takes too). A success with ``endpoint_failing`` False (the caller read
    the endpoint as not failing) takes two statements: the attempt and the delivery."""
    now = at or timezone.now()
    if ok and not endpoint_failing:
        return _success_record(delivery=delivery, status_code=status_code,
                               body_excerpt=body_excerpt, duration_ms=duration_ms, now=now)
    endpoint = Endpoint.objects.select_for_update().filter(pk=delivery.endpoint_id).first()
    if endpoint is None or not Delivery.objects.filter(pk=delivery.pk).exists():
        return None
    attempt = DeliveryAttempt.objects.create(
        delivery=delivery, at=now, ok=ok, status_code=status_code, error=error[:200],
        body_excerpt=body_excerpt[:500], duration_ms=round(duration_ms, 2),
    )
    delivery.attempts += 1
    if ok:
        delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
        delivery.save(update_fields=["status", "delivered_at", "attempts"])
        if endpoint.failing_since or endpoint.retry_at:
            Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=None, retry_at=None)
        return attempt
    delivery.next_attempt_at = now + timedelta(seconds=retry_delay(delivery.attempts))
    delivery.save(update_fields=["next_attempt_at", "attempts"])
    failing_since = endpoint.failing_since or now
    sets: dict[str, Any] = {"failing_since": failing_since, "retry_at": delivery.next_attempt_at}
    if (now - failing_since).total_seconds() >= settings.WEBHOOK_DISABLE_AFTER_SECONDS:
        reason = (f"Failed since {failing_since:%Y-%m-%d %H:%M} UTC "
                  f"(last: {error or f'HTTP {status_code}'}).")[:300]
        sets.update(is_enabled=False, disabled_at=now, disabled_reason=reason)
        audit_record(actor=None, action="webhook_disabled", obj=endpoint,
                     changes={"is_enabled": [True, False], "reason": [None, reason]})
        transaction.on_commit(lambda: _tell_admins(endpoint.pk), robust=True)
        transaction.on_commit(disabled_notice_refresh, robust=True)
        subscriptions_changed()  # a QuerySet.update: no post_save
    Endpoint.objects.filter(pk=endpoint.pk).update(**sets)
    return attempt


def _success_record(
    *, delivery: Delivery, status_code: int | None, body_excerpt: str, duration_ms: float,
    now: datetime,
) -> DeliveryAttempt | None:
    """The common case, without the endpoint's lock: the delivery's own row lock orders it
    with a deletion of the endpoint (None, nothing recorded, when the deletion won)."""
    try:
        with transaction.atomic():
            # The update first: its row lock makes a deletion of the endpoint (which locks
            # the deliveries before it reads their attempts) wait, or this find nothing.
            updated = Delivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.DELIVERED, delivered_at=now, attempts=F("attempts") + 1
            )
            if not updated:
                return None
            attempt = DeliveryAttempt.objects.create(
                delivery=delivery, at=now, ok=True, status_code=status_code,
                body_excerpt=body_excerpt[:500], duration_ms=round(duration_ms, 2),
            )
    except IntegrityError:
        return None
    delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
    delivery.attempts += 1
    return attempt


@dataclass(frozen=True)
class Delivered:
    """One successful attempt not yet stored: which delivery, when it was answered (aware),
    the answer's status code and start of its body, how long it took (milliseconds)."""

    delivery_id: int
    at: datetime
    status_code: int | None
    body_excerpt: str
    duration_ms: float


def successes_record(successes: Sequence[Delivered]) -> int:
    """Stores the successful attempts of deliveries of one endpoint that was not failing, in
    one transaction: every delivery marked delivered at its own time (one ``UPDATE``), every
    attempt logged (one ``INSERT``). Returns how many were stored: a delivery deleted meanwhile
    (its endpoint deleted, which locks the deliveries first) is skipped, as in
    ``attempt_record``. An endpoint that was failing goes through ``attempt_record``."""
    if not successes:
        return 0
    field = Delivery._meta.get_field("delivered_at")
    params: list[Any] = [DeliveryStatus.DELIVERED.value]
    for success in successes:
        params += [success.delivery_id, field.get_db_prep_save(success.at, connection)]
    params += [success.delivery_id for success in successes]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # The update first: its row locks order it with a deletion of the endpoint (which
            # locks the deliveries before it reads their attempts).
            cursor.execute(_delivered_statement(len(successes)), params)
            kept = {row[0] for row in cursor.fetchall()}
            if len(kept) < len(successes):
                successes = [s for s in successes if s.delivery_id in kept]
            DeliveryAttempt.objects.bulk_create([
                DeliveryAttempt(delivery_id=s.delivery_id, at=s.at, ok=True,
                                status_code=s.status_code, body_excerpt=s.body_excerpt[:500],
                                duration_ms=round(s.duration_ms, 2))
                for s in successes
            ])
    except IntegrityError:
        return 0  # a deletion won the race: nothing stored, the next read finds out
    return len(successes)


@functools.cache
def _delivered_statement(deliveries: int) -> str:
    """``UPDATE`` of ``deliveries`` deliveries to delivered, each at its own time (parameters:
    the status, (id, time) per delivery, the ids); returns the ids updated. Built once per
    count; SQLite (3.35+) and PostgreSQL run it as it is."""
    qn = connection.ops.quote_name
    meta = Delivery._meta
    pk = qn(meta.pk.column)
    attempts = qn(meta.get_field("attempts").column)
    return (  # only quoted identifiers are interpolated; every value is a parameter
        f"UPDATE {qn(meta.db_table)} SET {qn(meta.get_field('status').column)} = %s, "  # noqa: S608
        f"{attempts} = {attempts} + 1, {qn(meta.get_field('delivered_at').column)} = "
        f"CASE {pk} {' '.join(['WHEN %s THEN %s'] * deliveries)} END "
        f"WHERE {pk} IN ({', '.join(['%s'] * deliveries)}) RETURNING {pk}"
    )


def disabled_notice_refresh() -> None:
    """Sets or clears ``DISABLED_NOTICE_KEY`` (kept without expiry) from the database."""
    waiting = Endpoint.objects.filter(is_enabled=False, failing_since__isnull=False).exists()
    try:
        if waiting:
            cache.set(DISABLED_NOTICE_KEY, 1, None)
        else:
            cache.delete(DISABLED_NOTICE_KEY)
    except Exception:
        logger.warning("could not update the disabled-endpoint notice", exc_info=True)


def disabled_notice_wanted() -> bool:
    """Whether the admin pages should look for endpoints the desk disabled (a cache read).
    True when the cache fails: the notice is then read from the database."""
    try:
        return bool(cache.get(DISABLED_NOTICE_KEY))
    except Exception:
        return True


def _tell_admins(endpoint_id: int) -> None:
    """E-mails the site's ADMINS and every admin-role user with an address that an endpoint
    was disabled (the URL's host only: a URL may carry a token)."""
    endpoint = Endpoint.objects.get(pk=endpoint_id)
    host = urlsplit(endpoint.url).hostname or "?"
    subject = f"Webhook endpoint #{endpoint.pk} ({host}) was disabled"
    body = (
        f"SupportDesk stopped sending webhooks to endpoint #{endpoint.pk} ({host}).\n"
        f"{endpoint.disabled_reason}\n\n"
        "Its undelivered events are kept; enable it again on the Webhooks page once it answers."
    )
    mail_admins(subject, body, fail_silently=True)
    recipients = list(
        get_user_model().objects.filter(groups__name=ADMINS, is_active=True)
        .exclude(email="").values_list("email", flat=True).distinct()
    )
    if recipients:
        send_mail(subject, body, None, recipients, fail_silently=True)


@transaction.atomic
def delivery_resend(*, actor: Any, delivery: Delivery) -> Delivery:
    """"Send again": the same event (same id and body) is owed to its endpoint once more and
    queued now. Audited as ``webhook_resent``."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
    now = timezone.now()
    delivery.status, delivery.next_attempt_at = DeliveryStatus.PENDING, now
    delivery.save(update_fields=["status", "next_attempt_at"])
    Endpoint.objects.filter(pk=delivery.endpoint_id, retry_at__gt=now).update(retry_at=now)
    audit_record(actor=actor, action="webhook_resent", object_type="delivery",
                 object_id=str(delivery.pk),
                 object_repr=f"{delivery.event.public_id} to endpoint #{delivery.endpoint_id}")
    _queue_on_commit([delivery.endpoint_id])
    return delivery


def endpoints_due(*, limit: int = 500) -> list[int]:
    """Enabled endpoints with a pending delivery whose retry time has come and no task on
    them: what the beat dispatcher queues."""
    now = timezone.now()
    return list(
        Endpoint.objects.filter(is_enabled=True)
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(deliveries__status=DeliveryStatus.PENDING)
        .values_list("pk", flat=True).distinct()[:limit]
    )
