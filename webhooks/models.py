"""Outbound webhooks: endpoints admins register, the events the chat announced, deliveries.

An ``Event`` is written in the same transaction as the chat fact it reports (see
``webhooks.services.events_record``), with one ``Delivery`` per endpoint that subscribes to it:
the transactional outbox of the webhooks. ``Event.id`` orders the deliveries of one endpoint;
``Event.public_id`` (``evt_...``) is the stable id a receiver sees on every attempt.
``DeliveryAttempt`` rows are the delivery log an admin reads.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.db import models


class Endpoint(models.Model):
    """A URL that receives signed POSTs of the events it subscribes to.

    ``secret`` signs every delivery; it is shown once, on the page that creates it, and never
    again: no page, log, audit entry or export carries it. ``failing_since`` is the first
    failed attempt since the last success and ``retry_at`` when the next try is due;
    ``lease_until`` is how long one delivery task owns
    the endpoint (one task at a time keeps the deliveries in order).
    """

    url = models.URLField(max_length=1000)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=100, editable=False)
    is_enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    @property
    def label(self) -> str:
        """What the pages call the endpoint: its description, else its URL without the scheme
        and query (host, port and path: two endpoints on one host differ by their paths)."""
        if self.description:
            return self.description
        parts = urlsplit(self.url)
        return f"{parts.netloc}{parts.path}".rstrip("/") or self.url


class Event(models.Model):
    """One chat fact as webhooks carry it: ``payload`` is the JSON body, built when it
    happened (``webhooks.payloads``)."""

    id = models.BigAutoField(primary_key=True)
    public_id = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=40)
    payload = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} {self.public_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"


class Delivery(models.Model):
    """One event owed to one endpoint: pending until a 2xx answer, retried with backoff."""

    id = models.BigAutoField(primary_key=True)
    # No index of its own: ``delivery_once_per_event`` (endpoint, event) and ``delivery_queue``
    # both start with the endpoint and serve its lookups; a third index would be one more
    # entry to write for each delivery, in the chat's own transaction.
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries",
                                 db_index=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="delivery_once_per_event"),
        ]
        indexes = [
            models.Index(fields=["endpoint", "status", "event"], name="delivery_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One POST: when, how long, the answer's status code and the start of its body, or the
    error that stopped it (``timeout``, ``redirect not followed``...)."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField()
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)
    body_excerpt = models.CharField(max_length=500, blank=True)
    duration_ms = models.FloatField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.at:%Y-%m-%d %H:%M}: {self.status_code or self.error}"
