"""Reads of the webhooks for the admin pages."""

from __future__ import annotations

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
