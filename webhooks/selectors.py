"""Reads of the webhooks for the admin pages."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet

from .models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint


def endpoints_disabled_by_failures() -> list[Endpoint]:
    """Disabled endpoints that the desk disabled itself (not an admin), newest first."""
    return list(
        Endpoint.objects.filter(is_enabled=False, failing_since__isnull=False)
        .order_by("-disabled_at")[:10]
    )


def endpoint_list() -> QuerySet[Endpoint]:
    """Every endpoint with its count of pending deliveries (``pending``), oldest first."""
    return Endpoint.objects.annotate(
        pending=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING))
    ).order_by("id")


def deliveries_for_endpoint(endpoint: Endpoint) -> QuerySet[Delivery]:
    """The endpoint's deliveries, newest event first, each with its event."""
    return (
        Delivery.objects.filter(endpoint=endpoint).select_related("event")
        .order_by("-event_id")
    )


def attempts_for(deliveries: list[Delivery]) -> QuerySet[DeliveryAttempt]:
    """The attempts of ``deliveries``, newest first (one query)."""
    return DeliveryAttempt.objects.filter(delivery__in=deliveries).order_by("-at", "-id")


def delivery_head(endpoint: Endpoint) -> Delivery | None:
    """The endpoint's oldest undelivered delivery, with its event, or None: the one sent
    next. Deliveries go in event order, so every later event waits until this one is
    delivered (a "Send again" of a later one too)."""
    return (
        Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING)
        .select_related("event").order_by("event_id").first()
    )


def deliveries_waiting_behind(head: Delivery) -> int:
    """How many undelivered deliveries of ``head``'s endpoint wait behind it."""
    return Delivery.objects.filter(
        endpoint_id=head.endpoint_id, status=DeliveryStatus.PENDING, event_id__gt=head.event_id
    ).count()


@contextlib.contextmanager
def one_snapshot() -> Iterator[None]:
    """Reads inside see the database as of one moment, so that a page never shows a delivery's
    status from before an attempt and its log from after it (the delivery task stores both in
    one transaction, between two of the page's reads). A transaction at PostgreSQL's
    ``REPEATABLE READ`` (one snapshot for all its statements; PostgreSQL's documentation,
    "Transaction Isolation"); on SQLite a transaction reads one state of the file already.
    Inside a transaction begun by the caller it is only that transaction (its isolation can
    no longer be set)."""
    if not transaction.get_autocommit():
        yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield
