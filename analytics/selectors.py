"""Reads of the recorded facts for the other apps (chat reads here, never the models)."""

from __future__ import annotations

import statistics
from datetime import datetime

from django.db.models import Avg

from .models import EventName, ReportingEvent


def first_agent_reply_average_seconds(*, since: datetime) -> float | None:
    """The mean wait, in seconds, from a handoff to the agent's first reply, over the
    first replies recorded since ``since``; None when there are none."""
    return ReportingEvent.objects.filter(
        name=EventName.FIRST_AGENT_REPLY, occurred_at__gte=since, value__isnull=False
    ).aggregate(avg=Avg("value"))["avg"]


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
