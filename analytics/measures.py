"""Every KPI declared once: its label, definition, unit and formula over named inputs.

An input says what the rollup must hold for it (``Cohort``: a per-day count of the
conversations started that day; ``Events``: the count, sum or high values of one event name;
``Percentile``: a nearest-rank percentile of a timed metric's histogram). The formula takes
the inputs' values in the order declared. ``analytics.rollup`` derives from these
declarations which events it counts and which metrics it keeps histograms of, and
``analytics.kpis.Report`` computes each value by calling its formula: adding a KPI is one
entry here. The pattern is Zulip's ``analytics/lib/counts.py``, which declares each
statistic once (its ``COUNT_STATS``) and derives the aggregation from the declaration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .models import EventName

COUNT, PERCENT, SECONDS, MS, SCORE, NUMBER = "count", "percent", "seconds", "ms", "score", "number"


@dataclass(frozen=True)
class Cohort:
    """A count of ``CohortDay`` (one of ``rollup.COHORT_COUNTS``) for the period."""

    column: str


@dataclass(frozen=True)
class Events:
    """Events of one name in the period's conversations: their ``count``, the ``sum`` of
    their values, or how many values were ``high`` (4 or more: good ratings)."""

    name: str
    what: str = "count"


@dataclass(frozen=True)
class Percentile:
    """The nearest-rank ``p``-th percentile of a timed metric (``rollup`` keeps the
    histogram; ``PERCENTILE_DIVISORS`` gives its unit)."""

    metric: str
    p: int


Input = Cohort | Events | Percentile


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``None`` (shown as an empty state) instead of a division by zero."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


@dataclass(frozen=True)
class Kpi:
    """One KPI. ``label`` is what a tile shows (short); ``definition`` is behind the tile's
    info button; ``better`` is "up", "down" or "" (neither)."""

    key: str
    label: str
    definition: str
    unit: str
    group: str
    inputs: tuple[Input, ...]
    formula: Callable[..., float | None]
    better: str = ""

    def compute(self, value_of: Callable[[Input], Any]) -> float | None:
        """The KPI from its inputs' values (``value_of`` maps an input to its value)."""
        return self.formula(*(value_of(i) for i in self.inputs))


def _same(value: float | None) -> float | None:
    return value


def _percentile(key: str, label: str, definition: str, unit: str, group: str, metric: str,
                p: int) -> Kpi:
    return Kpi(key, label, definition, unit, group, (Percentile(metric, p),), _same, "down")


CONVERSATIONS = Cohort("conversations")
HANDOFFS = Events(EventName.HANDOFF.value)
BOT_REPLIES = Events(EventName.BOT_REPLIED.value)
RATINGS = Events(EventName.RATING_GIVEN.value)

KPIS: tuple[Kpi, ...] = (
    Kpi(
        "conversations", "Conversations",
        "Conversations that started in the period.",
        COUNT, "volume", (CONVERSATIONS,), lambda n: n,
    ),
    Kpi(
        "avg_customer_turns", "Customer messages per conversation",
        "Messages customers sent in the period's conversations, divided by those conversations.",
        NUMBER, "volume", (Cohort("customer_turns"), CONVERSATIONS), ratio,
    ),
    Kpi(
        "bot_resolution_rate", "Resolved by the bot",
        "Containment: the share of the period's conversations that the bot resolved without "
        "an agent (the customer confirmed, or went quiet after the answer) and that stayed "
        "resolved.",
        PERCENT, "resolution",
        (Cohort("contained_confirmed"), Cohort("contained_assumed"), CONVERSATIONS),
        lambda confirmed, assumed, n: ratio(confirmed + assumed, n), "up",
    ),
    Kpi(
        "bot_resolution_confirmed_rate", "Bot, confirmed",
        "Conversations the bot resolved and the customer confirmed, as a share of all.",
        PERCENT, "resolution", (Cohort("contained_confirmed"), CONVERSATIONS), ratio, "up",
    ),
    Kpi(
        "bot_resolution_assumed_rate", "Bot, assumed",
        "Conversations the bot resolved that were closed after the customer went quiet, as a "
        "share of all.",
        PERCENT, "resolution", (Cohort("contained_assumed"), CONVERSATIONS), ratio, "up",
    ),
    _percentile(
        "resolution_time_p50", "Time to resolve (median)",
        "From the start of a conversation to its resolution; half of the resolved "
        "conversations took less.", SECONDS, "resolution", "resolution_time", 50,
    ),
    _percentile(
        "resolution_time_p90", "Time to resolve (90%)",
        "From the start of a conversation to its resolution; 9 in 10 resolved conversations "
        "took less.", SECONDS, "resolution", "resolution_time", 90,
    ),
    Kpi(
        "handoff_rate", "Handed to a person",
        "The share of the period's conversations that the bot handed off to the agents' "
        "queue at least once.",
        PERCENT, "handoff", (Cohort("handed_off"), CONVERSATIONS), ratio, "down",
    ),
    Kpi(
        "handoffs_unanswered", "Handoffs awaiting an agent",
        "Handoffs that no agent has replied to yet.",
        COUNT, "handoff",
        (HANDOFFS, Events(EventName.FIRST_AGENT_REPLY.value), CONVERSATIONS),
        lambda handoffs, answered, n: max(0, handoffs - answered) if n else None, "down",
    ),
    _percentile(
        "bot_first_response_p50", "Bot first response (median)",
        "First response time of the bot: from the customer's first message to the bot's "
        "reply; half of the conversations waited less.",
        SECONDS, "speed", "bot_first_response", 50,
    ),
    _percentile(
        "bot_first_response_p90", "Bot first response (90%)",
        "As the median, but 9 in 10 conversations waited less.",
        SECONDS, "speed", "bot_first_response", 90,
    ),
    _percentile(
        "agent_first_response_p50", "Agent first response (median)",
        "First response time of an agent: from a handoff to the first agent message after "
        "it; half of the answered handoffs waited less.",
        SECONDS, "speed", "agent_first_response", 50,
    ),
    _percentile(
        "agent_first_response_p90", "Agent first response (90%)",
        "As the median, but 9 in 10 answered handoffs waited less.",
        SECONDS, "speed", "agent_first_response", 90,
    ),
    _percentile(
        "bot_latency_p50", "Bot reply time (median)",
        "Every bot reply: from storing the customer's message to storing the reply; half "
        "of the replies took less.", MS, "speed", "bot_latency", 50,
    ),
    _percentile(
        "bot_latency_p95", "Bot reply time (95%)",
        "As the median, but 19 in 20 replies took less.", MS, "speed", "bot_latency", 95,
    ),
    Kpi(
        "csat", "CSAT",
        "Customer satisfaction: the share of ratings that were 4 or 5 out of 5.",
        PERCENT, "satisfaction", (Events(EventName.RATING_GIVEN.value, "high"), RATINGS),
        ratio, "up",
    ),
    Kpi(
        "avg_rating", "Average rating",
        "The mean of the ratings customers gave (1 to 5).",
        SCORE, "satisfaction", (Events(EventName.RATING_GIVEN.value, "sum"), RATINGS), ratio,
        "up",
    ),
    Kpi(
        "rating_response_rate", "Rated",
        "Conversations with a rating, as a share of those resolved at least once (the ones "
        "asked to rate).",
        PERCENT, "satisfaction", (Cohort("rated"), Cohort("ever_resolved")), ratio, "up",
    ),
    Kpi(
        "fallback_rate", "Not understood",
        "Fallback rate: bot turns where the bot was unsure of the intent (below the confidence "
        "threshold, or the fallback intent), as a share of all bot turns.",
        PERCENT, "bot", (Events(EventName.FALLBACK.value), BOT_REPLIES, HANDOFFS),
        lambda fallbacks, replies, handoffs: ratio(fallbacks, replies + handoffs), "down",
    ),
)
KPI_BY_KEY = {kpi.key: kpi for kpi in KPIS}


def declared_inputs() -> list[Input]:
    """Every input some KPI declares, each once, in declaration order."""
    seen: dict[Input, None] = {}
    for kpi in KPIS:
        for item in kpi.inputs:
            seen.setdefault(item, None)
    return list(seen)


def counted_events() -> tuple[str, ...]:
    """The event names the rollup counts (``CohortEventCount``): those the KPIs read, and
    the breakdown charts' bot turns, fallbacks and handoffs."""
    names = [i.name for i in declared_inputs() if isinstance(i, Events)]
    for name in (EventName.BOT_REPLIED, EventName.HANDOFF, EventName.FALLBACK):
        names.append(name.value)
    return tuple(dict.fromkeys(names))


def percentiles() -> tuple[int, ...]:
    """The percentiles the KPIs read (any metric), ascending."""
    return tuple(sorted({i.p for i in declared_inputs() if isinstance(i, Percentile)}))


def timed_metrics() -> tuple[str, ...]:
    """The metrics the rollup keeps histograms of."""
    return tuple(dict.fromkeys(i.metric for i in declared_inputs() if isinstance(i, Percentile)))
