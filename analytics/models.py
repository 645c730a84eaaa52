from __future__ import annotations

from django.conf import settings
from django.db import models


class EventName(models.TextChoices):
    CONVERSATION_STARTED = "conversation_started", "Conversation started"
    BOT_REPLIED = "bot_replied", "Bot replied"
    FALLBACK = "fallback", "Fallback"
    HANDOFF = "handoff", "Handoff"
    FIRST_AGENT_REPLY = "first_agent_reply", "First agent reply after a handoff"
    AGENT_REPLIED = "agent_replied", "Agent replied"
    RESOLVED = "resolved", "Resolved"
    REOPENED = "reopened", "Reopened"
    ABANDONED = "abandoned", "Abandoned"
    RATING_GIVEN = "rating_given", "Rating given"


class ReportingEvent(models.Model):
    """One measured fact, written when it happens; the dashboard aggregates these in SQL.

    ``value`` carries the event's number (latency in ms, rating score, seconds waited);
    ``category`` its kind (handoff reason category, resolution kind); ``conversation_started_at``
    lets a KPI attribute an event to the period its conversation started in without a join.
    """

    name = models.CharField(max_length=32, choices=EventName.choices)
    occurred_at = models.DateTimeField()
    conversation = models.ForeignKey(
        "chat.Conversation", null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    conversation_started_at = models.DateTimeField(null=True, blank=True)
    widget = models.ForeignKey(
        "chat.Widget", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    intent = models.CharField(max_length=80, blank=True)
    category = models.CharField(max_length=32, blank=True)
    backend = models.CharField(max_length=16, blank=True)
    value = models.FloatField(null=True, blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["name", "occurred_at"], name="event_name_time_idx"),
            models.Index(fields=["conversation", "name"], name="event_conversation_idx"),
            models.Index(fields=["widget", "name", "occurred_at"], name="event_widget_idx"),
            # The dashboard's access path: one event name, the conversations started in a
            # period. The trailing columns cover every column the KPI queries read, so both
            # PostgreSQL (index-only scans) and SQLite (covering index) skip the table.
            models.Index(
                fields=[
                    "name",
                    "conversation_started_at",
                    "widget",
                    "conversation",
                    "occurred_at",
                    "value",
                    "intent",
                    "category",
                ],
                name="event_name_cohort_idx",
            ),
            # Each conversation's events of one name in time order (its first bot reply, its
            # latest state) without a sort, answered from the index alone.
            models.Index(
                fields=[
                    "name",
                    "conversation",
                    "occurred_at",
                    "value",
                    "conversation_started_at",
                    "widget",
                    "category",
                ],
                name="event_name_conv_time_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} at {self.occurred_at:%Y-%m-%d %H:%M}"
