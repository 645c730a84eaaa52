"""A Celery app with the project's Celery settings and one slow task, for the Redis restart test.

The project's own tasks take milliseconds, so a restart rarely finds one running; this task
sleeps, so that the worker holds running and prefetched, unacknowledged tasks when Redis goes.
It writes ``start N`` and ``done N`` lines to the file named by ``RESTART_TEST_JOURNAL``.
"""

from __future__ import annotations

import os
import time

import django
from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
django.setup()

# Not the current app: imported by the test process too, it must not become the app that
# the product's shared tasks resolve to (they would stop running eagerly in later tests).
app = Celery("restart_test", set_as_current=False)
app.config_from_object("django.conf:settings", namespace="CELERY")  # acks late, prefetch 1, ...


def journal(line: str) -> None:
    with open(os.environ["RESTART_TEST_JOURNAL"], "a", encoding="utf-8") as out:
        out.write(line + "\n")


@app.task(name="restart_test.slow")
def slow(number: int, seconds: float) -> None:
    """Sleeps ``seconds``, journalling its start and its end."""
    journal(f"start {number}")
    time.sleep(seconds)
    journal(f"done {number}")
