"""CI runs a short fault drill: the worker killed with prefetched tasks, a Redis restart, and
every client connection to Redis cut.

The drill (bench/fault_drill.py) starts its own Redis, PostgreSQL cluster, two Daphnes, worker
and beat, so this test touches none of the suite's services. It is bounded by counts (three
customers x six messages, and the drill's own wait for answers), never by a timed assertion.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, _unavailable

pytestmark = pytest.mark.services

ROW = re.compile(
    r"^(?P<fault>\w+)\s+(?P<sent>\d+)\s+(?P<acked>\d+)\s+(?P<stored>\d+)\s+(?P<answered>\d+)"
    r"\s+(?P<dup>\d+)\s+(?P<lost>\d+)\s+(?P<recover>[\d.]+|-)",
    re.MULTILINE,
)


def _postgres_binaries() -> bool:
    return bool(shutil.which("initdb")) or any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


def run_drill(args: list[str], limit: float) -> tuple[int, str, str]:
    """Runs the drill; stopped with SIGTERM (so that it stops its services) past ``limit`` s."""
    proc = subprocess.Popen(
        [sys.executable, "bench/fault_drill.py", *args], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, err = proc.communicate(timeout=120)
        err += f"\nthe drill was stopped after {limit:.0f} s"
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=120)
    return proc.returncode, out, err


@pytest.mark.timeout(1800)
def test_a_short_drill_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    if not shutil.which("redis-server") or not _postgres_binaries():
        _unavailable("the fault drill needs redis-server and PostgreSQL's initdb and pg_ctl")
    code, out, err = run_drill(
        ["--short", "--faults", "worker_kill,redis_restart,redis_drop_clients",
         "--recover-timeout", "60",
         "--log-dir", str(tmp_path)],
        limit=1500,
    )
    assert code != 2, f"the drill could not start its services:\n{err}"
    rows = {m["fault"]: m.groupdict() for m in ROW.finditer(out)}
    assert set(rows) == {"worker_kill", "redis_restart", "redis_drop_clients"}, out + err
    for fault, row in rows.items():
        assert int(row["sent"]) == 3 * 6, (fault, out)
        assert int(row["acked"]) == int(row["stored"]) == int(row["answered"]) == 18, (fault, out)
        assert (row["dup"], row["lost"]) == ("0", "0"), (fault, out)
    assert code == 0, out
    assert "PASS" in out
