# SQL is assembled from module constants only (table and event names, fixed fragments); every
# value that comes from a request is a query parameter.
# ruff: noqa: S608
"""Every KPI of the dashboard, declared once, and the SQL that computes them.

A KPI names the number it shows, says how it is defined (the page prints that text) and which
aggregate query (a *source*) produces it. Sources are plain SQL over the reporting-event table
(and ``chat_message`` for customer turns) that runs unchanged on SQLite and PostgreSQL: CTEs,
``ROW_NUMBER()``/``COUNT(*) OVER`` window functions for the "latest state" of a conversation
and for nearest-rank percentiles, conditional sums. No query loads event rows into Python:
each returns at most one row per day, per metric or per intent.

Attribution: every KPI counts the conversations that *started* in the period (the cohort),
and the events of those conversations, whenever they happened. ``conversation_started_at`` on
each event makes that a single indexed range filter without a join.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property, partial
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.urls import reverse

from chat.models import BotTrace, Conversation, Message
from knowledge.models import Intent

from .models import EventName, ReportingEvent

EVENTS = ReportingEvent._meta.db_table
CONVERSATIONS = Conversation._meta.db_table
MESSAGES = Message._meta.db_table
TRACES = BotTrace._meta.db_table

STATE_EVENTS = (EventName.RESOLVED.value, EventName.REOPENED.value, EventName.ABANDONED.value)

OUTCOMES = (
    ("resolved_bot", "Resolved by bot"),
    ("resolved_agent", "Resolved by agent"),
    ("abandoned", "Abandoned"),
    ("open", "Open"),
)


# --- What is being measured ------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole days ``[start, end)`` in UTC; ``days`` long."""

    start: datetime
    end: datetime

    @property
    def days(self) -> int:
        return max(1, round((self.end - self.start) / timedelta(days=1)))

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    def previous(self) -> Period:
        """The period of the same length just before this one (for the tiles' change)."""
        return Period(start=self.start - (self.end - self.start), end=self.start)

    def day_list(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(self.days)]


@dataclass(frozen=True)
class Scope:
    """A period plus the dashboard's filters; every query is limited to it."""

    period: Period
    intent: str = ""
    widget_id: int | None = None


# --- The registry ----------------------------------------------------------------------------

COUNT, PERCENT, SECONDS, MS, SCORE, NUMBER = "count", "percent", "seconds", "ms", "score", "number"


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    definition: str
    unit: str
    group: str
    # "up" when a higher value is better, "down" when lower is better, "" when neither.
    better: str = ""


KPIS: tuple[Kpi, ...] = (
    Kpi(
        "conversations",
        "Conversations",
        "Conversations started in the period (one conversation_started event each).",
        COUNT,
        "volume",
    ),
    Kpi(
        "avg_customer_turns",
        "Average customer turns",
        "Customer messages in the conversations started in the period, divided by those "
        "conversations.",
        NUMBER,
        "volume",
    ),
    Kpi(
        "bot_resolution_rate",
        "Bot resolution rate",
        "Containment: conversations whose latest state is a bot resolution (confirmed by the "
        "customer or assumed after inactivity) and that never had an agent message, divided by "
        "all conversations started in the period. A conversation reopened after a bot "
        "resolution no longer counts (unless the bot resolves it again).",
        PERCENT,
        "resolution",
        "up",
    ),
    Kpi(
        "bot_resolution_confirmed_rate",
        "Resolved by bot, confirmed",
        "The part of the bot resolution rate that the customer confirmed.",
        PERCENT,
        "resolution",
        "up",
    ),
    Kpi(
        "bot_resolution_assumed_rate",
        "Resolved by bot, assumed",
        "The part of the bot resolution rate assumed resolved after the customer went quiet.",
        PERCENT,
        "resolution",
        "up",
    ),
    Kpi(
        "resolution_time_p50",
        "Resolution time, median",
        "From the conversation's start to its resolution (the latest, for conversations "
        "resolved now), nearest-rank median.",
        SECONDS,
        "resolution",
        "down",
    ),
    Kpi(
        "resolution_time_p90",
        "Resolution time, 90th percentile",
        "As above, nearest-rank 90th percentile.",
        SECONDS,
        "resolution",
        "down",
    ),
    Kpi(
        "handoff_rate",
        "Handoff rate",
        "Conversations with at least one handoff to the agents' queue, divided by all "
        "conversations started in the period.",
        PERCENT,
        "handoff",
        "down",
    ),
    Kpi(
        "handoffs_unanswered",
        "Handoffs without an agent reply yet",
        "Handoffs in the period's conversations that no agent message has followed yet "
        "(they are not part of the agent response time).",
        COUNT,
        "handoff",
        "down",
    ),
    Kpi(
        "bot_first_response_p50",
        "Bot first response, median",
        "Per conversation, from the customer's message to the bot's first reply to it (the "
        "latency of the conversation's first bot reply, normally the answer to the first "
        "customer message); nearest-rank median.",
        SECONDS,
        "speed",
        "down",
    ),
    Kpi(
        "bot_first_response_p90",
        "Bot first response, 90th percentile",
        "As above, nearest-rank 90th percentile.",
        SECONDS,
        "speed",
        "down",
    ),
    Kpi(
        "agent_first_response_p50",
        "Agent first response, median",
        "From each handoff to the first agent message after it (not from the conversation's "
        "start); nearest-rank median over handoffs that have an agent reply.",
        SECONDS,
        "speed",
        "down",
    ),
    Kpi(
        "agent_first_response_p90",
        "Agent first response, 90th percentile",
        "As above, nearest-rank 90th percentile.",
        SECONDS,
        "speed",
        "down",
    ),
    Kpi(
        "bot_latency_p50",
        "Bot reply latency, p50",
        "Every bot reply: from the customer message being stored to the reply being stored; "
        "nearest-rank median.",
        MS,
        "speed",
        "down",
    ),
    Kpi(
        "bot_latency_p95",
        "Bot reply latency, p95",
        "As above, nearest-rank 95th percentile.",
        MS,
        "speed",
        "down",
    ),
    Kpi(
        "csat",
        "Satisfaction (CSAT)",
        "Ratings of 4 or 5 among the ratings given.",
        PERCENT,
        "satisfaction",
        "up",
    ),
    Kpi(
        "avg_rating",
        "Average rating",
        "Mean of the ratings given (1 to 5).",
        SCORE,
        "satisfaction",
        "up",
    ),
    Kpi(
        "rating_response_rate",
        "Rating response rate",
        "Conversations with a rating, divided by the conversations that were resolved at "
        "least once (those asked to rate).",
        PERCENT,
        "satisfaction",
        "up",
    ),
    Kpi(
        "fallback_rate",
        "Fallback rate",
        "Bot turns whose intent was the fallback (below the confidence threshold or "
        "classified as the fallback intent), divided by all bot turns (replies and handoffs).",
        PERCENT,
        "bot",
        "down",
    ),
)
KPI_BY_KEY = {kpi.key: kpi for kpi in KPIS}

KPI_GROUPS = (
    ("volume", "Volume"),
    ("resolution", "Resolution"),
    ("handoff", "Handoffs"),
    ("speed", "Response times"),
    ("satisfaction", "Satisfaction"),
    ("bot", "Bot quality"),
)


@dataclass(frozen=True)
class Chart:
    key: str
    label: str
    definition: str
    kind: str  # "bar", "stacked", "hbar" or "table"
    build: Callable[[Report], ChartData]


@dataclass
class ChartData:
    labels: list[str]
    datasets: list[dict[str, Any]]  # [{"key", "label", "data": [numbers]}]
    links: list[str] = field(default_factory=list)  # one per label, for tables

    @property
    def is_empty(self) -> bool:
        return not self.labels or not any(any(ds["data"]) for ds in self.datasets)

    def rows(self) -> list[list[Any]]:
        return [
            [label, *(ds["data"][i] for ds in self.datasets)] for i, label in enumerate(self.labels)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {"labels": self.labels, "datasets": self.datasets}


# --- SQL helpers -----------------------------------------------------------------------------


def _db_datetime(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _event_scope(scope: Scope, period: Period, alias: str = "e") -> tuple[str, list[Any]]:
    """The WHERE clause (without WHERE) limiting events to a scope's conversations."""
    sql = f"{alias}.conversation_started_at >= %s AND {alias}.conversation_started_at < %s"
    params: list[Any] = [_db_datetime(period.start), _db_datetime(period.end)]
    if scope.widget_id is not None:
        sql += f" AND {alias}.widget_id = %s"
        params.append(scope.widget_id)
    if scope.intent:
        sql += (
            f" AND {alias}.conversation_id IN "
            f"(SELECT ic.id FROM {CONVERSATIONS} ic WHERE ic.intent = %s)"
        )
        params.append(scope.intent)
    return sql, params


def _bucket(period: Period, alias: str = "e") -> tuple[str, list[Any]]:
    """'cur' for the current period, 'prev' for the one before (queries span both)."""
    return (
        f"CASE WHEN {alias}.conversation_started_at >= %s THEN 'cur' ELSE 'prev' END",
        [_db_datetime(period.start)],
    )


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


# PostgreSQL's default work_mem (4 MB) sends the KPI queries' sorts and hashes to disk; the
# queries themselves are the same on both databases.
POSTGRES_WORK_MEM = "32MB"


def _fetch(sql: str, params: list[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        raw = connection.connection
        if connection.vendor == "postgresql" and getattr(raw, "_sd_work_mem", None) is None:
            cursor.execute(f"SET work_mem = '{POSTGRES_WORK_MEM}'")  # once per connection
            raw._sd_work_mem = POSTGRES_WORK_MEM
        cursor.execute(sql, params)
        return cursor.fetchall()


def _final_states_sql(where: str) -> str:
    """Each conversation's latest resolved/reopened/abandoned event: its current outcome."""
    return f"""
        SELECT conversation_id, name, category, value, conversation_started_at FROM (
            SELECT e.conversation_id, e.name, e.category, e.value, e.conversation_started_at,
                   ROW_NUMBER() OVER (
                       PARTITION BY e.conversation_id ORDER BY e.occurred_at DESC, e.name DESC
                   ) AS rn
            FROM {EVENTS} e
            WHERE e.name IN {_in(STATE_EVENTS)} AND {where}
        ) latest WHERE rn = 1"""


# Percentiles are exact at the precision the page shows: each metric's values are rounded to
# a unit (1 ms for latencies, 0.1 s for waits and resolution times) and counted per unit, so
# the database hashes a few thousand distinct values instead of sorting every row.
# Units per shown value: ``u / PERCENTILE_DIVISORS[metric]`` is the value shown.
PERCENTILE_DIVISORS = {
    "bot_latency": 1,  # ms, counted per ms
    "bot_first_response": 1000,  # counted per ms, shown in seconds
    "agent_first_response": 10,  # seconds, counted per 0.1 s
    "resolution_time": 10,
}


def _percentile_sql(values_sql: str, counts_sql: str = "") -> str:
    """Nearest-rank p50/p90/p95 per (bucket, metric) of ``values_sql`` (columns b, m, u).

    ``u`` is the value in whole units; the k-th smallest value (k = ceil(p * n / 100)) is the
    first unit whose running count reaches k. ``counts_sql`` may add values already counted
    per unit (columns b, m, u, c, with c > 0).
    """
    extra = f" UNION ALL {counts_sql}" if counts_sql else ""
    return f"""
        WITH vals AS ({values_sql}),
        hist AS (SELECT b, m, u, COUNT(*) AS c FROM vals GROUP BY b, m, u{extra}),
        running AS (
            SELECT b, m, u,
                   CAST(SUM(c) OVER (PARTITION BY b, m ORDER BY u) AS BIGINT) AS upto,
                   CAST(SUM(c) OVER (PARTITION BY b, m) AS BIGINT) AS n
            FROM hist
        )
        SELECT b, m, MAX(n),
               MIN(CASE WHEN upto >= (50 * n + 99) / 100 THEN u END),
               MIN(CASE WHEN upto >= (90 * n + 99) / 100 THEN u END),
               MIN(CASE WHEN upto >= (95 * n + 99) / 100 THEN u END)
        FROM running GROUP BY b, m"""


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``None`` (shown as an empty state) instead of a division by zero."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


# --- The report: all sources for one scope, each run once ------------------------------------


# Report sources are cached per scope (stale-while-revalidate): a result younger than
# FRESH_SECONDS is served as is; an older one (kept up to KEEP_SECONDS) is served at once while
# a Celery task computes the next one, so only the first look at a scope waits for the queries.
FRESH_SECONDS = 30
KEEP_SECONDS = 15 * 60
SOURCES = ("daily", "event_groups", "customer_turns", "percentiles", "gap_messages")


class Report:
    """The dashboard's numbers for a scope; each source query runs at most once.

    ``cache=True`` (the views) reads and writes the shared cache described above;
    ``refresh=True`` (the refresh task) recomputes every source and stores it.
    """

    def __init__(self, scope: Scope, *, cache: bool = False, refresh: bool = False) -> None:
        self.scope = scope
        self.use_cache = cache or refresh
        self.refresh = refresh
        self._refresh_asked = False
        self.period = scope.period
        self.previous = scope.period.previous()
        # Tiles compare against the previous period, so the tile sources span both.
        self.span = Period(start=self.previous.start, end=self.period.end)

    def _key(self, name: str) -> str:
        scope = self.scope
        return ":".join(
            (
                "analytics",
                name,
                scope.period.start.isoformat(),
                scope.period.end.isoformat(),
                scope.intent,
                str(scope.widget_id or ""),
            )
        )

    def _source(self, name: str, compute: Callable[[], Any]) -> Any:
        if not self.use_cache:
            return compute()
        key = self._key(name)
        entry = None if self.refresh else cache.get(key)
        if entry is not None:
            computed_at, value = entry
            if time.time() - computed_at > FRESH_SECONDS:
                self._refresh_later()
            return value
        value = compute()
        cache.set(key, (time.time(), value), KEEP_SECONDS)
        return value

    def _refresh_later(self) -> None:
        """Queues one recomputation of this scope (one at a time across processes)."""
        if self._refresh_asked:
            return
        self._refresh_asked = True
        if not cache.add(self._key("refreshing"), 1, FRESH_SECONDS):
            return
        from .tasks import report_refresh

        scope = self.scope
        transaction.on_commit(
            partial(
                report_refresh.delay,
                start=scope.period.start.isoformat(),
                end=scope.period.end.isoformat(),
                intent=scope.intent,
                widget_id=scope.widget_id,
            )
        )

    def compute_all(self) -> None:
        for name in SOURCES:
            getattr(self, name)

    # Source: cohort outcomes per day (both periods) --------------------------------------

    @cached_property
    def daily(self) -> list[dict[str, Any]]:
        return self._source("daily", self._compute_daily)

    def _compute_daily(self) -> list[dict[str, Any]]:
        # One pass over the cohort's events, grouped by conversation: flags, and the latest
        # moment of each state event; a conversation's current state is the latest of them.
        where, params = _event_scope(self.scope, self.span)
        names = (
            EventName.CONVERSATION_STARTED,
            EventName.AGENT_REPLIED,
            EventName.HANDOFF,
            EventName.RESOLVED,
            EventName.REOPENED,
            EventName.ABANDONED,
            EventName.RATING_GIVEN,
        )
        sql = f"""
            WITH per AS (
                SELECT e.conversation_id AS cid,
                    MAX(CASE WHEN e.name = 'conversation_started' THEN 1 ELSE 0 END) AS started,
                    MAX(e.conversation_started_at) AS t,
                    MAX(CASE WHEN e.name = 'agent_replied' THEN 1 ELSE 0 END) AS agent,
                    MAX(CASE WHEN e.name = 'handoff' THEN 1 ELSE 0 END) AS handoff,
                    MAX(CASE WHEN e.name = 'rating_given' THEN 1 ELSE 0 END) AS rated,
                    MAX(CASE WHEN e.name = 'resolved' THEN e.occurred_at END) AS res,
                    MAX(CASE WHEN e.name = 'resolved' AND e.category = 'bot_confirmed'
                        THEN e.occurred_at END) AS conf,
                    MAX(CASE WHEN e.name = 'resolved' AND e.category = 'bot_assumed'
                        THEN e.occurred_at END) AS assumed,
                    MAX(CASE WHEN e.name = 'reopened' THEN e.occurred_at END) AS reo,
                    MAX(CASE WHEN e.name = 'abandoned' THEN e.occurred_at END) AS ab
                FROM {EVENTS} e
                WHERE e.name IN {_in(n.value for n in names)} AND {where}
                GROUP BY e.conversation_id
            ),
            state AS (
                SELECT t, agent, handoff, rated, res, conf, assumed,
                    CASE WHEN res IS NOT NULL AND (reo IS NULL OR res > reo)
                        AND (ab IS NULL OR res > ab) THEN 1 ELSE 0 END AS is_res,
                    CASE WHEN ab IS NOT NULL AND (res IS NULL OR ab > res)
                        AND (reo IS NULL OR ab > reo) THEN 1 ELSE 0 END AS is_ab
                FROM per WHERE started = 1
            )
            SELECT date(t) AS day,
                COUNT(*),
                SUM(is_res),
                SUM(is_ab),
                SUM(CASE WHEN is_res = 1 AND agent = 0 AND conf = res THEN 1 ELSE 0 END),
                SUM(CASE WHEN is_res = 1 AND agent = 0 AND assumed = res THEN 1 ELSE 0 END),
                SUM(handoff),
                SUM(CASE WHEN res IS NOT NULL THEN 1 ELSE 0 END),
                SUM(rated)
            FROM state GROUP BY date(t)
        """
        keys = (
            "conversations",
            "resolved",
            "abandoned",
            "contained_confirmed",
            "contained_assumed",
            "handed_off",
            "ever_resolved",
            "rated",
        )
        rows = _fetch(sql, params)
        out = []
        for row in rows:
            day = row[0] if isinstance(row[0], date) else date.fromisoformat(str(row[0]))
            values = dict(zip(keys, (int(v or 0) for v in row[1:]), strict=True))
            # Resolved by the bot means contained; any other resolution involved an agent.
            values["resolved_bot"] = values["contained_confirmed"] + values["contained_assumed"]
            values["resolved_agent"] = values["resolved"] - values["resolved_bot"]
            values["open"] = values["conversations"] - values["resolved"] - values["abandoned"]
            out.append({"day": day, **values})
        return out

    def _cohort(self, bucket: str) -> dict[str, int]:
        period = self.period if bucket == "cur" else self.previous
        totals: dict[str, int] = {}
        for row in self.daily:
            if period.first_day <= row["day"] <= period.last_day:
                for key, value in row.items():
                    if key != "day":
                        totals[key] = totals.get(key, 0) + value
        return totals

    # Source: event counts and sums by name, intent and category (both periods) ---------

    @cached_property
    def event_groups(self) -> list[tuple[str, str, str, str, int, float, int]]:
        return self._source("event_groups", self._compute_event_groups)

    def _compute_event_groups(self) -> list[tuple[str, str, str, str, int, float, int]]:
        """(bucket, event name, intent, category, count, sum of values, values >= 4): one
        pass over the events that both the tiles' totals and the breakdown charts need."""
        where, params = _event_scope(self.scope, self.span)
        bucket, bucket_params = _bucket(self.period)
        names = (
            EventName.BOT_REPLIED,
            EventName.HANDOFF,
            EventName.FALLBACK,
            EventName.RATING_GIVEN,
            EventName.FIRST_AGENT_REPLY,
        )
        sql = f"""
            SELECT {bucket} AS b, e.name, e.intent, e.category, COUNT(*), SUM(e.value),
                   SUM(CASE WHEN e.value >= 4 THEN 1 ELSE 0 END)
            FROM {EVENTS} e
            WHERE e.name IN {_in(n.value for n in names)} AND {where}
            GROUP BY 1, 2, 3, 4
        """
        return [
            (b, name, intent, category, int(count), float(total or 0), int(high or 0))
            for b, name, intent, category, count, total, high in _fetch(sql, bucket_params + params)
        ]

    @cached_property
    def event_totals(self) -> dict[tuple[str, str], dict[str, float]]:
        totals: dict[tuple[str, str], dict[str, float]] = {}
        for b, name, _intent, _category, count, total, high in self.event_groups:
            entry = totals.setdefault((b, name), {"count": 0, "sum": 0.0, "high": 0})
            entry["count"] += count
            entry["sum"] += total
            entry["high"] += high
        return totals

    def _event(self, bucket: str, name: str, what: str = "count") -> float:
        return self.event_totals.get((bucket, str(name)), {}).get(what, 0)

    # Source: customer turns (both periods), from chat messages --------------------------

    @cached_property
    def customer_turns(self) -> dict[str, int]:
        return self._source("customer_turns", self._compute_customer_turns)

    def _compute_customer_turns(self) -> dict[str, int]:
        params: list[Any] = [_db_datetime(self.period.start)]
        sql = f"""
            SELECT CASE WHEN c.created_at >= %s THEN 'cur' ELSE 'prev' END AS b, COUNT(*)
            FROM {MESSAGES} m JOIN {CONVERSATIONS} c ON c.id = m.conversation_id
            WHERE m.author = 'customer' AND c.created_at >= %s AND c.created_at < %s"""
        params += [_db_datetime(self.span.start), _db_datetime(self.span.end)]
        if self.scope.widget_id is not None:
            sql += " AND c.widget_id = %s"
            params.append(self.scope.widget_id)
        if self.scope.intent:
            sql += " AND c.intent = %s"
            params.append(self.scope.intent)
        sql += " GROUP BY 1"
        return {b: int(n) for b, n in _fetch(sql, params)}

    # Source: percentiles (both periods) -------------------------------------------------

    @cached_property
    def percentiles(self) -> dict[tuple[str, str], dict[str, float | None]]:
        return self._source("percentiles", self._compute_percentiles)

    def _compute_percentiles(self) -> dict[tuple[str, str], dict[str, float | None]]:
        where, params = _event_scope(self.scope, self.span)
        bucket, bucket_params = _bucket(self.period)
        bucket_f, _ = _bucket(self.period, alias="f")
        # One ordered pass over the bot replies counts both bot metrics per unit: every
        # reply's latency, and (rn = 1) each conversation's first reply.
        bot_replies = f"""
            SELECT e.conversation_started_at, e.value,
                   ROW_NUMBER() OVER (
                       PARTITION BY e.conversation_id ORDER BY e.occurred_at, e.value
                   ) AS rn
            FROM {EVENTS} e
            WHERE e.name = '{EventName.BOT_REPLIED.value}' AND {where}"""
        bot_counts = f"""
            SELECT h.b, k.m, h.u,
                   CASE WHEN k.m = 'bot_latency' THEN h.n_all ELSE h.n_first END
            FROM (
                SELECT {bucket_f} AS b, ROUND(f.value) AS u, COUNT(*) AS n_all,
                       SUM(CASE WHEN f.rn = 1 THEN 1 ELSE 0 END) AS n_first
                FROM ({bot_replies}) f WHERE f.value IS NOT NULL GROUP BY 1, 2
            ) h
            CROSS JOIN (SELECT 'bot_latency' AS m UNION ALL SELECT 'bot_first_response') k
            WHERE k.m = 'bot_latency' OR h.n_first > 0"""
        values_sql = f"""
            SELECT {bucket} AS b, 'agent_first_response' AS m, ROUND(e.value * 10) AS u
            FROM {EVENTS} e
            WHERE e.name = '{EventName.FIRST_AGENT_REPLY.value}' AND e.value IS NOT NULL
              AND {where}
            UNION ALL
            SELECT {bucket_f}, 'resolution_time', ROUND(f.value * 10)
            FROM ({_final_states_sql(where)}) f
            WHERE f.name = 'resolved' AND f.value IS NOT NULL"""
        all_params = (bucket_params + params) * 3
        rows = _fetch(_percentile_sql(values_sql, bot_counts), all_params)
        out: dict[tuple[str, str], dict[str, float | None]] = {}
        for b, m, n, *units in rows:
            divisor = PERCENTILE_DIVISORS[m]
            scaled = [None if u is None else float(u) / divisor for u in units]
            out[(b, m)] = {"n": int(n), "p50": scaled[0], "p90": scaled[1], "p95": scaled[2]}
        return out

    def _pct(self, bucket: str, metric: str, which: str) -> float | None:
        value = self.percentiles.get((bucket, metric), {}).get(which)
        return float(value) if value is not None else None

    # KPI values ---------------------------------------------------------------------------

    def values(self, bucket: str = "cur") -> dict[str, float | None]:
        cohort = self._cohort(bucket)
        n = cohort.get("conversations", 0)
        confirmed = cohort.get("contained_confirmed", 0)
        assumed = cohort.get("contained_assumed", 0)
        ratings = self._event(bucket, EventName.RATING_GIVEN)
        bot_turns = self._event(bucket, EventName.BOT_REPLIED) + self._event(
            bucket, EventName.HANDOFF
        )
        handoffs = self._event(bucket, EventName.HANDOFF)
        return {
            "conversations": n,
            "avg_customer_turns": ratio(self.customer_turns.get(bucket, 0), n),
            "bot_resolution_rate": ratio(confirmed + assumed, n),
            "bot_resolution_confirmed_rate": ratio(confirmed, n),
            "bot_resolution_assumed_rate": ratio(assumed, n),
            "resolution_time_p50": self._pct(bucket, "resolution_time", "p50"),
            "resolution_time_p90": self._pct(bucket, "resolution_time", "p90"),
            "handoff_rate": ratio(cohort.get("handed_off", 0), n),
            "handoffs_unanswered": (
                max(0, handoffs - self._event(bucket, EventName.FIRST_AGENT_REPLY)) if n else None
            ),
            "bot_first_response_p50": self._pct(bucket, "bot_first_response", "p50"),
            "bot_first_response_p90": self._pct(bucket, "bot_first_response", "p90"),
            "agent_first_response_p50": self._pct(bucket, "agent_first_response", "p50"),
            "agent_first_response_p90": self._pct(bucket, "agent_first_response", "p90"),
            "bot_latency_p50": self._pct(bucket, "bot_latency", "p50"),
            "bot_latency_p95": self._pct(bucket, "bot_latency", "p95"),
            "csat": ratio(self._event(bucket, EventName.RATING_GIVEN, "high"), ratings),
            "avg_rating": ratio(self._event(bucket, EventName.RATING_GIVEN, "sum"), ratings),
            "rating_response_rate": ratio(cohort.get("rated", 0), cohort.get("ever_resolved", 0)),
            "fallback_rate": ratio(self._event(bucket, EventName.FALLBACK), bot_turns),
        }

    @cached_property
    def current(self) -> dict[str, float | None]:
        return self.values("cur")

    @cached_property
    def before(self) -> dict[str, float | None]:
        return self.values("prev")

    @property
    def is_empty(self) -> bool:
        return not self.current["conversations"]

    # Source: breakdowns by intent and category (current period only) --------------------

    @cached_property
    def breakdown(self) -> list[tuple[str, str, str, int]]:
        """(event name, intent, category, count) for bot turns, fallbacks and handoffs."""
        names = {EventName.BOT_REPLIED.value, EventName.HANDOFF.value, EventName.FALLBACK.value}
        return [
            (name, intent, category, count)
            for b, name, intent, category, count, _total, _high in self.event_groups
            if b == "cur" and name in names
        ]

    def _count_by(self, names: Iterable[str], key: str) -> list[tuple[str, int]]:
        names = {str(name) for name in names}
        totals: dict[str, int] = {}
        for name, intent, category, n in self.breakdown:
            if name in names:
                label = (intent if key == "intent" else category) or "(none)"
                totals[label] = totals.get(label, 0) + n
        return sorted(totals.items(), key=lambda item: (-item[1], item[0]))

    # Source: knowledge gaps: customer messages whose bot turn fell back or handed off ----

    @cached_property
    def gap_messages(self) -> list[tuple[str, int]]:
        return self._source("gap_messages", self._compute_gap_messages)

    def _compute_gap_messages(self) -> list[tuple[str, int]]:
        period = self.period
        sql = f"""
            SELECT LOWER(m.text) AS t, COUNT(*) AS n
            FROM {TRACES} tr
            JOIN {MESSAGES} m ON m.id = tr.message_id
            JOIN {CONVERSATIONS} c ON c.id = tr.conversation_id
            WHERE c.created_at >= %s AND c.created_at < %s AND m.author = 'customer'
              AND (tr.decision = 'handoff' OR tr.intent = %s OR tr.confidence < %s)"""
        params: list[Any] = [
            _db_datetime(period.start),
            _db_datetime(period.end),
            settings.BOT_FALLBACK_INTENT,
            settings.BOT_CONFIDENCE_THRESHOLD,
        ]
        if self.scope.widget_id is not None:
            sql += " AND c.widget_id = %s"
            params.append(self.scope.widget_id)
        if self.scope.intent:
            sql += " AND c.intent = %s"
            params.append(self.scope.intent)
        sql += " GROUP BY LOWER(m.text) ORDER BY n DESC, t LIMIT 10"
        return [(str(text), int(n)) for text, n in _fetch(sql, params)]


# --- Charts ----------------------------------------------------------------------------------


def _conversations_daily(report: Report) -> ChartData:
    by_day = {row["day"]: row for row in report.daily}
    days = report.period.day_list()
    return ChartData(
        labels=[day.isoformat() for day in days],
        datasets=[
            {
                "key": key,
                "label": label,
                "data": [by_day.get(day, {}).get(key, 0) for day in days],
            }
            for key, label in OUTCOMES
        ],
    )


def _pairs_chart(pairs: list[tuple[str, int]], label: str) -> ChartData:
    return ChartData(
        labels=[name for name, _ in pairs],
        datasets=[{"key": "count", "label": label, "data": [n for _, n in pairs]}],
    )


def _handoff_reasons(report: Report) -> ChartData:
    return _pairs_chart(report._count_by([EventName.HANDOFF], "category"), "Handoffs")


def _handoff_intents(report: Report) -> ChartData:
    return _pairs_chart(report._count_by([EventName.HANDOFF], "intent"), "Handoffs")


def _intents(report: Report) -> ChartData:
    turns = report._count_by([EventName.BOT_REPLIED, EventName.HANDOFF], "intent")
    return _pairs_chart(turns, "Bot turns")


def _gap_intents(report: Report) -> ChartData:
    fallbacks = dict(report._count_by([EventName.FALLBACK], "intent"))
    handoffs = dict(report._count_by([EventName.HANDOFF], "intent"))
    intents = sorted(
        set(fallbacks) | set(handoffs),
        key=lambda i: (-(fallbacks.get(i, 0) + handoffs.get(i, 0)), i),
    )[:10]
    return ChartData(
        labels=intents,
        datasets=[
            {
                "key": "fallbacks",
                "label": "Fallbacks",
                "data": [fallbacks.get(i, 0) for i in intents],
            },
            {"key": "handoffs", "label": "Handoffs", "data": [handoffs.get(i, 0) for i in intents]},
        ],
        links=knowledge_intent_links(intents),
    )


def _gap_messages(report: Report) -> ChartData:
    pairs = report.gap_messages
    chart = _pairs_chart(pairs, "Fallbacks and handoffs")
    chart.links = [knowledge_message_link(text) for text, _ in pairs]
    return chart


def _kpi_table(report: Report) -> ChartData:
    return ChartData(
        labels=[kpi.label for kpi in KPIS],
        datasets=[
            {
                "key": "current",
                "label": "This period",
                "data": [report.current[kpi.key] for kpi in KPIS],
            },
            {
                "key": "previous",
                "label": "Previous period",
                "data": [report.before[kpi.key] for kpi in KPIS],
            },
        ],
    )


def knowledge_intent_links(slugs: list[str]) -> list[str]:
    """Each intent's page in the knowledge admin, where its phrases and articles are fixed."""
    pks = dict(Intent.objects.filter(slug__in=slugs).values_list("slug", "pk"))
    return [
        reverse("knowledge:intent_edit", args=[pks[slug]])
        if slug in pks
        else reverse("knowledge:intent_list")
        for slug in slugs
    ]


def knowledge_message_link(text: str) -> str:
    """The knowledge playground, to see what the bot does with this message now."""
    return reverse("knowledge:playground") + "?" + urlencode({"text": text})


CHARTS: tuple[Chart, ...] = (
    Chart(
        "conversations_daily",
        "Conversations per day, by outcome",
        "Conversations by the day they started and their current outcome: resolved by the "
        "bot (contained, as in the bot resolution rate), resolved with an agent's involvement, "
        "abandoned, or still open (including reopened ones).",
        "stacked",
        _conversations_daily,
    ),
    Chart(
        "handoff_reasons",
        "Handoff reasons",
        "Handoffs by their reason category.",
        "bar",
        _handoff_reasons,
    ),
    Chart(
        "handoff_intents",
        "Handoffs by intent",
        "Handoffs by the intent of the turn that handed off.",
        "hbar",
        _handoff_intents,
    ),
    Chart(
        "intents",
        "Intent distribution",
        "Bot turns (replies and handoffs) by the intent the bot decided.",
        "hbar",
        _intents,
    ),
    Chart(
        "gap_intents",
        "Knowledge gaps: intents",
        "The intents whose turns most often end in a fallback or a handoff.",
        "table",
        _gap_intents,
    ),
    Chart(
        "gap_messages",
        "Knowledge gaps: customer messages",
        "The most frequent customer messages (compared in lower case) whose bot turn was a "
        "fallback (below the confidence threshold or the fallback intent) or a handoff.",
        "table",
        _gap_messages,
    ),
    Chart(
        "kpis",
        "All KPIs",
        "Every KPI of the tiles for this period and the previous one of the same length.",
        "table",
        _kpi_table,
    ),
)
CHART_BY_KEY = {chart.key: chart for chart in CHARTS}


# --- Presentation helpers (used by the template and the CSV) ---------------------------------


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == PERCENT:
        return f"{value * 100:.1f}%"
    if unit == COUNT:
        return f"{round(value):,}"
    if unit == MS:
        return f"{value:,.0f} ms"
    if unit == SCORE:
        return f"{value:.2f} / 5"
    if unit == SECONDS:
        return format_duration(value)
    return f"{value:.1f}"


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{math.floor(minutes)} min {round(seconds % 60):02d} s"
    hours = minutes / 60
    if hours < 48:
        return f"{math.floor(hours)} h {round(minutes % 60):02d} min"
    return f"{hours / 24:.1f} days"


@dataclass(frozen=True)
class Tile:
    kpi: Kpi
    value: float | None
    previous: float | None

    @property
    def display(self) -> str:
        return format_value(self.value, self.kpi.unit)

    @property
    def previous_display(self) -> str:
        return format_value(self.previous, self.kpi.unit)

    @property
    def change(self) -> float | None:
        """Percentage points for rates, relative change otherwise; None if not comparable."""
        if self.value is None or self.previous is None:
            return None
        if self.kpi.unit == PERCENT:
            return (self.value - self.previous) * 100
        if not self.previous:
            return None
        return (self.value - self.previous) / abs(self.previous) * 100

    @property
    def change_display(self) -> str:
        change = self.change
        if change is None:
            return "no comparison"
        suffix = " pp" if self.kpi.unit == PERCENT else "%"
        return f"{change:+.1f}{suffix}"

    @property
    def trend(self) -> str:
        change = self.change
        if change is None or abs(change) < 0.05 or not self.kpi.better:
            return "same"
        improved = (change > 0) == (self.kpi.better == "up")
        return "better" if improved else "worse"


def tiles(report: Report) -> list[dict[str, Any]]:
    """The tiles, grouped as on the page."""
    groups = []
    for key, label in KPI_GROUPS:
        group_tiles = [
            Tile(kpi=kpi, value=report.current[kpi.key], previous=report.before[kpi.key])
            for kpi in KPIS
            if kpi.group == key
        ]
        groups.append({"key": key, "label": label, "tiles": group_tiles})
    return groups
