"""The Procfile's ``webhooks`` worker runs at the lowest CPU priority, niceness 19, unless
``WEBHOOK_NICE`` says otherwise (docs/webhooks.md): a backlog of deliveries yields the CPU to
chat turns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROCFILE = Path(__file__).resolve().parents[2] / "Procfile"


def _niceness_as_webhooks_worker(nice: str | None) -> int:
    """The niceness a process started behind the Procfile's own prefix of the ``webhooks``
    line runs at (the shell expands it, as honcho does), relative to this process's."""
    line = next(line for line in PROCFILE.read_text().splitlines()
                if line.startswith("webhooks:"))
    command = line.removeprefix("webhooks:").strip()
    prefix = command[: command.index(".venv/bin/celery")]
    env = {key: value for key, value in os.environ.items() if key != "WEBHOOK_NICE"}
    if nice is not None:
        env["WEBHOOK_NICE"] = nice
    out = subprocess.run(
        ["/bin/sh", "-c", f'{prefix}"$PYTHON" -c "import os; print(os.nice(0))"'],
        env={**env, "PYTHON": sys.executable}, capture_output=True, text=True, check=True,
        timeout=60,
    ).stdout
    return int(out) - os.nice(0)


def test_the_webhooks_worker_runs_at_the_lowest_priority_by_default():
    assert _niceness_as_webhooks_worker(None) == min(19, 19 - os.nice(0))


def test_webhook_nice_sets_its_niceness():
    assert _niceness_as_webhooks_worker("5") == min(5, 19 - os.nice(0))
