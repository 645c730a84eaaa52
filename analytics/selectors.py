"""Reads of the recorded facts for the other apps (chat reads here, never the models)."""

from __future__ import annotations

import statistics
from datetime import datetime

from django.db.models import Avg, Count

from .models import EventName, ReportingEvent


def first_agent_reply_average_seconds(*, since: datetime) -> float | None:
    """The mean wait, in seconds, from a handoff to the agent's first reply, over the
    first replies recorded since ``since``; None when there are none."""
    return ReportingEvent.objects.filter(
        name=EventName.FIRST_AGENT_REPLY, occurred_at__gte=since, value__isnull=False
    ).aggregate(avg=Avg("value"))["avg"]


def connector_counts(*, since: datetime, until: datetime) -> dict[str, dict[str, int]]:
    """Bot replies that used a data connector, by connector: ``{name: {"answered": n,
    "failed": m}}`` for replies recorded in [since, until). A reply's event category names the
    connector (``chat.services.connector_category``); names are cut to fit the column."""
    rows = (
        ReportingEvent.objects.filter(
            name=EventName.BOT_REPLIED, occurred_at__gte=since, occurred_at__lt=until,
            category__startswith="connector",
        )
        .values("category")
        .annotate(n=Count("id"))
    )
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        kind, _, name = row["category"].partition(":")
        entry = counts.setdefault(name, {"answered": 0, "failed": 0})
        entry["failed" if kind == "connector_failed" else "answered"] += row["n"]
    return counts


def first_agent_reply_median_seconds(*, since: datetime) -> float | None:
    """The median wait, in seconds, from a handoff to the agent's first reply, over the
    first replies recorded since ``since``; None when there are none.

    Read in one query of the values (a week's first replies are a few thousand at most)
    and halved in Python (``statistics.median``), so both databases give the same figure.
    """
    values = list(
        ReportingEvent.objects.filter(
            name=EventName.FIRST_AGENT_REPLY, occurred_at__gte=since, value__isnull=False
        ).values_list("value", flat=True)
    )
    return statistics.median(values) if values else None
