# SQL is assembled from module constants only (table and event names, fixed fragments); every
# value that comes from a request is a query parameter.
# ruff: noqa: S608
"""The SQL behind the dashboard's KPIs and charts, and the report that runs it.

The KPIs are declared once in ``analytics.measures`` (label, definition, unit, the inputs they
read and their formula); a report computes each input once, from a few aggregate queries (its
*sources*), and hands them to the formulas. Sources read the rollup (``analytics/rollup.py``):
the raw reporting events, customer messages and bot traces aggregated per zone, cohort day,
widget and intent, with histograms of the timed metrics. Plain SQL that runs unchanged on SQLite and
PostgreSQL: sums over day rows, and nearest-rank percentiles from cumulative histogram counts
(``SUM() OVER`` window functions). No query loads event rows into Python: each returns at
most one row per day, per metric or per intent.

Attribution: every KPI counts the conversations that *started* in the period (the cohort),
and the events of those conversations, whenever they happened; the rollup is keyed by that
cohort day, a local day of the period's zone. A report brings the rollup up to date before it
computes (see ``Report``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property, partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.urls import reverse

from knowledge.models import Article, EscalationPolicy, Intent

from .gaps import MAX_TEXTS, GapGroup, gap_actions_by_text, gap_groups
from .measures import (
    COUNT,
    KPI_BY_KEY,
    KPIS,
    MS,
    NUMBER,
    PERCENT,
    SCORE,
    SECONDS,
    Cohort,
    Events,
    Input,
    Kpi,
    Percentile,
    declared_inputs,
    percentiles,
    ratio,
)
from .models import (
    HUMAN_REQUEST,
    CohortArticle,
    CohortDay,
    CohortEventCount,
    CohortGapMessage,
    CohortValue,
    CohortValueBand,
    EventName,
    GapActionKind,
)
from .rollup import COHORT_COUNTS, as_date, fetch_rows, rollup_ensure_fresh
from .zones import local_midnight

__all__ = ["COUNT", "KPIS", "KPI_BY_KEY", "MS", "NUMBER", "SCORE", "SECONDS", "Kpi"]

_UNKNOWN = {
    i.column for i in declared_inputs() if isinstance(i, Cohort)
} - set(COHORT_COUNTS)
if _UNKNOWN:
    raise ImportError(f"KPIs read cohort counts the rollup does not keep: {sorted(_UNKNOWN)}")

COHORT_DAYS = CohortDay._meta.db_table
EVENT_COUNTS = CohortEventCount._meta.db_table
VALUES = CohortValue._meta.db_table
VALUE_BANDS = CohortValueBand._meta.db_table
GAP_MESSAGES = CohortGapMessage._meta.db_table
ARTICLES = CohortArticle._meta.db_table

OUTCOMES = (
    ("resolved_bot", "Resolved by bot"),
    ("resolved_agent", "Resolved by agent"),
    ("abandoned", "Abandoned"),
    ("open", "Open"),
)


# --- What is being measured ------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole local days ``[start, end)``: both are midnights in the period's zone (aware
    datetimes; a day across a DST change is 23 or 25 hours); ``days`` long."""

    start: datetime
    end: datetime

    @property
    def zone(self) -> str:
        """The IANA name of the zone the days are counted in."""
        return getattr(self.start.tzinfo, "key", None) or "UTC"

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
        """The period of as many days just before this one (for the tiles' change)."""
        first = self.first_day - timedelta(days=self.days)
        return Period(start=local_midnight(first, self.zone), end=self.start)

    def day_list(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(self.days)]


@dataclass(frozen=True)
class Scope:
    """A period plus the dashboard's filters; every query is limited to it."""

    period: Period
    intent: str = ""
    widget_id: int | None = None


# --- The registry ----------------------------------------------------------------------------

# The KPIs themselves (label, definition, unit, formula) are declared in ``analytics.measures``.

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
    kind: str = ""  # overrides the chart's kind ("line": a series over days)

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


def _db_date(value: date) -> Any:
    return connection.ops.adapt_datefield_value(value)


def _rollup_scope(scope: Scope, period: Period, alias: str = "r") -> tuple[str, list[Any]]:
    """The WHERE clause (without WHERE) limiting rollup rows to a scope's cohort days: the
    rows of the scope's intent, or the all-intents rows ("") without an intent filter."""
    sql = (
        f"{alias}.zone = %s AND {alias}.day >= %s AND {alias}.day < %s AND {alias}.intent = %s"
    )
    params: list[Any] = [
        period.zone, _db_date(period.first_day), _db_date(period.end.date()), scope.intent
    ]
    if scope.widget_id is not None:
        sql += f" AND {alias}.widget_id = %s"
        params.append(scope.widget_id)
    return sql, params


def _bucket(period: Period, alias: str = "r") -> tuple[str, list[Any]]:
    """'cur' for the current period, 'prev' for the one before (queries span both)."""
    return f"CASE WHEN {alias}.day >= %s THEN 'cur' ELSE 'prev' END", [_db_date(period.first_day)]


# Percentiles are exact at the precision the page shows: each metric's values are rounded to
# a unit (1 ms for latencies, 0.1 s for waits and resolution times) and counted per unit in
# the rollup. Units per shown value: ``u / PERCENTILE_DIVISORS[metric]`` is the value shown.
PERCENTILE_DIVISORS = {
    "bot_latency": 1,  # ms, counted per ms
    "bot_first_response": 1000,  # counted per ms, shown in seconds
    "agent_first_response": 10,  # seconds, counted per 0.1 s
    "resolution_time": 10,
}
PERCENTILES = percentiles()

# Nearest-rank p50/p90/p95 per (bucket, metric) from the histograms: the k-th smallest value
# (k = ceil(p * n / 100)) is the first unit whose running count reaches k. First the band
# counts (a few dozen per metric and day) give, per percentile, the band holding it and its
# rank k' there (BAND_SQL); then only the units of those bands are read, each band through the
# index in its own branch, and the first unit whose running count reaches k' is the value
# (UNIT_SQL, one branch per percentile).
BAND_SQL = f"""
    WITH bands AS (
        SELECT {{bucket}} AS b, r.metric AS m, r.band AS band, SUM(r.n) AS c
        FROM {VALUE_BANDS} r WHERE {{where}}
        GROUP BY 1, 2, 3
    ),
    running AS (
        SELECT b, m, band, c,
               CAST(SUM(c) OVER (PARTITION BY b, m ORDER BY band) AS BIGINT) AS upto,
               CAST(SUM(c) OVER (PARTITION BY b, m) AS BIGINT) AS n
        FROM bands
    ),
    ranks AS ({" UNION ALL ".join(f"SELECT {p} AS p" for p in PERCENTILES)})
    SELECT r.b, r.m, k.p, r.n, r.band, (k.p * r.n + 99) / 100 - (r.upto - r.c)
    FROM running r JOIN ranks k
      ON r.upto >= (k.p * r.n + 99) / 100 AND r.upto - r.c < (k.p * r.n + 99) / 100"""

UNIT_BRANCH_SQL = f"""
    SELECT %s AS t, %s AS kk, v.unit AS u, SUM(v.n) AS c FROM {VALUES} v
    WHERE v.metric = %s AND v.band = %s AND {{where}} GROUP BY v.unit"""

UNIT_SQL = """
    WITH units AS ({branches}),
    running AS (SELECT t, kk, u, SUM(c) OVER (PARTITION BY t ORDER BY u) AS upto FROM units)
    SELECT t, MIN(CASE WHEN upto >= kk THEN u END) FROM running GROUP BY t"""


# --- The report: all sources for one scope, each run once ------------------------------------


# Report sources are cached per scope (stale-while-revalidate): a result younger than
# FRESH_SECONDS is served as is; an older one (kept up to KEEP_SECONDS) is served at once while
# a Celery task computes the next one, so only the first look at a scope waits for the queries.
FRESH_SECONDS = 30
KEEP_SECONDS = 15 * 60
# How long a queued backfill of a new reporting zone keeps pages from queueing another.
BACKFILL_QUEUE_SECONDS = 60
SOURCES = (
    "daily", "event_groups", "percentiles", "gap_messages", "gap_group_data", "article_stats"
)


class Report:
    """The dashboard's numbers for a scope; each source query runs at most once.

    ``cache=True`` (the views) reads and writes the shared cache described above;
    ``refresh=True`` (the refresh task) recomputes every source and stores it. Before its
    first query a report brings the rollup up to date: a refresh task and an uncached report
    (a shell, a test) to every row written so far; a view's cold request to within
    ``FRESH_SECONDS`` (beat refreshes every 30 s), refreshing first only if it is older.
    """

    def __init__(self, scope: Scope, *, cache: bool = False, refresh: bool = False) -> None:
        self.scope = scope
        self.use_cache = cache or refresh
        self.refresh = refresh
        self._refresh_asked = False
        self._rollup_checked = False
        # True when this report's zone has no rollup rows yet (a zone just added to the
        # settings, being backfilled in the background): its figures are not cached.
        self.rollup_pending = False
        if not self.use_cache:
            rollup_ensure_fresh(max_age=0)
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
                scope.period.zone,
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
        if not self._rollup_checked:
            # A background recomputation brings the rollup up to every row written; a
            # manager's cold request accepts one refreshed within the cache's window (beat
            # refreshes it every 30 s), so that it rarely waits for a refresh.
            missing = rollup_ensure_fresh(
                max_age=0 if self.refresh else FRESH_SECONDS,
                backfill_later=None if self.refresh else self._backfill_later,
            )
            self.rollup_pending = self.period.zone in missing
            self._rollup_checked = True
        value = compute()
        if not self.rollup_pending:
            cache.set(key, (time.time(), value), KEEP_SECONDS)
        return value

    def _backfill_later(self) -> None:
        """Queues one rollup refresh, which backfills the zones added to the settings (one
        queued at a time across processes), so that no page waits for it."""
        if not cache.add("analytics:rollup-backfill", 1, BACKFILL_QUEUE_SECONDS):
            return
        from .tasks import rollup_refresh_task

        transaction.on_commit(rollup_refresh_task.delay)

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
                zone=scope.period.zone,
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
        where, params = _rollup_scope(self.scope, self.span)
        sums = ", ".join(f"SUM(r.{column})" for column in COHORT_COUNTS)
        sql = f"SELECT r.day, {sums} FROM {COHORT_DAYS} r WHERE {where} GROUP BY r.day"
        out = []
        for row in fetch_rows(sql, params):
            day = as_date(row[0])
            values = dict(zip(COHORT_COUNTS, (int(v or 0) for v in row[1:]), strict=True))
            # Resolved by the bot means contained; any other resolution involved an agent.
            values["resolved_bot"] = values["contained_confirmed"] + values["contained_assumed"]
            values["resolved_agent"] = values["resolved"] - values["resolved_bot"]
            values["open"] = values["conversations"] - values["resolved"] - values["abandoned"]
            out.append({"day": day, **values})
        return sorted(out, key=lambda row: row["day"])

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
        """(bucket, event name, intent, category, count, sum of values, values >= 4): what
        both the tiles' totals and the breakdown charts need."""
        where, params = _rollup_scope(self.scope, self.span)
        bucket, bucket_params = _bucket(self.period)
        sql = f"""
            SELECT {bucket} AS b, r.name, r.event_intent, r.category, SUM(r.events),
                   SUM(r.value_sum), SUM(r.high)
            FROM {EVENT_COUNTS} r WHERE {where}
            GROUP BY 1, 2, 3, 4
        """
        return [
            (b, name, intent, category, int(count), float(total or 0), int(high or 0))
            for b, name, intent, category, count, total, high
            in fetch_rows(sql, bucket_params + params)
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

    # Customer turns (both periods), counted in the cohort days ---------------------------

    @cached_property
    def customer_turns(self) -> dict[str, int]:
        return {bucket: self._cohort(bucket).get("customer_turns", 0) for bucket in ("cur", "prev")}

    # Source: percentiles (both periods) -------------------------------------------------

    @cached_property
    def percentiles(self) -> dict[tuple[str, str], dict[str, float | None]]:
        return self._source("percentiles", self._compute_percentiles)

    def _compute_percentiles(self) -> dict[tuple[str, str], dict[str, float | None]]:
        where, params = _rollup_scope(self.scope, self.span)
        bucket, bucket_params = _bucket(self.period)
        targets = fetch_rows(BAND_SQL.format(bucket=bucket, where=where), bucket_params + params)
        out: dict[tuple[str, str], dict[str, float | None]] = {}
        if not targets:
            return out
        branches, unit_params = [], []
        for t, (b, m, _p, _n, band, kk) in enumerate(targets):
            period = self.period if b == "cur" else self.previous
            where_v, params_v = _rollup_scope(self.scope, period, alias="v")
            branches.append(UNIT_BRANCH_SQL.format(where=where_v))
            unit_params += [t, kk, m, band, *params_v]
        unit_sql = UNIT_SQL.format(branches=" UNION ALL ".join(branches))
        units = dict(fetch_rows(unit_sql, unit_params))
        for t, (b, m, p, n, _band, _kk) in enumerate(targets):
            u = units.get(t)
            entry = out.setdefault((b, m), {"n": int(n)})
            entry[f"p{p}"] = None if u is None else float(u) / PERCENTILE_DIVISORS[m]
        return out

    def _pct(self, bucket: str, metric: str, which: str) -> float | None:
        value = self.percentiles.get((bucket, metric), {}).get(which)
        return float(value) if value is not None else None

    # KPI values ---------------------------------------------------------------------------

    def input_value(self, bucket: str, item: Input) -> float | None:
        """One declared input's value in a bucket ("cur" or "prev")."""
        if isinstance(item, Cohort):
            return self._cohort(bucket).get(item.column, 0)
        if isinstance(item, Events):
            return self._event(bucket, item.name, item.what)
        if isinstance(item, Percentile):
            return self._pct(bucket, item.metric, f"p{item.p}")
        raise TypeError(f"unknown KPI input {item!r}")

    def values(self, bucket: str = "cur") -> dict[str, float | None]:
        """Every KPI's value in a bucket, each from its declared formula."""
        return {kpi.key: kpi.compute(partial(self.input_value, bucket)) for kpi in KPIS}

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

    def _count_by(
        self, names: Iterable[str], key: str, skip_categories: Iterable[str] = ()
    ) -> list[tuple[str, int]]:
        names = {str(name) for name in names}
        skip = set(skip_categories)
        totals: dict[str, int] = {}
        for name, intent, category, n in self.breakdown:
            if name in names and category not in skip:
                label = (intent if key == "intent" else category) or "(none)"
                totals[label] = totals.get(label, 0) + n
        return sorted(totals.items(), key=lambda item: (-item[1], item[0]))

    # Source: knowledge gaps: customer messages whose bot turn fell back or handed off ----

    @cached_property
    def gap_messages(self) -> list[tuple[str, int]]:
        return self._source("gap_messages", self._compute_gap_messages)

    def _compute_gap_messages(self) -> list[tuple[str, int]]:
        where, params = _rollup_scope(self.scope, self.period)
        sql = f"""
            SELECT r.text, SUM(r.n) AS total FROM {GAP_MESSAGES} r WHERE {where}
            GROUP BY r.text ORDER BY total DESC, r.text LIMIT 10"""
        return [(str(text), int(n)) for text, n in fetch_rows(sql, params)]


    @cached_property
    def gap_group_data(self) -> list[dict[str, Any]]:
        return self._source("gap_group_data", self._compute_gap_groups)

    def _compute_gap_groups(self) -> list[dict[str, Any]]:
        where, params = _rollup_scope(self.scope, self.period)
        sql = f"""
            SELECT r.text, SUM(r.n) AS total FROM {GAP_MESSAGES} r WHERE {where}
            GROUP BY r.text ORDER BY total DESC, r.text LIMIT {MAX_TEXTS}"""
        pairs = [(str(text), int(n)) for text, n in fetch_rows(sql, params)]
        return [group.to_dict() for group in gap_groups(pairs)]

    @cached_property
    def _gap_split(self) -> tuple[list[GapGroup], list[GapGroup]]:
        groups = [GapGroup.from_dict(d) for d in self.gap_group_data]
        done = gap_actions_by_text([t for g in groups for t in g.texts])
        fallback = settings.BOT_FALLBACK_INTENT
        open_groups: list[GapGroup] = []
        set_aside: list[GapGroup] = []
        for group in groups:
            if group.suggested_intent == fallback:  # computed before the guess left it out
                group.suggested_intent = ""
            group.actions = sorted(
                {done[t].pk: done[t] for t in group.texts if t in done}.values(),
                key=lambda a: (a.created_at, a.pk), reverse=True,
            )
            still_open = [
                (t, n) for t, n in group.messages
                if not (t in done and done[t].kind == GapActionKind.OUT_OF_SCOPE)
            ]
            if still_open:
                group.messages = still_open
                open_groups.append(group)
            else:
                group.out_of_scope = True
                set_aside.append(group)
        open_groups.sort(key=lambda g: (-g.total, g.key))
        set_aside.sort(key=lambda g: (-g.total, g.key))
        return open_groups, set_aside

    @property
    def gap_groups(self) -> list[GapGroup]:
        """Every group of similar gap messages (``analytics.gaps``), largest first, each
        with what admins did about its messages (``actions``, latest first); the messages
        an admin marked out of scope are left out, and a group left empty by that is in
        ``gap_groups_out_of_scope`` instead. ``gap_effects_attach`` adds the before / after
        figures to the groups a page shows."""
        return self._gap_split[0]

    @property
    def gap_groups_out_of_scope(self) -> list[GapGroup]:
        """The groups whose every message an admin marked out of scope, largest first."""
        return self._gap_split[1]

    @cached_property
    def article_stats(self) -> list[dict[str, Any]]:
        """The articles the bot quoted most in the period's conversations: per article its
        title, times quoted, and the shares of the conversations that saw it where the
        customer confirmed the help and where the bot resolved the conversation."""
        return self._source("article_stats", self._compute_article_stats)

    def _compute_article_stats(self) -> list[dict[str, Any]]:
        where, params = _rollup_scope(self.scope, self.period)
        sql = f"""
            SELECT r.article_id, SUM(r.quoted) AS q, SUM(r.conversations),
                   SUM(r.helped), SUM(r.contained)
            FROM {ARTICLES} r WHERE {where}
            GROUP BY r.article_id ORDER BY q DESC, r.article_id LIMIT 10"""
        rows = fetch_rows(sql, params)
        titles = dict(
            Article.objects.filter(pk__in=[r[0] for r in rows]).values_list("pk", "title")
        )
        return [
            {
                "id": int(aid),
                "title": titles.get(aid, f"Article {aid} (deleted)"),
                "quoted": int(quoted),
                "conversations": int(n),
                "helped": ratio(int(helped), int(n)),
                "contained": ratio(int(contained), int(n)),
            }
            for aid, quoted, n, helped, contained in rows
        ]

    @cached_property
    def always_intents(self) -> set[str]:
        return always_intents()

    @cached_property
    def by_design(self) -> list[tuple[str, int]]:
        """Handoffs of intents whose policy sends them to a person always: (intent, count)."""
        return [
            (intent, n) for intent, n in self._count_by([EventName.HANDOFF], "intent")
            if intent in self.always_intents
        ]


def always_intents() -> set[str]:
    """Slugs of the intents that always go to a person by design."""
    return set(
        Intent.objects.filter(escalation_policy=EscalationPolicy.ALWAYS)
        .values_list("slug", flat=True)
    )


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


# The readable names of the handoff categories the bot records (``chat.bot.escalation``),
# and of the names older events carry: "billing" (an always-policy billing intent, now
# "policy") and "long_conversation" (now "turns") count under the label of their new name.
HANDOFF_CATEGORY_LABELS = {
    "legal": "Legal threat",
    "fraud": "Fraud",
    "anger": "Anger",
    "human_request": "Asked for a person",
    "policy": "Intent policy",
    "billing": "Intent policy",
    "turns": "Too many turns",
    "long_conversation": "Too many turns",
    "fallbacks": "Not understood",
    "language": "Language not served",
    "urgency": "Urgency",
    "quality": "Failed quality check",
    "error": "Bot error",
    "other": "Other signal",
}


def handoff_category_label(category: str) -> str:
    """The readable name of a handoff category; an unknown one is shown as it is stored."""
    return HANDOFF_CATEGORY_LABELS.get(category, category)


def _handoff_reasons(report: Report) -> ChartData:
    totals: dict[str, int] = {}
    for category, n in report._count_by([EventName.HANDOFF], "category"):
        label = handoff_category_label(category)
        totals[label] = totals.get(label, 0) + n
    return _pairs_chart(sorted(totals.items(), key=lambda item: (-item[1], item[0])), "Handoffs")


def _daily_series(report: Report, key: str, label: str) -> ChartData:
    """One series over the period's days (what a chart by intent shows under an intent
    filter, where it would be a single bar)."""
    by_day = {row["day"]: row for row in report.daily}
    days = report.period.day_list()
    return ChartData(
        labels=[day.isoformat() for day in days],
        datasets=[{"key": key, "label": label,
                   "data": [by_day.get(day, {}).get(key, 0) for day in days]}],
        kind="line",
    )


def _handoff_intents(report: Report) -> ChartData:
    if report.scope.intent:
        return _daily_series(report, "handed_off", "Conversations handed off, per day")
    return _pairs_chart(report._count_by([EventName.HANDOFF], "intent"), "Handoffs")


def _intents(report: Report) -> ChartData:
    if report.scope.intent:
        return _daily_series(report, "conversations", "Conversations, per day")
    turns = report._count_by([EventName.BOT_REPLIED, EventName.HANDOFF], "intent")
    return _pairs_chart(turns, "Bot turns")


def _gap_intents(report: Report) -> ChartData:
    by_design = report.always_intents
    fallbacks = dict(report._count_by([EventName.FALLBACK], "intent"))
    handoffs = {
        intent: n
        for intent, n in report._count_by([EventName.HANDOFF], "intent", [HUMAN_REQUEST])
        if intent not in by_design
    }
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
    """The knowledge playground, to see what the bot does with this message now.

    The address carries no customer text (addresses end up in access logs and browser
    history): the dashboard posts the message to it in a form (``text``), which the
    playground answers filled in and run.
    """
    return reverse("knowledge:playground")


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
        "The intents whose turns most often end in a fallback or a handoff (intents that go "
        "to a person by design are shown apart; a customer asking for a person is not a gap).",
        "table",
        _gap_intents,
    ),
    Chart(
        "gap_messages",
        "Knowledge gaps: customer messages",
        "The most frequent customer messages (compared in lower case) whose bot turn was a "
        "fallback (below the confidence threshold or the fallback intent) or a handoff, "
        "other than a customer asking for a person.",
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
    """A duration in seconds as a person reads it: "42.5 s", "34 min 05 s", "2 h 07 min" or
    "3.5 days". Rounded once, to the unit shown last, before it is split, so 2,099.6 s is
    "35 min 00 s", never "34 min 60 s"."""
    if round(seconds, 1) < 60:
        return f"{seconds:.1f} s"
    whole_seconds = round(seconds)
    if whole_seconds < 3600:
        return f"{whole_seconds // 60} min {whole_seconds % 60:02d} s"
    whole_minutes = round(seconds / 60)
    if whole_minutes < 48 * 60:
        return f"{whole_minutes // 60} h {whole_minutes % 60:02d} min"
    return f"{seconds / 86400:.1f} days"


@dataclass(frozen=True)
class Tile:
    kpi: Kpi
    value: float | None
    previous: float | None
    before_has_data: bool = True  # the previous period had conversations

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
        if not self.before_has_data:
            return "no earlier data"
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
            Tile(
                kpi=kpi,
                value=report.current[kpi.key],
                previous=report.before[kpi.key],
                before_has_data=bool(report.before["conversations"]),
            )
            for kpi in KPIS
            if kpi.group == key
        ]
        groups.append({"key": key, "label": label, "tiles": group_tiles})
    return groups
