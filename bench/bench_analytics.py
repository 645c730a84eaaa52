"""Benchmark of the analytics dashboard on PostgreSQL with 100,000 conversations.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sd_ana_bench \
        .venv/bin/python bench/bench_analytics.py [--conversations 100000] [--days 90] \
        [--repeat 15] [--ranges 7,30,90] [--only page,report,tiles]

Creates the database if it is missing, migrates it, and fills it once with
``generate_traffic --bulk`` (the same script as the services path, inserted in bulk; about ten
messages per conversation). Later runs reuse the filled database (``--regenerate`` to start
again). Then it times, through the Django test client logged in as a manager, the full
dashboard page, its htmx fragments and every chart endpoint (JSON and CSV) for the 7, 30 and
90 day presets, and prints p50/p95 per URL against the 300 ms goal: "cold" with the report
cache emptied before every request (every KPI query runs), "cached" as the tiles poll, the
CSV downloads and other viewers of the same scope within 30 s see it. The "cpu" column is the
median CPU time of a cold request (this process plus its PostgreSQL backend, without parallel
query workers), steadier than wall-clock time on a shared machine. ``--only page,tiles`` times
just the targets whose labels start with those words.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
GOAL_MS = 300.0


def _ensure_database(url: str) -> None:
    import psycopg
    from dj_database_url import parse

    cfg = parse(url)
    name = cfg["NAME"]
    admin = psycopg.connect(
        host=cfg["HOST"] or "127.0.0.1",
        port=cfg["PORT"] or 5432,
        user=cfg["USER"] or "postgres",
        password=cfg["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def _fill(conversations: int, days: int, regenerate: bool) -> None:
    from django.core.management import call_command
    from django.db import connection

    from analytics.models import ReportingEvent, RollupRefresh
    from analytics.rollup import rollup_refresh
    from chat.models import Conversation, Message

    have = Conversation.objects.count()
    if have >= conversations and not regenerate:
        print(f"reusing {have:,} conversations already in the database")
        if not RollupRefresh.objects.exists():
            refresh = rollup_refresh(full=True)
            print(f"rollup rebuilt: {refresh.days} days in {refresh.seconds:.1f} s")
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        return
    if have:
        print("emptying the database")
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE analytics_reportingevent, chat_bottrace, chat_message, "
                "chat_conversation RESTART IDENTITY CASCADE"
            )
    _load_intents_and_widget()
    started = time.perf_counter()
    call_command(
        "generate_traffic",
        conversations=conversations,
        days=days,
        seed=2026,
        bulk=True,
        verbosity=1,
    )
    print(f"generated in {time.perf_counter() - started:.0f} s (rollup rebuild included)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"{Conversation.objects.count():,} conversations, {Message.objects.count():,} messages, "
        f"{ReportingEvent.objects.count():,} events"
    )


def _load_intents_and_widget() -> None:
    """The demo intents with their phrases (what customers say) and the demo widget."""
    from chat.models import Widget
    from knowledge.models import Intent, TrainingPhrase
    from supportdesk.management.commands.load_demo import DEMO_KNOWLEDGE

    for item in json.loads(DEMO_KNOWLEDGE.read_text(encoding="utf-8"))["intents"]:
        intent, _ = Intent.objects.update_or_create(
            slug=item["slug"],
            defaults={"name": item["name"], "escalation_policy": item["escalation_policy"]},
        )
        if not intent.phrases.exists():
            TrainingPhrase.objects.bulk_create(
                [TrainingPhrase(intent=intent, text=text) for text in item["phrases"]]
            )
    Widget.objects.update_or_create(
        public_key="demo", defaults={"name": "Demo website", "allowed_origins": ["self"]}
    )


def _manager_client():
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from accounts.roles import MANAGERS, ensure_role_groups

    ensure_role_groups()
    user, _ = User.objects.get_or_create(username="bench-manager")
    user.groups.add(Group.objects.get(name=MANAGERS))
    client = Client()
    client.force_login(user)
    return client


def _p95(timings: list[float]) -> float:
    ordered = sorted(timings)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def _backend_cpu_ms() -> float:
    """CPU time used so far by this connection's PostgreSQL backend (same machine only;
    parallel query workers are not counted), in ms; 0 when /proc cannot tell."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        return ticks * 1000 / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _time(client, url: str, repeat: int, htmx: bool, cold: bool) -> tuple[float, float, int, float]:
    """p50/p95 of ``repeat`` requests; ``cold`` empties the report cache before each one.

    Also the median CPU time of a request: this process plus its PostgreSQL backend, which
    a machine shared with other work disturbs far less than the wall-clock time.
    """
    from analytics.kpis import cache

    headers = {"HX-Request": "true"} if htmx else {}
    response = client.get(url, headers=headers)  # warm-up (connection, templates)
    assert response.status_code == 200, (url, response.status_code)
    timings = []
    cpu = []
    for _ in range(repeat):
        if cold:
            cache.clear()
        backend_before = _backend_cpu_ms()
        cpu_started = time.process_time()
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000 + _backend_cpu_ms() - backend_before)
        assert response.status_code == 200
    return statistics.median(timings), _p95(timings), len(response.content), statistics.median(cpu)


def _time_refresh(repeat: int) -> None:
    """What the beat refresh costs: recomputing the rollup rows of the latest cohort day
    (what live traffic touches each time), and of three scattered days (late ratings and
    resolutions of older conversations), each in its own transaction."""
    from django.db import transaction

    from analytics import rollup
    from analytics.zones import reporting_zones
    from chat.models import Conversation

    last = Conversation.objects.order_by("-created_at").values_list("created_at", flat=True)[0]
    day = last.date()
    one_day = [(day, day + timedelta(days=1))]
    scattered = [(day - timedelta(days=d), day - timedelta(days=d - 1)) for d in (20, 5, 0)]
    for label, runs in (("1 day", one_day), ("3 days", scattered)):
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            with transaction.atomic():
                rollup._lock()
                for zone in reporting_zones():
                    rollup._recompute(runs, zone)
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"rollup refresh of {label:<7} p50 {statistics.median(timings):7.1f} "
            f"p95 {_p95(timings):7.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--ranges", default="7,30,90")
    parser.add_argument(
        "--only", default="", help="comma-separated target labels to time (e.g. page,tiles)"
    )
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database, e.g. .../sd_ana_bench")
    _ensure_database(url)

    import django

    django.setup()
    from django.core.management import call_command

    from analytics.kpis import CHARTS

    call_command("migrate", verbosity=0)
    # The report cache of this process only, so that "cold" can empty it without touching
    # anything else that may live in a shared (Redis) cache.
    from django.core.cache.backends.locmem import LocMemCache

    from analytics import kpis

    kpis.cache = LocMemCache("analytics-bench", {})
    _fill(args.conversations, args.days, args.regenerate)
    _time_refresh(5)
    client = _manager_client()

    rows = []
    for days in args.ranges.split(","):
        query = f"range={days}"
        targets = [
            ("page", f"/analytics/?{query}", False),
            ("report fragment (htmx)", f"/analytics/?{query}", True),
            ("tiles fragment (htmx)", f"/analytics/tiles/?{query}", True),
        ]
        for chart in CHARTS:
            targets.append(
                (f"chart {chart.key} json", f"/analytics/charts/{chart.key}/?{query}", False)
            )
            targets.append(
                (
                    f"chart {chart.key} csv",
                    f"/analytics/charts/{chart.key}/?{query}&format=csv",
                    False,
                )
            )
        if args.only:
            wanted = args.only.split(",")
            targets = [t for t in targets if any(t[0].startswith(w) for w in wanted)]
        for label, target, htmx in targets:
            c50, c95, size, ccpu = _time(client, target, args.repeat, htmx, cold=True)
            w50, w95, _, _ = _time(client, target, args.repeat, htmx, cold=False)
            rows.append((f"{days} days", label, c50, c95, w50, w95))
            print(
                f"{days:>3} days  {label:<34} cold p50 {c50:7.1f} p95 {c95:7.1f} "
                f"cpu {ccpu:7.1f} ms | "
                f"cached p50 {w50:6.1f} p95 {w95:6.1f} ms  {size / 1024:6.1f} KiB  "
                f"{'ok' if c95 < GOAL_MS else 'cold>goal'}",
                flush=True,
            )
    worst_cold = max(rows, key=lambda r: r[3])
    worst_warm = max(rows, key=lambda r: r[5])
    print(f"\nworst cold p95: {worst_cold[3]:.1f} ms ({worst_cold[0]}, {worst_cold[1]})")
    print(
        f"worst cached p95: {worst_warm[5]:.1f} ms ({worst_warm[0]}, {worst_warm[1]}); "
        f"goal {GOAL_MS:.0f} ms"
    )


if __name__ == "__main__":
    main()
