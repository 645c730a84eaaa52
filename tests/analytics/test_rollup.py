"""The rollup: the KPIs it gives equal a computation over the raw rows, and refreshes keep it
so as events arrive late, out of order, or after a conversation was reopened."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.kpis import KPIS, Period, Report, Scope
from analytics.models import (
    CohortDay,
    CohortEventCount,
    CohortGapMessage,
    CohortValue,
    CohortValueBand,
    ReportingEvent,
    RollupRefresh,
)
from analytics.rollup import OVERLAP, rollup_ensure_fresh, rollup_refresh
from chat.models import Author, Conversation, Message
from supportdesk.traffic import traffic_generate
from tests.analytics.conftest import at

NOW = datetime(2026, 3, 20, 15, 30, tzinfo=UTC)
MARCH = Period(start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 3, 21, tzinfo=UTC))
WEEK = Period(start=at("2026-03-01", 0), end=at("2026-03-08", 0))
ROLLUP_MODELS = (CohortDay, CohortEventCount, CohortValue, CohortValueBand, CohortGapMessage)


# --- A reference computation in Python over the raw rows ---------------------------------


def _round(value: float) -> int:
    # The databases' ROUND on a float: SQLite rounds halves away from zero, PostgreSQL
    # (rint) to even, as Python does.
    return math.floor(value + 0.5) if connection.vendor == "sqlite" else round(value)


def _rank(values: list[float], p: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[(p * len(ordered) + 99) // 100 - 1]


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def reference(scope: Scope) -> dict[str, float | None]:
    """Every KPI of ``scope``'s period, computed in Python from the events and messages."""
    period = scope.period
    conversations = Conversation.objects.filter(
        created_at__gte=period.start, created_at__lt=period.end
    )
    if scope.widget_id is not None:
        conversations = conversations.filter(widget_id=scope.widget_id)
    if scope.intent:
        conversations = conversations.filter(intent=scope.intent)
    ids = set(conversations.values_list("id", flat=True))
    events: dict[int, list[dict]] = defaultdict(list)
    for row in ReportingEvent.objects.filter(conversation_id__in=ids).values(
        "conversation_id", "name", "occurred_at", "value", "category"
    ):
        events[row["conversation_id"]].append(row)
    cohort = [cid for cid in ids if any(e["name"] == "conversation_started" for e in events[cid])]
    n = len(cohort)
    counts: dict[str, int] = defaultdict(int)
    latencies, firsts, agent_waits, resolutions, ratings = [], [], [], [], []
    contained = {"bot_confirmed": 0, "bot_assumed": 0}
    handed_off = ever_resolved = rated = 0
    for cid in cohort:
        evs = events[cid]
        for e in evs:
            counts[e["name"]] += 1

        def last(name: str, category: str | None = None, evs=evs) -> datetime | None:
            times = [
                e["occurred_at"]
                for e in evs
                if e["name"] == name and (category is None or e["category"] == category)
            ]
            return max(times) if times else None

        res, reo, ab = last("resolved"), last("reopened"), last("abandoned")
        is_res = res is not None and (reo is None or res > reo) and (ab is None or res > ab)
        agent = any(e["name"] == "agent_replied" for e in evs)
        for how in contained:
            if is_res and not agent and last("resolved", how) == res:
                contained[how] += 1
        handed_off += any(e["name"] == "handoff" for e in evs)
        ever_resolved += res is not None
        rated += any(e["name"] == "rating_given" for e in evs)
        bot = [e for e in evs if e["name"] == "bot_replied"]
        latencies += [_round(e["value"]) for e in bot]
        if bot:
            first = min(bot, key=lambda e: (e["occurred_at"], e["value"]))
            firsts.append(_round(first["value"]) / 1000)
        agent_waits += [
            _round(e["value"] * 10) / 10 for e in evs if e["name"] == "first_agent_reply"
        ]
        states = [e for e in evs if e["name"] in {"resolved", "reopened", "abandoned"}]
        if states:
            final = max(states, key=lambda e: (e["occurred_at"], e["name"]))
            if final["name"] == "resolved":
                resolutions.append(_round(final["value"] * 10) / 10)
        ratings += [e["value"] for e in evs if e["name"] == "rating_given"]
    turns = Message.objects.filter(conversation_id__in=ids, author=Author.CUSTOMER).count()
    bot_turns = counts["bot_replied"] + counts["handoff"]
    return {
        "conversations": n,
        "avg_customer_turns": _ratio(turns, n),
        "bot_resolution_rate": _ratio(sum(contained.values()), n),
        "bot_resolution_confirmed_rate": _ratio(contained["bot_confirmed"], n),
        "bot_resolution_assumed_rate": _ratio(contained["bot_assumed"], n),
        "resolution_time_p50": _rank(resolutions, 50),
        "resolution_time_p90": _rank(resolutions, 90),
        "handoff_rate": _ratio(handed_off, n),
        "handoffs_unanswered": (
            max(0, counts["handoff"] - counts["first_agent_reply"]) if n else None
        ),
        "bot_first_response_p50": _rank(firsts, 50),
        "bot_first_response_p90": _rank(firsts, 90),
        "agent_first_response_p50": _rank(agent_waits, 50),
        "agent_first_response_p90": _rank(agent_waits, 90),
        "bot_latency_p50": _rank(latencies, 50),
        "bot_latency_p95": _rank(latencies, 95),
        "csat": _ratio(sum(1 for r in ratings if r >= 4), len(ratings)),
        "avg_rating": _ratio(sum(ratings), len(ratings)),
        "rating_response_rate": _ratio(rated, ever_resolved),
        "fallback_rate": _ratio(counts["fallback"], bot_turns),
    }


def _assert_equal(values: dict, expected: dict) -> None:
    assert set(values) == {kpi.key for kpi in KPIS}
    for key, value in expected.items():
        if value is None:
            assert values[key] is None, key
        else:
            assert values[key] == pytest.approx(value, rel=1e-12), key


def _rollup_rows() -> dict[str, list[tuple]]:
    """Every rollup row; sums of float values (latencies) to 6 places, as the order of the
    additions may differ between two computations (ratings, the only sum shown, are
    whole numbers)."""
    return {
        model.__name__: sorted(
            tuple(round(v, 6) if isinstance(v, float) else v for v in row)
            for row in model.objects.values_list(
                *[f.attname for f in model._meta.concrete_fields if f.name != "id"]
            )
        )
        for model in ROLLUP_MODELS
    }


# --- The rollup gives the raw figures --------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("bulk", [False, True], ids=["services", "bulk"])
def test_rollup_equals_the_raw_computation_on_generated_traffic(widget, bulk):
    traffic_generate(conversations=120, days=14, seed=11, now=NOW, bulk=bulk)
    intents = sorted(set(Conversation.objects.exclude(intent="").values_list("intent", flat=True)))
    scopes = [
        Scope(period=MARCH),
        Scope(period=MARCH, widget_id=widget.pk),
        *(Scope(period=MARCH, intent=intent) for intent in intents[:3]),
        Scope(period=Period(start=datetime(2026, 3, 10, tzinfo=UTC), end=MARCH.end)),
    ]
    assert reference(scopes[0])["conversations"] > 50
    for scope in scopes:
        report = Report(scope)
        _assert_equal(report.current, reference(scope))
    # The daily chart adds up to the conversation count.
    daily = Report(scopes[0]).daily
    assert sum(row["conversations"] for row in daily) == reference(scopes[0])["conversations"]


@pytest.mark.django_db
def test_incremental_refreshes_equal_a_rebuild(widget):
    """Traffic arriving in two batches, refreshed as it comes, gives the rows a rebuild does."""
    traffic_generate(conversations=40, days=10, seed=5, now=NOW - timedelta(days=3))
    assert rollup_refresh() is not None
    traffic_generate(conversations=40, days=10, seed=6, now=NOW)
    refresh = rollup_refresh()
    assert not refresh.full and refresh.days > 0
    incremental = _rollup_rows()
    rollup_refresh(full=True)
    assert _rollup_rows() == incremental
    assert incremental["CohortDay"]


@pytest.mark.django_db
def test_refresh_is_idempotent(widget):
    traffic_generate(conversations=30, days=5, seed=9, now=NOW)
    rollup_refresh()
    first = _rollup_rows()
    rollup_refresh()
    rollup_refresh(full=True)
    rollup_refresh()
    assert _rollup_rows() == first


# --- Late, out-of-order and reopening events update their cohort day -----------------------


@pytest.mark.django_db
def test_a_late_event_updates_its_cohort_day(history):
    old = history(at("2026-03-02", 9))
    old.customer(0)
    old.bot_reply(300, "returns")
    new = history(at("2026-03-06", 9))
    new.customer(0)
    new.bot_reply(500, "returns")
    rollup_refresh()
    assert Report(Scope(period=WEEK)).current["csat"] is None
    # A week later, the old conversation is resolved and rated (ids above the new one's).
    old.resolve(7 * 86400, "bot_confirmed")
    old.rate(7 * 86400 + 10, 5)
    refresh = rollup_refresh()
    assert refresh.days == 1  # only 2 March, the old conversation's cohort day
    values = Report(Scope(period=WEEK)).current
    assert values["csat"] == 1.0
    assert values["resolution_time_p50"] == 7 * 86400
    day = CohortDay.objects.get(day="2026-03-02", intent="")
    assert (day.conversations, day.resolved, day.rated) == (1, 1, 1)


@pytest.mark.django_db
def test_reopen_after_resolution_moves_the_conversation_back_to_open(history):
    c = history(at("2026-03-03", 9))
    c.customer(0)
    c.bot_reply(200, "returns")
    c.resolve(60, "bot_confirmed")
    rollup_refresh()
    assert CohortDay.objects.get(day="2026-03-03", intent="returns").contained_confirmed == 1
    c.reopen(3600)
    rollup_refresh()
    row = CohortDay.objects.get(day="2026-03-03", intent="returns")
    assert (row.resolved, row.contained_confirmed, row.ever_resolved) == (0, 0, 1)
    assert not CohortValue.objects.filter(metric="resolution_time").exists()


@pytest.mark.django_db
def test_a_transaction_that_commits_after_a_refresh_is_still_counted(history):
    """An event whose id is below the marks of the latest refresh (its transaction was open
    while that refresh ran) is found by rescanning from a refresh at least OVERLAP old."""
    c = history(at("2026-03-04", 9))
    c.customer(0)
    c.bot_reply(200, "returns")
    rollup_refresh()
    c.rate(100, 4)
    late = ReportingEvent.objects.latest("id")
    # A refresh ran while that rating's transaction was still open: it did not see the row,
    # but its marks are already past it.
    rollup_refresh()
    RollupRefresh.objects.filter(pk=RollupRefresh.objects.latest("id").pk).update(
        event_mark=late.id + 10, message_mark=10**9
    )
    CohortEventCount.objects.filter(name="rating_given").delete()  # as that refresh left it
    rollup_refresh()
    assert CohortEventCount.objects.get(name="rating_given", intent="").events == 1


@pytest.mark.django_db
def test_refreshes_older_than_the_overlap_move_the_scan_forward(history):
    c = history(at("2026-03-04", 9))
    c.customer(0)
    c.bot_reply(200, "returns")
    rollup_refresh()
    RollupRefresh.objects.update(started_at=NOW - OVERLAP - timedelta(minutes=1))
    rollup_refresh()  # rescans from the old one, then forgets anything older
    d = history(at("2026-03-06", 9))
    d.customer(0)
    RollupRefresh.objects.update(started_at=NOW - OVERLAP - timedelta(minutes=1))
    newest = rollup_refresh()
    assert newest.days == 1  # 6 March only: 4 March's rows lie below the old marks
    assert RollupRefresh.objects.count() == 2


# --- Edges and costs -------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_empty_database_refreshes_to_an_empty_rollup_and_empty_report():
    refresh = rollup_refresh()
    assert refresh.full and refresh.days == 0
    assert all(not model.objects.exists() for model in ROLLUP_MODELS)
    report = Report(Scope(period=WEEK))
    assert report.is_empty
    assert report.current["bot_latency_p50"] is None


@pytest.mark.django_db
def test_a_fresh_rollup_costs_one_query_to_check(history):
    c = history(at("2026-03-04", 9))
    c.customer(0)
    rollup_refresh()
    with CaptureQueriesContext(connection) as queries:
        rollup_ensure_fresh(max_age=0)
    assert len(queries) == 1
    c.customer(30, "and another thing")
    rollup_ensure_fresh(max_age=3600)  # refreshed within the hour: left as it is
    assert CohortDay.objects.get(day="2026-03-04", intent="").customer_turns == 1
    rollup_ensure_fresh(max_age=0)  # something new and no age allowed: refreshed
    assert CohortDay.objects.get(day="2026-03-04", intent="").customer_turns == 2


@pytest.mark.django_db
def test_a_refresh_runs_the_same_statements_however_many_days_it_touches(history):
    def statements_after(starts: list[str]) -> int:
        for day in starts:
            c = history(at(day, 9))
            c.customer(0)
            c.bot_reply(100, "returns")
        with CaptureQueriesContext(connection) as queries:
            rollup_refresh()
        return len(queries)

    rollup_refresh()
    one = statements_after(["2026-03-02"])
    many = statements_after(["2026-02-01", "2026-02-10", "2026-03-03", "2026-03-05"])
    assert one == many


@pytest.mark.django_db
def test_rebuild_rollups_command_replaces_a_damaged_rollup(widget):
    from io import StringIO

    from django.core.management import call_command

    traffic_generate(conversations=20, days=3, seed=4, now=NOW)
    rollup_refresh()
    good = _rollup_rows()
    CohortDay.objects.update(conversations=0)
    CohortValue.objects.all().delete()
    out = StringIO()
    call_command("rebuild_rollups", stdout=out, stderr=StringIO())
    assert "Rebuilt the rollup: 4 days" in out.getvalue()
    assert _rollup_rows() == good
    assert RollupRefresh.objects.get().full


# --- A reporting zone added or removed -------------------------------------------------------

TOKYO = "Asia/Tokyo"


def _zone_rows(zone: str) -> dict[str, list[tuple]]:
    return {name: [r for r in rows if zone in r] for name, rows in _rollup_rows().items()}


@pytest.mark.django_db
def test_a_zone_added_is_backfilled_in_the_background_and_equals_a_rebuild(
    widget, settings, django_capture_on_commit_callbacks, report_cache
):
    settings.ANALYTICS_TIME_ZONES = ["UTC"]
    traffic_generate(conversations=60, days=10, seed=8, now=NOW)
    rollup_refresh()
    utc_rows = _zone_rows("UTC")
    settings.ANALYTICS_TIME_ZONES = ["UTC", TOKYO]  # no write since: nothing else would refresh
    tokyo = Period(start=datetime(2026, 3, 1, tzinfo=ZoneInfo(TOKYO)),
                   end=datetime(2026, 3, 23, tzinfo=ZoneInfo(TOKYO)))

    # A page (a cached report) does not wait: it queues one backfill and says it is pending.
    with django_capture_on_commit_callbacks() as queued:
        report = Report(Scope(period=tokyo), cache=True)
        assert report.daily == [] or all(r["conversations"] == 0 for r in report.daily)
        assert report.rollup_pending
        Report(Scope(period=tokyo), cache=True).daily  # another page: nothing more queued
    assert len(queued) == 1
    assert not CohortDay.objects.filter(zone=TOKYO).exists()
    assert report_cache.get(report._key("daily")) is None  # the empty figures are not kept
    # A report in a zone the rollup has is not held up.
    assert not Report(Scope(period=MARCH), cache=True).rollup_pending

    # The worker's refresh backfills Tokyo alone; UTC's rows stay as they were.
    refresh = rollup_refresh()
    assert not refresh.full and refresh.zones == f"UTC,{TOKYO}"
    assert _zone_rows("UTC") == utc_rows
    backfilled = _rollup_rows()
    rollup_refresh(full=True)
    assert _rollup_rows() == backfilled
    report = Report(Scope(period=tokyo), cache=True)
    assert sum(r["conversations"] for r in report.daily) == 60
    assert not report.rollup_pending

    # A zone removed loses its rows at the next refresh.
    settings.ANALYTICS_TIME_ZONES = ["UTC"]
    rollup_refresh(max_age=3600)
    assert not CohortDay.objects.filter(zone=TOKYO).exists()
    assert _zone_rows("UTC") == utc_rows


@pytest.mark.django_db
def test_an_uncached_report_backfills_a_new_zone_at_once(widget, settings):
    settings.ANALYTICS_TIME_ZONES = ["UTC"]
    traffic_generate(conversations=30, days=5, seed=2, now=NOW)
    rollup_refresh()
    settings.ANALYTICS_TIME_ZONES = ["UTC", TOKYO]
    assert rollup_ensure_fresh(3600) == []
    assert CohortDay.objects.filter(zone=TOKYO).exists()


@pytest.mark.django_db
def test_the_dashboard_in_a_zone_being_backfilled_says_so(
    history, settings, manager_client, django_capture_on_commit_callbacks
):
    settings.ANALYTICS_TIME_ZONES = ["UTC"]
    h = history(at("2026-03-03", 9))
    h.customer(0, "where is my parcel")
    h.bot_reply(300, "order_status")
    rollup_refresh()
    settings.ANALYTICS_TIME_ZONES = ["UTC", TOKYO]
    query = f"range=custom&start=2026-03-01&end=2026-03-07&tz={TOKYO}"
    with django_capture_on_commit_callbacks() as queued:
        html = manager_client.get(f"/analytics/?{query}").content.decode()
    assert 'data-sd="rollup-pending"' in html and "Asia/Tokyo was just added" in html
    assert len(queued) == 1
    assert not CohortDay.objects.filter(zone=TOKYO).exists()  # the page did not wait for it
    rollup_refresh()
    html = manager_client.get(f"/analytics/?{query}").content.decode()
    assert 'data-sd="rollup-pending"' not in html
    assert 'data-sd="kpi-conversations">1<' in html
