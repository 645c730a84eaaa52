"""Celery tasks of the analytics: recomputing dashboard scopes in the background."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from celery import shared_task

from .forms import PRESETS, ReportForm
from .kpis import Period, Report, Scope
from .rollup import rollup_refresh
from .zones import reporting_zones


@shared_task(name="analytics.tasks.report_refresh", ignore_result=True)
def report_refresh(
    *, start: str, end: str, intent: str = "", widget_id: int | None = None, zone: str = "UTC"
) -> None:
    """Computes every source of one scope and stores it in the cache (see ``kpis.Report``).
    ``start`` and ``end`` are ISO datetimes, read as instants in ``zone``."""
    tz = ZoneInfo(zone)
    period = Period(
        start=datetime.fromisoformat(start).astimezone(tz),
        end=datetime.fromisoformat(end).astimezone(tz),
    )
    Report(Scope(period=period, intent=intent, widget_id=widget_id), refresh=True).compute_all()


@shared_task(name="analytics.tasks.presets_refresh", ignore_result=True)
def presets_refresh() -> int:
    """Keeps the preset ranges (7, 30 and 90 days, no filters, in each reporting zone)
    computed, so that managers opening the dashboard never wait for the queries; meant for
    Celery beat, every minute."""
    zones = reporting_zones()
    for zone in zones:
        for value, _label in PRESETS:
            form = ReportForm({"range": value, "tz": zone})
            form.is_valid()
            Report(form.scope(), refresh=True).compute_all()
    return len(PRESETS) * len(zones)


@shared_task(name="analytics.tasks.rollup_refresh", ignore_result=True)
def rollup_refresh_task() -> int:
    """Recomputes the rollup's cohort days touched since the last refreshes (see
    ``analytics.rollup``); meant for Celery beat, every 30 s."""
    refresh = rollup_refresh()
    return refresh.days if refresh else 0
