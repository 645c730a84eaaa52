"""The refresh tasks keep dashboard scopes computed in the cache."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.forms import PRESETS, ReportForm
from analytics.kpis import SOURCES, Report
from analytics.tasks import presets_refresh


@pytest.mark.django_db
def test_presets_refresh_fills_every_source_of_every_preset(history, report_cache):
    c = history(timezone.now() - timedelta(days=2))
    c.customer(0)
    c.bot_reply(300, "order_status")
    assert presets_refresh() == len(PRESETS)
    for value, _ in PRESETS:
        form = ReportForm({"range": value})
        assert form.is_valid()
        report = Report(form.scope(), cache=True)
        for name in SOURCES:
            assert report_cache.get(report._key(name)) is not None, (value, name)
        assert report.current["conversations"] == 1
