"""The Procfile's ``webhooks`` worker runs at the lowest CPU priority: Linux's ``SCHED_IDLE``
policy unless ``WEBHOOK_PRIORITY`` names another command prefix (docs/webhooks.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROCFILE = Path(__file__).resolve().parents[2] / "Procfile"
# What the worker's process sees of its own scheduling: the policy's name and its niceness.
PROBE = "import os; print(os.sched_getscheduler(0) == os.SCHED_IDLE, os.nice(0))"

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux scheduling")


def _run_as_webhooks_worker(priority: str | None) -> tuple[str, int]:
    """Runs the probe behind the Procfile's own prefix of the ``webhooks`` line (the shell
    expands it, as honcho does); (whether SCHED_IDLE, niceness)."""
    line = next(line for line in PROCFILE.read_text().splitlines()
                if line.startswith("webhooks:"))
    command = line.removeprefix("webhooks:").strip()
    prefix = command[: command.index(".venv/bin/celery")]
    env = {key: value for key, value in os.environ.items() if key != "WEBHOOK_PRIORITY"}
    if priority is not None:
        env["WEBHOOK_PRIORITY"] = priority
    out = subprocess.run(
        ["/bin/sh", "-c", f'{prefix}"$PYTHON" -c "$PROBE"'],
        env={**env, "PYTHON": sys.executable, "PROBE": PROBE},
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()
    return out[0], int(out[1])


def test_the_webhooks_worker_runs_under_sched_idle_by_default():
    assert _run_as_webhooks_worker(None)[0] == "True"


def test_webhook_priority_replaces_the_prefix():
    own = os.nice(0)
    assert _run_as_webhooks_worker("nice -n 19") == ("False", 19)
    assert _run_as_webhooks_worker("env") == ("False", own)
