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
    ASSIGNED = "assigned", "Assigned to an agent"
    TRANSFERRED = "transferred", "Transferred to another agent"
    UNASSIGNED = "unassigned", "Unassigned"
    # One per call a bot turn made to a data connector (several in one turn: several orders,
    # Claude calling its tool twice): category "<outcome>:<connector id>", value the call's ms.
    CONNECTOR_CALLED = "connector_called", "Data connector called"


# The handoff category of a customer who asked for a person (``chat.bot.escalation``): such a
# handoff is counted as a handoff, never as a knowledge gap.
HUMAN_REQUEST = "human_request"


class ReportingEvent(models.Model):
    """One measured fact, written when it happens; the dashboard aggregates these in SQL.

    ``value`` carries the event's number (latency in ms, rating score, seconds waited);
    ``category`` its kind (handoff reason category, resolution kind); ``conversation_started_at``
    lets a KPI attribute an event to the period its conversation started in without a join.
    """

    name = models.CharField(max_length=32, choices=EventName.choices)
    occurred_at = models.DateTimeField()
    # Neither foreign key has an index of its own: event_conversation_idx and event_widget_idx
    # begin with them (one index fewer to write per event).
    conversation = models.ForeignKey(
        "chat.Conversation", null=True, blank=True, on_delete=models.CASCADE,
        related_name="events", db_index=False,
    )
    conversation_started_at = models.DateTimeField(null=True, blank=True)
    widget = models.ForeignKey(
        "chat.Widget", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        db_index=False,
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


# --- The rollup: what the dashboard reads (``analytics/rollup.py`` keeps it) -------------------
#
# Every rollup row belongs to one reporting zone, one cohort day (the local day there that its
# conversations started), one widget and one intent: the conversation's current intent, or ""
# for the row that totals all intents of that day and widget (the intent filter reads the
# first, everything else the second). A refresh replaces every row of a day at once, so a
# day's rows always agree.


class CohortRow(models.Model):
    """The key every rollup row shares: zone, cohort day, widget and intent ("" for all)."""

    zone = models.CharField(max_length=64, default="UTC")
    day = models.DateField()
    widget = models.ForeignKey(
        "chat.Widget", null=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    intent = models.CharField(max_length=80, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.day} widget {self.widget_id} {self.intent or '*'}"


class CohortDay(CohortRow):
    """The conversations started on one day: their current outcome and customer turns."""

    conversations = models.IntegerField(default=0)
    resolved = models.IntegerField(default=0)
    abandoned = models.IntegerField(default=0)
    contained_confirmed = models.IntegerField(default=0)
    contained_assumed = models.IntegerField(default=0)
    handed_off = models.IntegerField(default=0)
    ever_resolved = models.IntegerField(default=0)
    rated = models.IntegerField(default=0)
    customer_turns = models.IntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(
                fields=["zone", "intent", "day", "widget"], name="cohortday_zone_scope_idx"
            )
        ]


class CohortEventCount(CohortRow):
    """Events of one name, intent and category in one day's conversations: count, sum of
    values, values of 4 or more (ratings)."""

    name = models.CharField(max_length=32, choices=EventName.choices)
    event_intent = models.CharField(max_length=80, blank=True)
    category = models.CharField(max_length=32, blank=True)
    events = models.IntegerField()
    value_sum = models.FloatField(null=True)
    high = models.IntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=[
                    "zone",
                    "intent",
                    "day",
                    "widget",
                    "name",
                    "event_intent",
                    "category",
                    "events",
                    "value_sum",
                    "high",
                ],
                name="cohortevent_zone_scope_idx",
            ),
            models.Index(fields=["zone", "day"], name="cohortevent_zone_day_idx"),
        ]


class CohortValue(CohortRow):
    """Histogram of one timed metric for one day's conversations: how many values fell on
    each whole unit (``kpis.PERCENTILE_DIVISORS``), and the unit's band (``rollup.band_sql``)
    so that a percentile reads the bands first and then the units of one band only."""

    metric = models.CharField(max_length=24)
    band = models.IntegerField()
    unit = models.BigIntegerField()
    n = models.IntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["zone", "intent", "metric", "band", "day", "widget", "unit", "n"],
                name="cohortvalue_zone_band_idx",
            ),
            models.Index(fields=["zone", "day"], name="cohortvalue_zone_day_idx"),
        ]


class CohortValueBand(CohortRow):
    """``CohortValue`` summed per band: a few dozen rows per metric and day."""

    metric = models.CharField(max_length=24)
    band = models.IntegerField()
    n = models.IntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["zone", "intent", "day", "widget", "metric", "band", "n"],
                name="cohortband_zone_scope_idx",
            ),
            models.Index(fields=["zone", "day"], name="cohortband_zone_day_idx"),
        ]


class CohortGapMessage(CohortRow):
    """Customer messages (in lower case) of one day's conversations whose bot turn was a
    fallback or a handoff, counted per text."""

    text = models.TextField()
    n = models.IntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["zone", "intent", "day", "widget"], name="cohortgap_zone_scope_idx"
            ),
            models.Index(fields=["zone", "day"], name="cohortgap_zone_day_idx"),
        ]


class CohortArticle(CohortRow):
    """Knowledge-base articles the bot quoted in one day's conversations: bot replies that
    quoted it, conversations that saw it, and of those the ones whose customer confirmed the
    help ("yes, this helped") and the ones the bot resolved (confirmed or assumed) with no
    handoff."""

    article_id = models.IntegerField()
    quoted = models.IntegerField()
    conversations = models.IntegerField()
    helped = models.IntegerField()
    contained = models.IntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["zone", "intent", "day", "widget", "article_id"],
                name="cohortarticle_scope_idx",
            ),
            models.Index(fields=["zone", "day"], name="cohortarticle_zone_day_idx"),
        ]


class RollupRefresh(models.Model):
    """One refresh of the rollup: the highest event and message ids it had seen. A later
    refresh rescans from the marks of one at least ``rollup.OVERLAP`` old (see there)."""

    started_at = models.DateTimeField()
    event_mark = models.BigIntegerField()
    message_mark = models.BigIntegerField()
    full = models.BooleanField(default=False)
    # The reporting zones the rollup held after this refresh, comma-separated.
    zones = models.CharField(max_length=500, default="")
    days = models.IntegerField(default=0)
    seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"rollup refresh at {self.started_at:%Y-%m-%d %H:%M:%S} ({self.days} days)"


class GapActionKind(models.TextChoices):
    ADD_PHRASES = "add_phrases", "Added as training phrases"
    DRAFT_ARTICLE = "draft_article", "Draft article started"
    OUT_OF_SCOPE = "out_of_scope", "Marked out of scope"


class GapAction(models.Model):
    """What an admin did about knowledge-gap messages from the dashboard (also written to
    the knowledge audit log). ``texts`` are the messages in lower case, as the rollup keeps
    them; ``intent`` the intent they were taught to, ``article`` the draft started."""

    kind = models.CharField(max_length=16, choices=GapActionKind.choices)
    texts = models.JSONField(default=list)
    intent = models.CharField(max_length=80, blank=True)
    article = models.ForeignKey(
        "knowledge.Article", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {len(self.texts)} message(s)"
