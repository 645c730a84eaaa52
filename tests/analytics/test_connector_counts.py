"""Bot replies that used a data connector are counted apart, and failures by connector."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import EventName, ReportingEvent
from analytics.selectors import connector_counts
from chat.services import connector_category

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("trace, category", [
    ({}, ""),
    (None, ""),
    ({"connector": {"ok": False, "reason": "not_verified"}}, ""),
    ({"connector": {"connector": "Order status", "ok": True}}, "connector:Order status"),
    ({"connector": {"connector": "Order status", "ok": False, "reason": "http_404"}},
     "connector:Order status"),
    ({"connector": {"connector": "Order status", "ok": False, "reason": "timeout"}},
     "connector_failed:Order status"),
    ({"connector": {"connector": "A very long connector name indeed", "ok": True}},
     "connector:A very long connector "),
])
def test_category_from_trace(trace, category):
    assert connector_category(trace) == category


def test_counts_by_connector():
    now = timezone.now()
    for category in ["connector:Orders", "connector:Orders", "connector_failed:Orders",
                     "connector_failed:Stock", "", "connector:Orders"]:
        ReportingEvent.objects.create(name=EventName.BOT_REPLIED, occurred_at=now,
                                      category=category)
    ReportingEvent.objects.create(name=EventName.BOT_REPLIED, category="connector:Orders",
                                  occurred_at=now - timedelta(days=3))
    counts = connector_counts(since=now - timedelta(hours=1), until=now + timedelta(hours=1))
    assert counts == {"Orders": {"answered": 3, "failed": 1},
                      "Stock": {"answered": 0, "failed": 1}}
