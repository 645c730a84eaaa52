"""The reporting time zones: which zones the dashboard counts days in, and the SQL for a
local day.

The desk's zone is ``settings.TIME_ZONE`` (default UTC); ``settings.ANALYTICS_TIME_ZONES``
lists the zones a manager may choose for their own views (the desk's zone is always one).
The rollup keeps one copy of its rows per zone (``analytics.rollup``): a day is a local day
there, 23 or 25 hours long across a DST change, and each conversation counts on exactly one.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

ZONE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-/]*$")


def desk_zone() -> str:
    """The desk's reporting zone: ``settings.TIME_ZONE``."""
    return settings.TIME_ZONE


def reporting_zones() -> list[str]:
    """Every zone the rollup is kept in: the desk's first, then the others configured.

    Raises ImproperlyConfigured for a name the zone database does not know."""
    names = [desk_zone()]
    for name in getattr(settings, "ANALYTICS_TIME_ZONES", ()):
        if name not in names:
            names.append(name)
    for name in names:
        if not zone_known(name):
            raise ImproperlyConfigured(f"unknown reporting time zone {name!r}")
    return names


def zone_known(name: str) -> bool:
    """Whether the zone database knows ``name`` (an IANA name such as "Europe/Paris").

    Loads the one zone (``ZoneInfo`` keeps it) rather than listing the database with
    ``available_timezones``, which reads every file of it: 22 ms, on every report."""
    if not ZONE_NAME_RE.match(name) or name in {"localtime", "posixrules", "Factory"}:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def zone_label(name: str) -> str:
    """How the page names a zone: "America/New_York" -> "America/New York"."""
    return name.replace("_", " ")


def local_midnight(day: date, zone: str) -> datetime:
    """The instant ``day`` begins in ``zone`` (aware, in that zone)."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(zone))


def local_today(zone: str, now: datetime | None = None) -> date:
    """Today's date in ``zone``."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(zone)).date()


def local_date_sql(column: str, zone: str) -> str:
    """SQL for the local date in ``zone`` of a timestamp column, on SQLite and PostgreSQL.

    Built by the database backend's own ``datetime_cast_date_sql`` (what Django's
    ``TruncDate(tzinfo=...)`` compiles to); the zone name, checked against the configured
    zones, is written as a literal so the fragment can sit anywhere in a statement."""
    if zone not in reporting_zones():
        raise ValueError(f"{zone!r} is not a reporting time zone")
    sql, params = connection.ops.datetime_cast_date_sql(column, (), zone)
    for value in params:
        if not ZONE_NAME_RE.match(str(value)):
            raise ValueError(f"unexpected time zone parameter {value!r}")
        sql = sql.replace("%s", f"'{value}'", 1)
    return sql
