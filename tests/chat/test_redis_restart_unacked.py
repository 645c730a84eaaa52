"""Issue 12's kombu crash: a Redis restart while the worker holds unacknowledged tasks.

Reported: after a Redis restart the worker logged ``Restoring 1 unacknowledged message(s)``,
then ``CRITICAL Unrecoverable error: AttributeError: 'NoneType' object has no attribute
'hostname'`` (kombu's restore of unacked messages) and never consumed again. Here a worker
with the project's Celery settings and the Procfile's options runs slow tasks (two running,
more prefetched and reserved) on a Redis of the test's own, which is killed and restarted at
once, then shut down for a few seconds; after each, the tasks that were running finish and new
tasks are consumed, and the worker never logs an unrecoverable error. What was tried to make
the crash appear is in bench/README.md ("The kombu crash").
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chat.test_recovery import RedisServer
from tests.conftest import ROOT, _subprocess_env, _wait_for

pytestmark = pytest.mark.services

SLOW = 3.0  # seconds a held task runs
WITHIN = 60  # seconds for the worker to consume again once Redis is back


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.write_text("")

    def lines(self) -> list[str]:
        return self.path.read_text().split("\n")

    def started(self) -> set[int]:
        return {int(line.split()[1]) for line in self.lines() if line.startswith("start ")}

    def done(self) -> set[int]:
        return {int(line.split()[1]) for line in self.lines() if line.startswith("done ")}


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[tuple[RedisServer, Journal, subprocess.Popen, Path]]:
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    journal = Journal(tmp_path / "journal.txt")
    log = tmp_path / "worker.log"
    env = _subprocess_env()
    env.update(REDIS_URL=redis_server.url, CELERY_BROKER_URL=redis_server.url,
               CELERY_TASK_ALWAYS_EAGER="0", RESTART_TEST_JOURNAL=str(journal.path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.chat.celery_restart_app", "worker",
         "--loglevel", "info", "--concurrency", "2", "--pool", "prefork",
         "--without-gossip", "--without-mingle", "--logfile", str(log)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(lambda: log.exists() and " ready." in log.read_text(errors="replace"),
                  90, "worker", log)
        yield redis_server, journal, proc, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        if redis_server.proc is not None and redis_server.proc.poll() is None:
            redis_server.kill()


def send(redis_url: str, numbers: range, seconds: float) -> None:
    """Queues ``slow`` tasks through a producer of this process (the broker may be restarting)."""
    from kombu import Connection

    from tests.chat.celery_restart_app import slow

    with Connection(redis_url) as connection:
        for number in numbers:
            slow.apply_async((number, seconds), connection=connection, retry=True,
                             retry_policy={"max_retries": 30, "interval_start": 0.2,
                                           "interval_step": 0.5, "interval_max": 2})


def wait_until(predicate, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {seconds} s\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.2)


@pytest.mark.parametrize("how", ["killed, back at once", "shut down for 3 s"])
def test_a_redis_restart_with_running_and_prefetched_tasks_leaves_the_worker_consuming(
    worker, how
):
    redis_server, journal, proc, log = worker
    send(redis_server.url, range(0, 6), SLOW)
    wait_until(lambda: len(journal.started()) == 2, WITHIN, "two tasks running", log)
    running = set(journal.started())
    time.sleep(0.5)  # the worker has reserved the next ones (prefetch) meanwhile

    if how.startswith("killed"):
        redis_server.restart()
    else:
        redis_server.restart(signal.SIGTERM, down_for=3)

    # The tasks that were running finish (their acknowledgement goes to a broker that lost them).
    wait_until(lambda: running <= journal.done(), WITHIN, "the running tasks never finished", log)
    # New tasks are consumed: the worker reconnected and did not stop.
    send(redis_server.url, range(100, 104), 0.1)
    wait_until(lambda: set(range(100, 104)) <= journal.done(), WITHIN,
               "no task consumed after the Redis restart", log)

    text = log.read_text(errors="replace")
    assert "Restoring" in text or "Connection to broker lost" in text, "no restart was seen"
    assert "Unrecoverable error" not in text
    assert "has no attribute 'hostname'" not in text
    assert proc.poll() is None, "the worker exited"
    assert journal.lines().count("done 100") == 1  # each new task once
