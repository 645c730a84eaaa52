"""Every KPI definition against an exact event history, including the edge cases."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.kpis import CHART_BY_KEY, KPIS, Period, Report, Scope, format_value, tiles
from tests.analytics.conftest import at

PERIOD = Period(start=at("2026-03-01", 0), end=at("2026-03-08", 0))  # 1-7 March


@pytest.fixture
def story(history, agent_user, other_widget):
    """Seven conversations in the period, two in the one before, one just after.

    c1 bot answers twice, customer confirms, rates 5          -> contained (confirmed)
    c2 bot answers, assumed resolved after inactivity          -> contained (assumed)
    c3 bot answers, confirmed, then the customer writes again  -> reopened: open
    c4 fallback, then handoff (billing), agent answers after 60 s, agent resolves, rates 2
    c5 asks for a human at once: handoff with no agent reply yet (open)
    c6 bot answers, customer leaves: abandoned
    c7 handoff (anger), agent answers after 120 s, hands back, bot resolves (assumed), rates 4
       -> resolved, but not contained: an agent wrote in it
    """
    c1 = history(at("2026-03-01", 10))
    c1.customer(0, "Where is my order?")
    c1.bot_reply(2000, "order_status")
    c1.customer(60, "it's 55102")
    c1.bot_reply(1000, "order_status")
    c1.resolve(120, "bot_confirmed")
    c1.rate(130, 5)

    c2 = history(at("2026-03-01", 11))
    c2.customer(0, "How do I send a parcel back?")
    c2.bot_reply(500, "returns")
    c2.resolve(1800, "bot_assumed")

    c3 = history(at("2026-03-02", 9))
    c3.customer(0, "Can I return sandals?")
    c3.bot_reply(3000, "returns")
    c3.resolve(300, "bot_confirmed")
    c3.reopen(400)
    c3.customer(400, "Actually, one more thing")

    c4 = history(at("2026-03-02", 15))
    c4.customer(0, "Blorp the frobnicator")
    c4.bot_reply(800, "general_inquiry", confidence=0.1, fallback=True)
    c4.customer(90, "You charged me twice")
    c4.handoff(100, "billing_dispute", "billing")
    c4.agent_reply(160, agent_user, first=True)
    c4.resolve(600, "agent", agent=agent_user)
    c4.rate(610, 2)

    c5 = history(at("2026-03-03", 8))
    c5.customer(0, "I want a human")
    c5.handoff(5, "order_status", "human_request")

    c6 = history(at("2026-03-03", 12))
    c6.customer(0, "Do you ship to Norway?")
    c6.bot_reply(1500, "order_status")
    c6.abandon(3600, "bot")

    c7 = history(at("2026-03-04", 18))
    c7.customer(0, "I WANT A HUMAN")
    c7.handoff(3, "returns", "anger")
    c7.agent_reply(123, agent_user, first=True)
    c7.customer(200, "ok thanks")
    c7.customer(300, "and the label?")
    c7.bot_reply(700, "returns")
    c7.resolve(2400, "bot_assumed")
    c7.rate(2410, 4)

    # The previous period (22-28 February).
    c8 = history(at("2026-02-25", 10))
    c8.customer(0, "Order status please")
    c8.bot_reply(1000, "order_status")
    c8.resolve(200, "bot_confirmed")
    c8.rate(210, 3)
    c10 = history(at("2026-02-28", 23, 59), on=other_widget)
    c10.customer(0, "Return policy?")
    c10.bot_reply(4000, "returns")
    c10.resolve(1860, "bot_assumed")  # happens on 1 March: still the February cohort

    # Starts exactly at the end of the period: not part of it.
    c9 = history(at("2026-03-08", 0))
    c9.customer(0, "late")
    c9.bot_reply(100, "returns")
    return {"c1": c1, "c2": c2, "c3": c3, "c4": c4, "c5": c5, "c6": c6, "c7": c7}


@pytest.mark.django_db
def test_every_kpi_has_its_exact_value(story):
    report = Report(Scope(period=PERIOD))
    values = report.current
    expected = {
        "conversations": 7,
        "avg_customer_turns": 12 / 7,
        "bot_resolution_rate": 2 / 7,  # c1, c2 (c3 reopened, c7 had an agent)
        "bot_resolution_confirmed_rate": 1 / 7,
        "bot_resolution_assumed_rate": 1 / 7,
        "resolution_time_p50": 600,  # of [120, 600, 1800, 2400]; c3's 300 was reopened
        "resolution_time_p90": 2400,
        "handoff_rate": 3 / 7,  # c4, c5, c7
        "handoffs_unanswered": 1,  # c5
        "bot_first_response_p50": 0.8,  # of [0.5, 0.7, 0.8, 1.5, 2.0, 3.0]
        "bot_first_response_p90": 3.0,
        "agent_first_response_p50": 60,  # of [60, 120], from the handoff, not the start
        "agent_first_response_p90": 120,
        "bot_latency_p50": 1000,  # of [500, 700, 800, 1000, 1500, 2000, 3000]
        "bot_latency_p95": 3000,
        "csat": 2 / 3,  # ratings 5, 2, 4
        "avg_rating": 11 / 3,
        "rating_response_rate": 3 / 5,  # rated c1, c4, c7 of resolved-once c1, c2, c3, c4, c7
        "fallback_rate": 1 / 10,  # 1 fallback in 7 bot replies + 3 handoffs
    }
    assert set(expected) == {kpi.key for kpi in KPIS}
    for key, value in expected.items():
        assert values[key] == pytest.approx(value), key


@pytest.mark.django_db
def test_previous_period_and_change(story):
    report = Report(Scope(period=PERIOD))
    before = report.before
    assert report.previous == Period(start=at("2026-02-22", 0), end=at("2026-03-01", 0))
    assert before["conversations"] == 2
    assert before["bot_resolution_rate"] == 1.0
    assert before["bot_latency_p50"] == 1000
    assert before["bot_latency_p95"] == 4000
    assert before["csat"] == 0.0
    assert before["handoff_rate"] == 0.0
    assert before["agent_first_response_p50"] is None  # no handoff then: no value, no error
    tile = {t.kpi.key: t for g in tiles(report) for t in g["tiles"]}
    assert tile["conversations"].change == pytest.approx(250.0)  # 2 -> 7
    assert tile["conversations"].change_display == "+250.0%"
    assert tile["bot_resolution_rate"].change == pytest.approx((2 / 7 - 1) * 100)
    assert tile["bot_resolution_rate"].trend == "worse"
    assert tile["handoff_rate"].trend == "worse"  # up, and lower is better
    assert tile["agent_first_response_p50"].change is None
    assert tile["agent_first_response_p50"].change_display == "no comparison"


@pytest.mark.django_db
def test_daily_outcomes(story):
    chart = CHART_BY_KEY["conversations_daily"].build(Report(Scope(period=PERIOD)))
    assert chart.labels == [f"2026-03-0{d}" for d in range(1, 8)]
    data = {ds["key"]: ds["data"] for ds in chart.datasets}
    assert data["resolved_bot"] == [2, 0, 0, 0, 0, 0, 0]
    assert data["resolved_agent"] == [0, 1, 0, 1, 0, 0, 0]
    assert data["abandoned"] == [0, 0, 1, 0, 0, 0, 0]
    assert data["open"] == [0, 1, 1, 0, 0, 0, 0]


@pytest.mark.django_db
def test_handoff_reasons_intents_and_gaps(story):
    report = Report(Scope(period=PERIOD))
    reasons = CHART_BY_KEY["handoff_reasons"].build(report)
    # Categories read by their labels; the old name "billing" counts as an intent policy.
    assert reasons.rows() == [["Anger", 1], ["Asked for a person", 1], ["Intent policy", 1]]
    by_intent = CHART_BY_KEY["handoff_intents"].build(report)
    assert by_intent.rows() == [["billing_dispute", 1], ["order_status", 1], ["returns", 1]]
    intents = CHART_BY_KEY["intents"].build(report)
    assert intents.rows() == [
        ["order_status", 4],
        ["returns", 4],
        ["billing_dispute", 1],
        ["general_inquiry", 1],
    ]
    gaps = CHART_BY_KEY["gap_intents"].build(report)
    assert gaps.rows() == [
        ["billing_dispute", 0, 1],
        ["general_inquiry", 1, 0],
        ["returns", 0, 1],
    ]  # order_status's handoff was a customer asking for a person: not a gap
    assert all(link.startswith("/knowledge/intents/") for link in gaps.links)
    messages = CHART_BY_KEY["gap_messages"].build(report)
    # The fallback, the billing message and the angry "I WANT A HUMAN" once each; the same
    # words handed off as a request for a person are not a gap.
    assert messages.rows() == [
        ["blorp the frobnicator", 1],
        ["i want a human", 1],
        ["you charged me twice", 1],
    ]
    # No customer text in an address (it would reach access logs): the page posts it.
    assert messages.links == ["/knowledge/playground/"] * 3


@pytest.mark.django_db
def test_reopened_after_bot_resolution_no_longer_counts(history):
    c = history(at("2026-03-02", 9))
    c.customer(0)
    c.bot_reply(100, "returns")
    c.resolve(60, "bot_confirmed")
    assert Report(Scope(period=PERIOD)).current["bot_resolution_rate"] == 1.0
    c.reopen(120)
    assert Report(Scope(period=PERIOD)).current["bot_resolution_rate"] == 0.0
    c.resolve(300, "bot_assumed")  # the bot resolves it again: it counts again, as assumed
    values = Report(Scope(period=PERIOD)).current
    assert values["bot_resolution_rate"] == 1.0
    assert values["bot_resolution_confirmed_rate"] == 0.0
    assert values["resolution_time_p50"] == 300


@pytest.mark.django_db
def test_handoff_without_agent_reply_is_waiting_not_timed(history, agent_user):
    c = history(at("2026-03-05", 9))
    c.customer(0)
    c.handoff(2, "returns", "human_request")
    values = Report(Scope(period=PERIOD)).current
    assert values["handoff_rate"] == 1.0
    assert values["handoffs_unanswered"] == 1
    assert values["agent_first_response_p50"] is None
    assert values["bot_first_response_p50"] is None  # the bot never replied


@pytest.mark.django_db
def test_no_ratings_gives_no_satisfaction_not_an_error(history):
    c = history(at("2026-03-05", 9))
    c.customer(0)
    c.bot_reply(300, "returns")
    c.resolve(60, "bot_confirmed")
    values = Report(Scope(period=PERIOD)).current
    assert values["csat"] is None
    assert values["avg_rating"] is None
    assert values["rating_response_rate"] == 0.0


@pytest.mark.django_db
def test_empty_period_has_no_values_and_no_division_by_zero(story):
    empty = Period(start=at("2025-01-01", 0), end=at("2025-01-08", 0))
    report = Report(Scope(period=empty))
    assert report.is_empty
    values = report.current
    assert values["conversations"] == 0
    assert all(values[k] is None for k in values if k != "conversations"), values
    chart = CHART_BY_KEY["conversations_daily"].build(report)
    assert chart.is_empty and len(chart.labels) == 7
    assert CHART_BY_KEY["gap_messages"].build(report).rows() == []
    for group in tiles(report):
        for tile in group["tiles"]:
            assert tile.display in {"—", "0"}


@pytest.mark.django_db
def test_intent_filter_keeps_conversations_of_that_intent(story):
    values = Report(Scope(period=PERIOD, intent="returns")).current
    # Conversations whose intent is now "returns": c2, c3, c7.
    assert values["conversations"] == 3
    assert values["bot_resolution_rate"] == pytest.approx(1 / 3)  # c2
    assert values["handoff_rate"] == pytest.approx(1 / 3)  # c7
    assert values["avg_customer_turns"] == pytest.approx((1 + 2 + 3) / 3)


@pytest.mark.django_db
def test_widget_filter(story, other_widget, widget):
    assert Report(Scope(period=PERIOD, widget_id=other_widget.pk)).current["conversations"] == 0
    report = Report(Scope(period=PERIOD, widget_id=widget.pk))
    assert report.current["conversations"] == 7
    assert report.before["conversations"] == 1  # c10 came through the other widget


def test_period_arithmetic():
    assert PERIOD.days == 7
    assert PERIOD.first_day == date(2026, 3, 1)
    assert PERIOD.last_day == date(2026, 3, 7)
    assert PERIOD.previous().days == 7


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (None, "percent", "—"),
        (0.2857, "percent", "28.6%"),
        (1234, "count", "1,234"),
        (812.4, "ms", "812 ms"),
        (3.6667, "score", "3.67 / 5"),
        (42.0, "seconds", "42.0 s"),
        (600, "seconds", "10 min 00 s"),
        (7260, "seconds", "2 h 01 min"),
        (1.714, "number", "1.7"),
    ],
)
def test_format_value(value, unit, shown):
    assert format_value(value, unit) == shown


@pytest.mark.django_db
def test_report_runs_a_fixed_number_of_queries(story, django_assert_max_num_queries):
    report = Report(Scope(period=PERIOD))
    with django_assert_max_num_queries(8):
        tiles(report)
        for key in CHART_BY_KEY:
            CHART_BY_KEY[key].build(report)


@pytest.mark.django_db
def test_the_latest_state_decides_the_outcome(history):
    back = history(at("2026-03-02", 9))  # abandoned, comes back, the bot resolves it
    back.customer(0)
    back.bot_reply(200, "returns")
    back.abandon(1800)
    back.customer(4000, "still there?")
    back.bot_reply(300, "returns")
    back.resolve(6000, "bot_assumed")
    gone = history(at("2026-03-03", 9))  # resolved, reopened, then left: abandoned
    gone.customer(0)
    gone.bot_reply(200, "returns")
    gone.resolve(60, "bot_confirmed")
    gone.reopen(600)
    gone.abandon(2400)
    report = Report(Scope(period=PERIOD))
    assert report.current["bot_resolution_rate"] == 0.5
    assert report.current["bot_resolution_assumed_rate"] == 0.5
    assert report.current["resolution_time_p50"] == 6000
    data = {
        ds["key"]: ds["data"] for ds in CHART_BY_KEY["conversations_daily"].build(report).datasets
    }
    assert data["resolved_bot"][:3] == [0, 1, 0]
    assert data["abandoned"][:3] == [0, 0, 1]


@pytest.mark.parametrize(
    ("category", "label"),
    [("policy", "Intent policy"), ("billing", "Intent policy"), ("turns", "Too many turns"),
     ("long_conversation", "Too many turns"), ("language", "Language not served"),
     ("human_request", "Asked for a person"), ("something_new", "something_new")],
)
def test_handoff_categories_have_labels_and_old_names_stay_readable(category, label):
    from analytics.kpis import handoff_category_label

    assert handoff_category_label(category) == label


@pytest.mark.parametrize(("seconds", "shown"), [
    (0.04, "0.0 s"), (42.46, "42.5 s"), (59.94, "59.9 s"), (59.96, "1 min 00 s"),
    (60, "1 min 00 s"), (119.6, "2 min 00 s"), (2099.6, "35 min 00 s"), (2065, "34 min 25 s"),
    (3599.6, "1 h 00 min"), (7199.0, "2 h 00 min"), (7620, "2 h 07 min"),
    (48 * 3600 - 20, "2.0 days"), (3.5 * 86400, "3.5 days"),
])
def test_a_duration_never_shows_sixty_of_its_last_unit(seconds, shown):
    from analytics.kpis import format_duration

    assert format_duration(seconds) == shown
    assert " 60 s" not in shown and " 60 min" not in shown
