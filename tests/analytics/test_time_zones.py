"""Days in the reporting zone: exact KPI values in New York across the 2026 DST change (clocks
jump from 02:00 to 03:00 on Sunday 8 March, a 23-hour day)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from analytics.forms import ReportForm
from analytics.kpis import CHART_BY_KEY, Period, Report, Scope
from analytics.rollup import rollup_refresh
from analytics.zones import local_midnight

NY = ZoneInfo("America/New_York")


def ny(day: str, hh: int, mm: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hh, minute=mm, tzinfo=NY)


def ny_period(first: str, last: str) -> Period:
    end = date.fromisoformat(last).toordinal() + 1
    return Period(
        start=local_midnight(date.fromisoformat(first), "America/New_York"),
        end=local_midnight(date.fromordinal(end), "America/New_York"),
    )


@pytest.fixture
def dst_story(history):
    """Five conversations around the change; local day (New York) / UTC day:

    a  Fri 6 Mar 21:30 EST  (02:30 UTC Sat)  -> 6 Mar / 7 Mar; bot replies in 400 ms
    b  Sat 7 Mar 23:30 EST  (04:30 UTC Sun)  -> 7 Mar / 8 Mar; bot replies in 800 ms
    c  Sun 8 Mar 01:30 EST  (06:30 UTC)      -> 8 Mar / 8 Mar; handed off (anger)
    d  Sun 8 Mar 23:30 EDT  (03:30 UTC Mon)  -> 8 Mar / 9 Mar; bot replies in 1200 ms
    e  Mon 9 Mar 00:30 EDT  (04:30 UTC)      -> 9 Mar / 9 Mar; bot replies in 2000 ms
    """
    a = history(ny("2026-03-06", 21, 30))
    a.customer(0, "where is my parcel")
    a.bot_reply(400, "order_status")
    b = history(ny("2026-03-07", 23, 30))
    b.customer(0, "how do returns work")
    b.bot_reply(800, "returns")
    c = history(ny("2026-03-08", 1, 30))
    c.customer(0, "this is useless")
    c.handoff(1, "complaint", "anger")
    d = history(ny("2026-03-08", 23, 30))
    d.customer(0, "can I change my address")
    d.bot_reply(1200, "account")
    e = history(ny("2026-03-09", 0, 30))
    e.customer(0, "refund please")
    e.bot_reply(2000, "refunds")
    return a, b, c, d, e


ZONES = {"TIME_ZONE": "America/New_York", "ANALYTICS_TIME_ZONES": ["UTC"]}


@pytest.mark.django_db
@override_settings(**ZONES)
def test_days_are_local_and_the_dst_day_counts_once(dst_story):
    rollup_refresh(full=True)
    chart = CHART_BY_KEY["conversations_daily"].build(
        Report(Scope(period=ny_period("2026-03-06", "2026-03-09")))
    )
    totals = [sum(ds["data"][i] for ds in chart.datasets) for i in range(len(chart.labels))]
    assert chart.labels == ["2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09"]
    assert totals == [1, 1, 2, 1]
    # The same conversations by UTC day, from the same rollup's UTC rows.
    utc = Period(start=datetime(2026, 3, 6, tzinfo=UTC), end=datetime(2026, 3, 10, tzinfo=UTC))
    chart = CHART_BY_KEY["conversations_daily"].build(Report(Scope(period=utc)))
    assert [sum(ds["data"][i] for ds in chart.datasets) for i in range(4)] == [0, 1, 2, 2]


@pytest.mark.django_db
@override_settings(**ZONES)
def test_exact_kpis_on_the_23_hour_day(dst_story):
    rollup_refresh(full=True)
    day = ny_period("2026-03-08", "2026-03-08")
    assert (day.start.astimezone(UTC), day.end.astimezone(UTC)) == (
        datetime(2026, 3, 8, 5, tzinfo=UTC), datetime(2026, 3, 9, 4, tzinfo=UTC)  # 23 hours
    )
    values = Report(Scope(period=day)).current
    assert values["conversations"] == 2  # c and d; not b (7 Mar) nor e (9 Mar)
    assert values["handoff_rate"] == 0.5
    assert values["bot_first_response_p50"] == 1.2  # d's reply only: c was handed off
    # The day before (7 Mar) is the previous period: b alone.
    before = Report(Scope(period=day)).before
    assert before["conversations"] == 1
    assert before["bot_first_response_p50"] == 0.8
    # In UTC, 8 March holds b and c.
    utc = Period(start=datetime(2026, 3, 8, tzinfo=UTC), end=datetime(2026, 3, 9, tzinfo=UTC))
    assert Report(Scope(period=utc)).current["bot_first_response_p50"] == 0.8


@pytest.mark.django_db
@override_settings(**ZONES)
def test_the_desk_zone_is_the_default_and_a_manager_may_choose_another(
    dst_story, manager_client
):
    rollup_refresh(full=True)
    query = "range=custom&start=2026-03-06&end=2026-03-09"
    html = manager_client.get(f"/analytics/?{query}").content.decode()
    assert 'data-sd="timezone">America/New York<' in html
    rows = list(csv.reader(io.StringIO(manager_client.get(
        f"/analytics/charts/conversations_daily/?{query}&format=csv"
    ).content.decode("utf-8-sig"))))
    assert [sum(int(x) for x in row[1:]) for row in rows[1:]] == [1, 1, 2, 1]
    # The manager picks UTC: the page and the CSV count UTC days, and it is remembered.
    manager_client.get(f"/analytics/?{query}&tz=UTC")
    html = manager_client.get(f"/analytics/?{query}").content.decode()
    assert 'data-sd="timezone">UTC<' in html
    rows = list(csv.reader(io.StringIO(manager_client.get(
        f"/analytics/charts/conversations_daily/?{query}&format=csv"
    ).content.decode("utf-8-sig"))))
    assert [sum(int(x) for x in row[1:]) for row in rows[1:]] == [0, 1, 2, 2]


@pytest.mark.django_db
@override_settings(**ZONES)
def test_an_unknown_zone_is_refused_and_changes_nothing(dst_story, manager_client):
    response = manager_client.get("/analytics/?range=7&tz=Mars/Olympus")
    assert response.status_code == 400
    assert "Time zone" in response.content.decode()


@pytest.mark.django_db
@override_settings(**ZONES)
def test_a_preset_starts_at_the_first_day_with_data(dst_story):
    rollup_refresh(full=True)
    form = ReportForm({"range": "30"})
    assert form.is_valid()
    scope = form.scope(today=date(2026, 3, 20))
    assert scope.period.first_day == date(2026, 3, 6)
    assert form.data_starts == date(2026, 3, 6)
    assert scope.period.zone == "America/New_York"


@pytest.mark.django_db
@override_settings(**ZONES)
def test_a_chart_by_intent_is_a_series_over_days_under_an_intent_filter(dst_story):
    rollup_refresh(full=True)
    period = ny_period("2026-03-06", "2026-03-09")
    unfiltered = CHART_BY_KEY["intents"].build(Report(Scope(period=period)))
    assert unfiltered.kind == ""  # bars by intent
    assert set(unfiltered.labels) == {"order_status", "returns", "complaint", "account", "refunds"}
    chart = CHART_BY_KEY["intents"].build(Report(Scope(period=period, intent="account")))
    assert chart.kind == "line"
    assert chart.labels == ["2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09"]
    assert chart.datasets[0]["data"] == [0, 0, 1, 0]


@pytest.mark.django_db
@override_settings(**ZONES)
@pytest.mark.parametrize("query", ["", "?intent=", "?range=7"])
def test_the_zone_select_shows_the_zone_in_force(dst_story, manager_client, query):
    """A zone kept in the session is the one selected, so changing another filter keeps it."""
    manager_client.get("/analytics/?range=7&tz=UTC")
    html = manager_client.get(f"/analytics/{query}").content.decode()
    assert 'data-sd="timezone">UTC<' in html
    assert '<option value="UTC" selected>' in html
    assert '<option value="America/New_York" selected>' not in html
    form = ReportForm({"range": "7"}, zone="UTC")
    assert form["tz"].value() == "UTC"
    assert ReportForm({"range": "7"})["tz"].value() == "America/New_York"


@pytest.mark.parametrize(
    ("name", "known"),
    [("UTC", True), ("America/New_York", True), ("Asia/Kathmandu", True),
     ("Mars/Olympus", False), ("../etc/passwd", False), ("", False), ("localtime", False),
     ("Europe/Paris'; --", False)],
)
def test_zone_names_are_checked_against_the_zone_database(name, known):
    from analytics.zones import zone_known

    assert zone_known(name) is known


@pytest.mark.parametrize("bad", ["Mars/Olympus", "Europe/Paris'; --"])
def test_an_unknown_configured_zone_stops_the_desk(settings, bad):
    from django.core.exceptions import ImproperlyConfigured

    from analytics.zones import reporting_zones

    settings.ANALYTICS_TIME_ZONES = ["UTC", bad]
    with pytest.raises(ImproperlyConfigured, match="unknown reporting time zone"):
        reporting_zones()
