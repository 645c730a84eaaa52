"""Reads of the recorded facts for the other apps (chat reads here, never the models)."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from django.db.models import Avg, Count, Sum

from knowledge.models import Connector

from .models import EventName, ReportingEvent


def first_agent_reply_average_seconds(*, since: datetime) -> float | None:
    """The mean wait, in seconds, from a handoff to the agent's first reply, over the
    first replies recorded since ``since``; None when there are none."""
    return ReportingEvent.objects.filter(
        name=EventName.FIRST_AGENT_REPLY, occurred_at__gte=since, value__isnull=False
    ).aggregate(avg=Avg("value"))["avg"]


CONNECTOR_OUTCOMES = {
    "connector": "answered", "connector_not_found": "not_found", "connector_failed": "failed",
}
BOT_RESOLUTIONS = ("bot_confirmed", "bot_assumed")


def connector_counts(*, since: datetime, until: datetime) -> dict[str, dict[str, int]]:
    """Bot replies that used a data connector, by connector: ``{name: {"answered": n,
    "not_found": n, "failed": n, "resolved": n}}`` for replies recorded in [since, until).

    A reply's event category names its outcome and the connector's id
    (``chat.services.connector_category``): "answered" (the reply came from the connector's
    data), "not_found" (the API found nothing: the connector's fallback text), "failed".
    "resolved" counts the conversations among them that the bot resolved (confirmed or
    assumed) after a reply answered from that connector's data. A connector is one entry under
    its current name; an event recorded before ids were (the name, cut to the column) joins the
    connector whose name it is, or begins with when it was cut; a deleted connector shows as
    "Connector #id".
    """
    rows = list(
        ReportingEvent.objects.filter(
            name=EventName.BOT_REPLIED, occurred_at__gte=since, occurred_at__lt=until,
            category__startswith="connector",
        )
        .values("category")
        .annotate(n=Count("id"))
    )
    resolved = dict(
        ReportingEvent.objects.filter(
            name=EventName.BOT_REPLIED, occurred_at__gte=since, occurred_at__lt=until,
            category__startswith="connector:", conversation__status="resolved",
            conversation__resolution__in=BOT_RESOLUTIONS,
        )
        .values("category")
        .annotate(n=Count("conversation", distinct=True))
        .values_list("category", "n")
    )
    names = dict(Connector.objects.values_list("id", "name"))
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        kind, _, identity = row["category"].partition(":")
        outcome = CONNECTOR_OUTCOMES.get(kind)
        if outcome is None:
            continue
        name = _connector_name(identity, names, cut=len(row["category"]) >= CATEGORY_LENGTH)
        entry = counts.setdefault(
            name, {"answered": 0, "not_found": 0, "failed": 0, "resolved": 0}
        )
        entry[outcome] += row["n"]
        if outcome == "answered":
            entry["resolved"] += resolved.get(row["category"], 0)
    return counts


CATEGORY_LENGTH = ReportingEvent._meta.get_field("category").max_length
CALL_OUTCOMES = {"ok": "succeeded", "not_found": "not_found", "failed": "failed"}


def connector_call_counts(*, since: datetime, until: datetime) -> dict[str, dict[str, Any]]:
    """Every call bot turns made to a data connector, by connector: ``{name: {"calls": n,
    "succeeded": n, "not_found": n, "failed": n, "mean_ms": float | None}}`` for calls
    recorded in [since, until).

    One ``connector_called`` event per call (``chat.services.connector_calls``), so a turn
    that looks up two orders, or calls two connectors, or whose Claude reply calls its tool
    twice counts each call. "succeeded": the company's API answered and the reply template
    read it (whatever the quality check later did with the reply); "not_found": a 404 or a
    field the template needs missing; "failed": timeout, HTTP error, bad JSON, a refused
    address. ``calls`` is their sum; ``mean_ms`` the mean duration of all the calls in
    milliseconds, as each call measured it (None when none recorded one). Named as in
    ``connector_counts``. One query.
    """
    rows = (
        ReportingEvent.objects.filter(
            name=EventName.CONNECTOR_CALLED, occurred_at__gte=since, occurred_at__lt=until,
        )
        .values("category")
        .annotate(n=Count("id"), ms=Sum("value"), timed=Count("value"))
    )
    names = dict(Connector.objects.values_list("id", "name"))
    counts: dict[str, dict[str, Any]] = {}
    totals: dict[str, list[float]] = {}  # name -> [sum of ms, calls with a duration]
    for row in rows:
        kind, _, identity = row["category"].partition(":")
        outcome = CALL_OUTCOMES.get(kind)
        if outcome is None:
            continue
        name = _connector_name(identity, names, cut=len(row["category"]) >= CATEGORY_LENGTH)
        entry = counts.setdefault(
            name, {"calls": 0, "succeeded": 0, "not_found": 0, "failed": 0, "mean_ms": None}
        )
        entry[outcome] += row["n"]
        entry["calls"] += row["n"]
        total = totals.setdefault(name, [0.0, 0])
        total[0] += float(row["ms"] or 0.0)
        total[1] += row["timed"]
    for name, (ms, timed) in totals.items():
        counts[name]["mean_ms"] = ms / timed if timed else None
    return counts


def _connector_name(identity: str, names: dict[int, str], *, cut: bool) -> str:
    """The name a connector is shown under, from the identity an event recorded: its id, or
    (before ids were recorded) its name, cut to the column when ``cut``."""
    if identity.isdigit():
        return names.get(int(identity), f"Connector #{identity}")
    if identity in names.values():
        return identity
    if cut:
        found = [name for name in names.values() if name.startswith(identity)]
        if len(found) == 1:
            return found[0]
    return identity


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
