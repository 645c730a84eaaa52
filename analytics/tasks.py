"""Celery tasks of the analytics: recomputing a dashboard scope in the background."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from .kpis import Period, Report, Scope


@shared_task(name="analytics.tasks.report_refresh", ignore_result=True)
def report_refresh(*, start: str, end: str, intent: str = "", widget_id: int | None = None) -> None:
    """Computes every source of one scope and stores it in the cache (see ``kpis.Report``)."""
    period = Period(start=datetime.fromisoformat(start), end=datetime.fromisoformat(end))
    Report(Scope(period=period, intent=intent, widget_id=widget_id), refresh=True).compute_all()
