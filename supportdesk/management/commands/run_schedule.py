"""``manage.py run_schedule``: Celery beat's schedule on the embedded defaults.

With a broker, Celery beat publishes ``CELERY_BEAT_SCHEDULE``'s tasks and a worker runs them
(``bin/services``). The embedded defaults (eager Celery, no broker) have no beat, so without
this nothing would send a reply mail that falls due minutes later, retry a webhook delivery,
queue an answer still owed or resolve an idle conversation. ``bin/serve`` runs this command
beside Daphne: each entry's task is run in this process (``Task.apply``) every ``schedule``
seconds, the first time at once.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

logger = logging.getLogger(__name__)


def schedule_seconds(name: str, entry: dict[str, Any]) -> float:
    """The interval of one ``CELERY_BEAT_SCHEDULE`` entry in seconds (a number or a
    ``timedelta``). Raises ``CommandError`` for another kind of schedule (a crontab), which
    only Celery beat runs."""
    schedule = entry["schedule"]
    if isinstance(schedule, timedelta):
        return schedule.total_seconds()
    if isinstance(schedule, int | float):
        return float(schedule)
    raise CommandError(f"{name}: only Celery beat runs a {type(schedule).__name__} schedule")


class Command(BaseCommand):
    help = (
        "Runs CELERY_BEAT_SCHEDULE's tasks in this process at their intervals: beat for the "
        "embedded defaults (eager Celery, no broker). With a broker, run Celery beat instead."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="run every entry once and stop")

    def handle(self, *args: Any, once: bool = False, **options: Any) -> None:
        if not current_app.conf.task_always_eager:
            raise CommandError(
                "run_schedule is for the embedded defaults (eager Celery); with a broker "
                "(REDIS_URL), Celery beat runs the schedule (bin/services)."
            )
        # Celery's discovery of the apps' tasks modules is lazy: a worker or beat triggers it
        # as it starts, this command must ask for it, or only the tasks some import reached
        # are known (the analytics ones were not: NotRegistered every round).
        current_app.autodiscover_tasks(force=True)
        missing = sorted(
            entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
            if entry["task"] not in current_app.tasks
        )
        if missing:
            raise CommandError(f"CELERY_BEAT_SCHEDULE names tasks nobody defines: {missing}")
        entries = {
            name: (entry["task"], schedule_seconds(name, entry))
            for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        }
        due = dict.fromkeys(entries, 0.0)
        while True:
            for name, (task_name, seconds) in entries.items():
                if time.monotonic() < due[name]:
                    continue
                due[name] = time.monotonic() + seconds
                try:
                    current_app.tasks[task_name].apply(throw=True)
                except Exception:
                    logger.exception("scheduled task %s failed", task_name)
            if once:
                return
            # A long-lived process: connections past their age or broken are dropped between
            # rounds, as Django does between requests.
            close_old_connections()
            time.sleep(max(0.2, min(due.values()) - time.monotonic()))
