# SQL is assembled from module constants only (table, column and event names, fixed
# fragments); every value is a query parameter.
# ruff: noqa: S608
"""The rollup the dashboard reads instead of the raw events, and how it is kept.

The raw facts stay in ``ReportingEvent`` (and ``chat_message``/``chat_bottrace``); the rollup
tables (``models.CohortDay`` and its siblings) hold them aggregated per *cohort day* (the local
day a conversation started, in each reporting zone: every KPI attributes to it), widget and
intent, with histograms of
the timed metrics at the resolution the KPIs count in. A cold 90-day report then reads a few
thousand rollup rows instead of about a million events.

Keeping it: ``rollup_refresh`` recomputes from the raw rows, with the definitions the KPI
sources used to apply to the raw events, every row of each cohort day that new events or
messages touched: delete and insert in one transaction, under a lock, so the result never
depends on how often or in which order it runs. It finds those days from the rows with ids
above the marks of an earlier refresh: not the latest one, but the latest that is at least
``OVERLAP`` old, so that a transaction that got its ids before a refresh and committed after
it is still seen. The bound: a row is counted as long as its transaction commits within
``OVERLAP`` (minus one beat interval) of writing it; chat transactions take milliseconds.
Rows deleted from the raw tables, or a change of the fallback settings, need
``rebuild_rollups``.

Time zones: a day is a local day of a reporting zone (``analytics.zones``): the desk's
``TIME_ZONE`` and the zones managers may choose (``ANALYTICS_TIME_ZONES``). Every rollup row
carries its zone, and a refresh recomputes the touched days of each zone, so figures are exact
in each of them (a DST day is 23 or 25 hours; each conversation counts on one day). The cost
is linear in the number of zones: rows, refresh time and rebuild time are multiplied by it
(bench/README.md has the figures). A zone added to the list is backfilled (all its days, that
zone alone) at the next refresh: the beat's, or one a page queues in the background when it
finds the zone missing (``rollup_ensure_fresh``); a zone removed loses its rows.

Celery beat runs the refresh every 30 s (``CELERY_BEAT_SCHEDULE``). Before computing, a
report checks the rollup with one query (``rollup_ensure_fresh``) and refreshes it if
something was written since: a background recomputation always, a manager's cold request
only when the rollup is also older than the report cache's freshness window (see
``kpis.Report``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from knowledge.models import Intent

from .measures import counted_events, timed_metrics
from .models import (
    HUMAN_REQUEST,
    CohortArticle,
    CohortDay,
    CohortEventCount,
    CohortGapMessage,
    CohortValue,
    CohortValueBand,
    EventName,
    ReportingEvent,
    RollupRefresh,
)
from .zones import local_date_sql, local_midnight, reporting_zones

EVENTS = ReportingEvent._meta.db_table
# chat's tables, reached through the relation analytics' own event declares by label
# ("chat.Conversation") and chat's relations from there: chat imports analytics (to record
# facts and read them), so analytics imports nothing of chat.
_CONVERSATION = ReportingEvent._meta.get_field("conversation").related_model
_MESSAGE = _CONVERSATION._meta.get_field("messages").related_model
CONVERSATIONS = _CONVERSATION._meta.db_table
MESSAGES = _MESSAGE._meta.db_table
TRACES = _MESSAGE._meta.get_field("trace").related_model._meta.db_table
REFRESHES = RollupRefresh._meta.db_table
INTENTS = Intent._meta.db_table
ROLLUP_TABLES = tuple(
    m._meta.db_table
    for m in (
        CohortDay, CohortEventCount, CohortValue, CohortValueBand, CohortGapMessage, CohortArticle
    )
)

# How far back a refresh looks for late commits.
OVERLAP = timedelta(minutes=5)
# Any int64 key of our own for pg_advisory_xact_lock: "sdrollup".
LOCK_KEY = 0x7364726F6C6C7570

STATE_EVENTS = (EventName.RESOLVED.value, EventName.REOPENED.value, EventName.ABANDONED.value)
COHORT_EVENTS = (
    EventName.CONVERSATION_STARTED.value,
    EventName.AGENT_REPLIED.value,
    EventName.HANDOFF.value,
    *STATE_EVENTS,
    EventName.RATING_GIVEN.value,
)
# Derived from the KPI declarations (``analytics.measures``): the events some KPI or
# breakdown reads, and the timed metrics some KPI takes a percentile of.
COUNTED_EVENTS = counted_events()
TIMED_METRICS = timed_metrics()
COHORT_COUNTS = (
    "conversations",
    "resolved",
    "abandoned",
    "contained_confirmed",
    "contained_assumed",
    "handed_off",
    "ever_resolved",
    "rated",
    "customer_turns",
)


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


def band_sql(unit: str) -> str:
    """A unit's band: 35 bands per power of ten (widths of 1, 2 or 5 times a power of ten,
    each at most a tenth of its lowest unit), numbered in the order of the units, so that the
    band holding the k-th smallest value can be found from the band counts alone."""
    parts = [f"CASE WHEN {unit} < 10 THEN {unit}"]
    band = 10
    for power in range(1, 12):
        base = 10**power
        for low, high, width in (
            (base, 2 * base, base // 10),
            (2 * base, 5 * base, base // 5),
            (5 * base, 10 * base, base // 2),
        ):
            # low is a multiple of width: band + (unit - low) / width without a subtraction.
            parts.append(f"WHEN {unit} < {high} THEN {band - low // width} + {unit} / {width}")
            band += (high - low) // width
    parts.append(f"ELSE {band} END")
    return " ".join(parts)


def _db_datetime(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def fetch_rows(sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[tuple]:
    """The rows of one statement (none for a statement that returns none)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def as_date(value: Any) -> date:
    """A date column's value as a date (SQLite returns text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


# --- Recomputing days ------------------------------------------------------------------------


def _grains(base: str, columns: Iterable[str], keys: Iterable[str] = (), *, zone: str) -> str:
    """Each row of ``base`` as it is (what the intent filter reads) plus its rows totalled
    over intents (intent ""), which the unfiltered dashboard reads; the first column is the
    zone (a checked name: ``zones.reporting_zones``)."""
    keys = list(keys)
    lead = "".join(f"{k}, " for k in keys)
    plain = ", ".join(columns)
    summed = ", ".join(f"SUM({c})" for c in columns)
    z = f"'{zone}'" if zone in reporting_zones() else "NULL"
    return f"""
        SELECT {z} AS zone, day, widget_id, intent, {lead}{plain} FROM {base} WHERE intent <> ''
        UNION ALL
        SELECT {z}, day, widget_id, '', {lead}{summed} FROM {base}
        GROUP BY day, widget_id{"".join(f", {k}" for k in keys)}"""


def _insert_cohort_days(runs: list[tuple[date, date]], zone: str) -> None:
    """Each conversation's current outcome (the latest resolved/reopened/abandoned event
    decides), counted per cohort day; and the cohort's customer messages."""
    sums = ", ".join(f"SUM({c}) AS {c}" for c in COHORT_COUNTS)
    in_events, params = _in_runs("e.conversation_started_at", runs, zone)
    in_conversations, more = _in_runs("c.created_at", runs, zone)
    fetch_rows(
        f"""
        WITH per AS (
            SELECT e.conversation_id AS cid,
                MAX(e.widget_id) AS widget_id,
                MAX(c.intent) AS intent,
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
            FROM {EVENTS} e JOIN {CONVERSATIONS} c ON c.id = e.conversation_id
            WHERE e.name IN {_in(COHORT_EVENTS)} AND ({in_events}) AND ({in_conversations})
            GROUP BY e.conversation_id
        ),
        state AS (
            SELECT t, widget_id, intent, agent, handoff, rated, res, conf, assumed,
                CASE WHEN res IS NOT NULL AND (reo IS NULL OR res > reo)
                    AND (ab IS NULL OR res > ab) THEN 1 ELSE 0 END AS is_res,
                CASE WHEN ab IS NOT NULL AND (res IS NULL OR ab > res)
                    AND (reo IS NULL OR ab > reo) THEN 1 ELSE 0 END AS is_ab
            FROM per WHERE started = 1
        ),
        parts AS (
            SELECT {local_date_sql("t", zone)} AS day, widget_id, intent,
                COUNT(*) AS conversations,
                SUM(is_res) AS resolved,
                SUM(is_ab) AS abandoned,
                SUM(CASE WHEN is_res = 1 AND agent = 0 AND conf = res THEN 1 ELSE 0 END)
                    AS contained_confirmed,
                SUM(CASE WHEN is_res = 1 AND agent = 0 AND assumed = res THEN 1 ELSE 0 END)
                    AS contained_assumed,
                SUM(handoff) AS handed_off,
                SUM(CASE WHEN res IS NOT NULL THEN 1 ELSE 0 END) AS ever_resolved,
                SUM(rated) AS rated,
                0 AS customer_turns
            FROM state GROUP BY 1, 2, 3
            UNION ALL
            SELECT {local_date_sql("c.created_at", zone)}, c.widget_id, c.intent,
                   0, 0, 0, 0, 0, 0, 0, 0, COUNT(*)
            FROM {MESSAGES} m JOIN {CONVERSATIONS} c ON c.id = m.conversation_id
            WHERE m.author = 'customer' AND ({in_conversations})
            GROUP BY 1, 2, 3
        ),
        base AS (SELECT day, widget_id, intent, {sums} FROM parts GROUP BY day, widget_id, intent)
        INSERT INTO {CohortDay._meta.db_table}
            (zone, day, widget_id, intent, {", ".join(COHORT_COUNTS)})
        {_grains("base", COHORT_COUNTS, zone=zone)}
        """,
        params + more + more,
    )


def _insert_event_counts(runs: list[tuple[date, date]], zone: str) -> None:
    columns = ("events", "value_sum", "high")
    keys = ("name", "event_intent", "category")
    in_events, params = _in_runs("e.conversation_started_at", runs, zone)
    in_conversations, more = _in_runs("c.created_at", runs, zone)
    fetch_rows(
        f"""
        WITH base AS (
            SELECT {local_date_sql("e.conversation_started_at", zone)} AS day,
                   e.widget_id AS widget_id,
                   c.intent AS intent, e.name AS name, e.intent AS event_intent,
                   e.category AS category, COUNT(*) AS events, SUM(e.value) AS value_sum,
                   SUM(CASE WHEN e.value >= 4 THEN 1 ELSE 0 END) AS high
            FROM {EVENTS} e JOIN {CONVERSATIONS} c ON c.id = e.conversation_id
            WHERE e.name IN {_in(COUNTED_EVENTS)} AND ({in_events}) AND ({in_conversations})
            GROUP BY 1, 2, 3, 4, 5, 6
        )
        INSERT INTO {CohortEventCount._meta.db_table}
            (zone, day, widget_id, intent, {", ".join(keys)}, {", ".join(columns)})
        {_grains("base", columns, keys, zone=zone)}
        """,
        params + more,
    )


def _insert_values(runs: list[tuple[date, date]], zone: str) -> None:
    """Histograms of the four timed metrics, in the units ``kpis.PERCENTILE_DIVISORS``
    names: every bot reply's latency (ms), each conversation's first bot reply (ms), each
    first agent reply after a handoff (0.1 s), and the resolution time of the conversations
    whose latest state is resolved (0.1 s)."""
    rng, params = _in_runs("e.conversation_started_at", runs, zone)
    rng = f"({rng})"
    # Conversations start when their events say: the same ranges let the join use an index.
    in_conversations, more = _in_runs("c.created_at", runs, zone)
    branches = {
        "bot_latency": """
            SELECT cid, t, w, 'bot_latency' AS metric, CAST(ROUND(value) AS BIGINT) AS unit
            FROM firsts WHERE value IS NOT NULL""",
        "bot_first_response": """
            SELECT cid, t, w, 'bot_first_response' AS metric, CAST(ROUND(value) AS BIGINT) AS unit
            FROM firsts WHERE rn = 1 AND value IS NOT NULL""",
        "agent_first_response": f"""
            SELECT e.conversation_id AS cid, e.conversation_started_at AS t, e.widget_id AS w,
                   'agent_first_response' AS metric, CAST(ROUND(e.value * 10) AS BIGINT) AS unit
            FROM {EVENTS} e
            WHERE e.name = '{EventName.FIRST_AGENT_REPLY.value}' AND e.value IS NOT NULL
              AND {rng}""",
        "resolution_time": """
            SELECT cid, t, w, 'resolution_time' AS metric, CAST(ROUND(value * 10) AS BIGINT) AS unit
            FROM finals WHERE rn = 1 AND name = 'resolved' AND value IS NOT NULL""",
    }
    unknown = set(TIMED_METRICS) - set(branches)
    if unknown:
        raise ValueError(f"no rollup histogram is defined for {sorted(unknown)}")
    range_uses = 2 + ("agent_first_response" in TIMED_METRICS)  # firsts, finals, agent
    fetch_rows(
        f"""
        WITH firsts AS (
            SELECT e.conversation_id AS cid, e.conversation_started_at AS t, e.widget_id AS w,
                   e.value,
                   ROW_NUMBER() OVER (
                       PARTITION BY e.conversation_id ORDER BY e.occurred_at, e.value
                   ) AS rn
            FROM {EVENTS} e WHERE e.name = '{EventName.BOT_REPLIED.value}' AND {rng}
        ),
        finals AS (
            SELECT e.conversation_id AS cid, e.conversation_started_at AS t, e.widget_id AS w,
                   e.name, e.value,
                   ROW_NUMBER() OVER (
                       PARTITION BY e.conversation_id ORDER BY e.occurred_at DESC, e.name DESC
                   ) AS rn
            FROM {EVENTS} e WHERE e.name IN {_in(STATE_EVENTS)} AND {rng}
        ),
        vals AS ({" UNION ALL ".join(branches[m] for m in TIMED_METRICS)}),
        base AS (
            SELECT {local_date_sql("v.t", zone)} AS day, v.w AS widget_id, c.intent AS intent,
                   v.metric AS metric,
                   v.unit AS unit, COUNT(*) AS n
            FROM vals v JOIN {CONVERSATIONS} c ON c.id = v.cid AND ({in_conversations})
            GROUP BY 1, 2, 3, 4, 5
        )
        INSERT INTO {CohortValue._meta.db_table}
            (zone, day, widget_id, intent, metric, unit, n, band)
        SELECT zone, day, widget_id, intent, metric, unit, n, {band_sql("unit")}
        FROM ({_grains("base", ("n",), ("metric", "unit"), zone=zone)}) g
        """,
        params * range_uses + more,
    )


def _insert_bands(runs: list[tuple[date, date]], zone: str) -> None:
    in_days, params = _in_runs("day", runs, zone, dates=True)
    fetch_rows(
        f"""
        INSERT INTO {CohortValueBand._meta.db_table}
            (zone, day, widget_id, intent, metric, band, n)
        SELECT zone, day, widget_id, intent, metric, band, SUM(n)
        FROM {CohortValue._meta.db_table} WHERE zone = %s AND ({in_days})
        GROUP BY zone, day, widget_id, intent, metric, band
        """,
        [zone, *params],
    )


def _insert_gap_messages(runs: list[tuple[date, date]], zone: str) -> None:
    """Customer messages whose bot turn fell back (below the confidence threshold or the
    fallback intent) or handed off, except handoffs of an intent that always goes to a person
    (by design, not a gap) and the handoff of a customer who asked for a person (category
    ``human_request``: counted as a handoff, not a gap); the settings and policies apply when
    the day is recomputed."""
    in_conversations, params = _in_runs("c.created_at", runs, zone)
    fetch_rows(
        f"""
        WITH base AS (
            SELECT {local_date_sql("c.created_at", zone)} AS day, c.widget_id AS widget_id,
                   c.intent AS intent,
                   LOWER(m.text) AS text, COUNT(*) AS n
            FROM {TRACES} tr
            JOIN {MESSAGES} m ON m.id = tr.message_id
            JOIN {CONVERSATIONS} c ON c.id = tr.conversation_id
            WHERE ({in_conversations}) AND m.author = 'customer'
              AND (tr.intent = %s OR tr.confidence < %s OR (tr.decision = 'handoff'
                   AND tr.intent NOT IN (SELECT i.slug FROM {INTENTS} i
                                         WHERE i.escalation_policy = 'always')))
              AND NOT (tr.decision = 'handoff' AND c.handoff_category = %s)
            GROUP BY 1, 2, 3, 4
        )
        INSERT INTO {CohortGapMessage._meta.db_table} (zone, day, widget_id, intent, text, n)
        {_grains("base", ("n",), ("text",), zone=zone)}
        """,
        [*params, settings.BOT_FALLBACK_INTENT, settings.BOT_CONFIDENCE_THRESHOLD,
         HUMAN_REQUEST],
    )


def _insert_articles(runs: list[tuple[date, date]], zone: str) -> None:
    """Per article the bot quoted (``Message.articles``, a JSON list of {id, title}): one
    read of the cohort's bot replies that quote any, counted here rather than in SQL because
    unnesting a JSON list is written differently on SQLite and PostgreSQL."""
    tz = ZoneInfo(zone)
    bounds = [(local_midnight(first, zone), local_midnight(end, zone)) for first, end in runs]
    condition = Q()
    for low, high in bounds:
        condition |= Q(conversation__created_at__gte=low, conversation__created_at__lt=high)
    rows = (
        _MESSAGE.objects.filter(condition, author="bot")
        .exclude(articles=[])
        .values_list(
            "articles", "conversation_id", "conversation__created_at",
            "conversation__widget_id", "conversation__intent", "conversation__status",
            "conversation__resolution", "conversation__handed_off_at",
        )
        .iterator(chunk_size=2000)
    )
    # (day, widget, intent, article) -> [quoted, {conversation: (helped, contained)}]
    counts: dict[tuple[date, int | None, str, int], list[Any]] = {}
    for articles, cid, created, widget_id, intent, status, resolution, handed_off in rows:
        day = created.astimezone(tz).date()
        resolved_by_bot = status == "resolved" and resolution in ("bot_confirmed", "bot_assumed")
        outcome = (resolution == "bot_confirmed", resolved_by_bot and handed_off is None)
        for article in articles or []:
            aid = article.get("id") if isinstance(article, dict) else None
            if not isinstance(aid, int):
                continue
            for grain in {intent or "", ""}:
                entry = counts.setdefault((day, widget_id, grain, aid), [0, {}])
                entry[0] += 1
                entry[1][cid] = outcome
    CohortArticle.objects.bulk_create(
        (
            CohortArticle(
                zone=zone, day=day, widget_id=widget_id, intent=intent, article_id=aid,
                quoted=quoted, conversations=len(seen),
                helped=sum(1 for h, _ in seen.values() if h),
                contained=sum(1 for _, c in seen.values() if c),
            )
            for (day, widget_id, intent, aid), (quoted, seen) in counts.items()
        ),
        batch_size=1000,
    )


def _in_runs(
    column: str, runs: list[tuple[date, date]], zone: str, *, dates: bool = False
) -> tuple[str, list[Any]]:
    """``column`` within any of the day ranges (local days of ``zone``): an OR of ranges,
    which an index on the column answers range by range."""
    sql = " OR ".join(f"({column} >= %s AND {column} < %s)" for _ in runs)
    params: list[Any] = []
    for first, end in runs:
        if dates:
            params += [connection.ops.adapt_datefield_value(d) for d in (first, end)]
        else:
            params += [_db_datetime(local_midnight(d, zone)) for d in (first, end)]
    return sql, params


def _recompute(runs: list[tuple[date, date]], zone: str, *, delete: bool = True) -> None:
    """Replaces every rollup row of ``zone``'s cohort days in ``runs`` (``[first, end)``
    ranges of local days): the same eleven statements however many days and ranges."""
    if not runs:
        return
    if delete:
        in_days, params = _in_runs("day", runs, zone, dates=True)
        for table in ROLLUP_TABLES:
            fetch_rows(f"DELETE FROM {table} WHERE zone = %s AND ({in_days})", [zone, *params])
    _insert_cohort_days(runs, zone)
    _insert_event_counts(runs, zone)
    _insert_values(runs, zone)
    _insert_bands(runs, zone)
    _insert_gap_messages(runs, zone)
    _insert_articles(runs, zone)


def _runs(days: Iterable[date]) -> Iterator[tuple[date, date]]:
    """Sorted days as ``[first, end)`` ranges of consecutive days."""
    run: list[date] = []
    for day in sorted(set(days)):
        if run and day != run[-1] + timedelta(days=1):
            yield run[0], run[-1] + timedelta(days=1)
            run = []
        run.append(day)
    if run:
        yield run[0], run[-1] + timedelta(days=1)


# --- Refreshing --------------------------------------------------------------------------------


def _marks() -> tuple[int, int]:
    row = fetch_rows(
        f"SELECT (SELECT MAX(id) FROM {EVENTS}), (SELECT MAX(id) FROM {MESSAGES})"
    )[0]
    return int(row[0] or 0), int(row[1] or 0)


def _touched_days(event_mark: int, message_mark: int, zone: str) -> list[date]:
    """Cohort days (local to ``zone``) of the events and messages with ids above the marks."""
    rows = fetch_rows(
        f"""
        SELECT {local_date_sql("e.conversation_started_at", zone)} FROM {EVENTS} e
        WHERE e.id > %s AND e.conversation_started_at IS NOT NULL
        UNION
        SELECT {local_date_sql("c.created_at", zone)} FROM {MESSAGES} m
        JOIN {CONVERSATIONS} c ON c.id = m.conversation_id
        WHERE m.id > %s
        """,
        [event_mark, message_mark],
    )
    return [as_date(day) for (day,) in rows if day is not None]


def _lock() -> None:
    """Serialises refreshes for the rest of the transaction. SQLite lets one writer in at a
    time anyway."""
    if connection.vendor == "postgresql":
        fetch_rows("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def _is_fresh(
    latest: RollupRefresh | None, marks: tuple[int, int], max_age: float, now: datetime
) -> bool:
    """Refreshed within ``max_age`` seconds, or nothing written since the last refresh."""
    if latest is None:
        return False
    if (now - latest.started_at).total_seconds() < max_age:
        return True
    return latest.event_mark >= marks[0] and latest.message_mark >= marks[1]


def rollup_refresh(
    *,
    max_age: float | None = None,
    full: bool = False,
    progress: Callable[
        [list[tuple[str, tuple[date, date]]]], Iterable[tuple[str, tuple[date, date]]]
    ]
    | None = None,
) -> RollupRefresh | None:
    """Brings the rollup up to date; returns the refresh recorded, or None if it was fresh.

    ``max_age`` (seconds): skip if the rollup was refreshed that recently or nothing was
    written since (None: always refresh). ``full``: rebuild every day (also the first
    refresh of an empty rollup). ``progress`` wraps the day ranges of a rebuild.
    """
    started = time.perf_counter()
    with transaction.atomic():
        _lock()
        now = timezone.now()
        marks = _marks()
        latest = RollupRefresh.objects.order_by("-id").first()
        zones = reporting_zones()
        added = zones_missing(latest.zones if latest is not None else None)
        removed = [] if latest is None else [
            z for z in latest.zones.split(",") if z and z not in zones
        ]
        if max_age is not None and not full and not added and not removed and _is_fresh(
            latest, marks, max_age, now
        ):
            return None
        if full or latest is None:
            full = True
            for table in ROLLUP_TABLES:
                fetch_rows(f"DELETE FROM {table}")
            RollupRefresh.objects.all().delete()
            runs = [(zone, run) for zone in zones for run in _all_days(zone)]
        else:
            base = (
                RollupRefresh.objects.filter(started_at__lte=now - OVERLAP).order_by("-id").first()
                or RollupRefresh.objects.order_by("id").first()
            )
            # A zone added since the last refresh is backfilled (every day, that zone only);
            # a zone removed loses its rows; the others get their touched days.
            for zone in [*added, *removed]:
                for table in ROLLUP_TABLES:
                    fetch_rows(f"DELETE FROM {table} WHERE zone = %s", [zone])
            for zone in added:
                for run in _all_days(zone):
                    _recompute([run], zone, delete=False)
            runs = [
                (zone, run)
                for zone in zones if zone not in added
                for run in _runs(_touched_days(base.event_mark, base.message_mark, zone))
            ]
            RollupRefresh.objects.filter(id__lt=base.id).delete()
        if full:
            # Everything was deleted above; insert a week at a time (for the progress bar).
            for zone, run in progress(runs) if progress else runs:
                _recompute([run], zone, delete=False)
            if connection.vendor == "postgresql":  # the planner's row counts for the reads
                fetch_rows(f"ANALYZE {', '.join(ROLLUP_TABLES)}")
        else:
            for zone in zones:
                _recompute([run for z, run in runs if z == zone], zone)
        return RollupRefresh.objects.create(
            started_at=now,
            event_mark=marks[0],
            message_mark=marks[1],
            full=full,
            zones=",".join(zones),
            days=sum((end - first).days for _zone, (first, end) in runs),
            seconds=time.perf_counter() - started,
        )


def _all_days(zone: str, chunk: int = 7) -> Iterator[tuple[date, date]]:
    """Every cohort day (local to ``zone``), in ranges of ``chunk`` days (from the
    conversations' start times, which their events carry)."""
    low, high = fetch_rows(f"SELECT MIN(created_at), MAX(created_at) FROM {CONVERSATIONS}")[0]
    if low is None:
        return
    first = local_day_of(_as_datetime(low), zone)
    last = local_day_of(_as_datetime(high), zone)
    while first <= last:
        end = min(first + timedelta(days=chunk), last + timedelta(days=1))
        yield first, end
        first = end


def local_day_of(moment: datetime, zone: str) -> date:
    """The local date of an instant in ``zone``."""
    return moment.astimezone(ZoneInfo(zone)).date()


def zones_missing(kept: str | None) -> list[str]:
    """The reporting zones (``reporting_zones``) not among ``kept`` (a refresh's
    comma-separated ``zones``; None: no refresh yet, so none is missing, all are new)."""
    if kept is None:
        return []
    have = set(kept.split(","))
    return [zone for zone in reporting_zones() if zone not in have]


def rollup_ensure_fresh(
    max_age: float, *, backfill_later: Callable[[], None] | None = None
) -> list[str]:
    """Refreshes the rollup unless it was refreshed within ``max_age`` seconds or nothing
    was written since: one cheap query when it is fresh. Returns the reporting zones whose
    rows are not there yet.

    A zone added to the settings since the last refresh has no rows until it is backfilled
    (every day of that zone: about as long as a rebuild divided by the number of zones).
    With ``backfill_later`` (a page that must not wait) that function is called to queue
    the backfill in the background and the missing zones are returned; without it the
    backfill runs here and none is missing."""
    event_max, message_max, started_at, event_mark, message_mark, kept = fetch_rows(
        f"""
        SELECT (SELECT MAX(id) FROM {EVENTS}), (SELECT MAX(id) FROM {MESSAGES}),
               r.started_at, r.event_mark, r.message_mark, r.zones
        FROM (SELECT 1 AS one) o
        LEFT JOIN {REFRESHES} r ON r.id = (SELECT MAX(id) FROM {REFRESHES})
        """
    )[0]
    missing = zones_missing(kept if started_at is not None else None)
    if missing and backfill_later is not None:
        backfill_later()
        return missing
    if started_at is not None and not missing:
        latest = RollupRefresh(
            started_at=_as_datetime(started_at), event_mark=event_mark, message_mark=message_mark
        )
        marks = (int(event_max or 0), int(message_max or 0))
        if _is_fresh(latest, marks, max_age, timezone.now()):
            return []
    rollup_refresh(max_age=max_age)
    return []
