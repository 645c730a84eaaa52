#!/usr/bin/env python
"""The live-chat benchmark: real WebSocket clients against Daphne, Redis, Celery and PostgreSQL.

    .venv/bin/python bench/bench_chat.py --clients 20 --messages 50
    .venv/bin/python bench/bench_chat.py --suite

It prepares its own database (``sd_console_bench``, dropped and created again, migrated, with
the demo company loaded) and Redis db 5,
starts one Daphne process (serving ``bench.asgi_bench``: the app plus a bare echo socket) and
one Celery worker, then measures, in one run:

* a bare-echo baseline: a frame through the same Daphne and channel layer and back;
* the full round trip, customer message -> stored -> task -> offline bot -> reply stored ->
  reply frame, as throughput and p50/p99 latency, for each number of clients;
* (``--suite``) the resident memory of the Daphne process holding 1,000 idle joined widgets.

Each client is closed-loop: it sends its next message when the previous one is answered.
Conversations are opened through ``chat.services.conversation_start`` in this process (the
HTTP door is rate-limited per IP, rightly); everything after that goes through the sockets.
``--url`` measures a server that is already running instead (then pass ``--server-pid`` for
the memory figure).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/sd_console_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/5"
BENCH_PASSWORD = "bench-pass-2026"
REPLY_TIMEOUT = 30.0
# Questions the offline bot answers from the knowledge base without asking for a detail.
TEXTS = [
    "How long does standard shipping take?",
    "What is your return policy?",
    "Do you ship to Canada?",
    "How do I reset my password?",
    "Which payment methods do you accept?",
]
GOALS = {
    "rt1_p50": 15.0,
    "rt20_rate": 200.0,
    "rt20_p99": 200.0,
    "rt100_rate": 200.0,
    "idle_rss": 400.0,
}


# --- Services --------------------------------------------------------------------------------


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ANTHROPIC_API_KEY", None)  # the issue measures the offline bot
    env.update(
        {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "CHANNEL_PREFIX": "sdbench",
            "SUPPORTDESK_ENV": "development",
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            # The benchmark's clients are fast on purpose; long conversations must not hand off.
            "CHAT_RATE_LIMIT_MESSAGES": "1000000",
            # Every client is on 127.0.0.1: lift the per-address budgets (chat.limits).
            "CHAT_RATE_ADDRESS_MESSAGES": "1000000/1",
            "CHAT_RATE_TYPING": "1000000/1",
            "CHAT_SOCKETS_PER_ADDRESS": "1000000",
            "BOT_MAX_TURNS": "1000000",
            "BOT_MAX_FALLBACKS": "1000000",
            "SD_BENCH_EXPERIMENTS": args.experiment,
        }
    )
    if {"pubsub", "asynccommit"} & set(args.experiment.split(",")):
        env["DJANGO_SETTINGS_MODULE"] = "bench.settings_bench"
    return env


def recreate_database(url: str) -> None:
    """A fresh database per run: no rows or classifier left over from an earlier run."""
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[-1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def prepare(env: dict[str, str], *, fake_bot: bool) -> None:
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    subprocess.run(
        [python, "manage.py", "load_demo", "--password", BENCH_PASSWORD, "--traffic-days", "0",
         "-v", "0"],
        cwd=ROOT, env=env, check=not fake_bot,
    )


def ensure_demo_widget() -> None:
    """The constant bot needs only the widget, whatever state the demo loader is in."""
    from chat.models import Widget

    Widget.objects.get_or_create(
        public_key="demo", defaults={"name": "Demo", "allowed_origins": ["self"]}
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Stack:
    base_url: str
    daphne: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def server_pid(self) -> int | None:
        return self.daphne.pid if self.daphne else None

    def stop(self) -> None:
        for proc in (self.worker, self.daphne):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.worker, self.daphne):
            if proc is not None:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def start_stack(args: argparse.Namespace, env: dict[str, str]) -> Stack:
    python = sys.executable
    port = free_port()
    logdir = Path(args.log_dir)
    logdir.mkdir(parents=True, exist_ok=True)
    daphne_log = logdir / "daphne.log"
    worker_log = logdir / "worker.log"
    # Old tasks of an interrupted run must not be answered during this one.
    subprocess.run(
        [python, "-m", "celery", "-A", "supportdesk", "purge", "-f"],
        cwd=ROOT, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    with daphne_log.open("wb") as out:
        daphne = subprocess.Popen(
            [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
             "bench.asgi_bench:application"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=raise_file_limit,
        )
    worker_cmd = [
        *([python, "bench/fake_bot_worker.py"] if args.fake_bot
          else [python, "-m", "celery", "-A", "supportdesk", "worker"]),
        "--loglevel", os.environ.get("BENCH_WORKER_LOGLEVEL", "warning"),
        "--concurrency", str(args.worker_concurrency), "--pool", args.worker_pool,
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--hostname", f"bench-{os.getpid()}@%h",
    ]
    with worker_log.open("wb") as out:
        worker = subprocess.Popen(
            worker_cmd, cwd=ROOT, env={**env, "SD_BENCH_ROLE": "worker"}, stdout=out,
            stderr=subprocess.STDOUT,
        )
    stack = Stack(f"http://127.0.0.1:{port}", daphne, worker, [daphne_log, worker_log])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if daphne.poll() is not None or worker.poll() is not None:
            stack.stop()
            raise SystemExit(f"a service died on start; see {logdir}")
        try:
            with urllib.request.urlopen(stack.base_url + "/healthz", timeout=2):
                return stack
        except urllib.error.HTTPError:
            return stack
        except OSError:
            time.sleep(0.2)
    stack.stop()
    raise SystemExit(f"Daphne did not start; see {daphne_log}")


# --- Data (Django in this process, on the benchmark's database) -------------------------------


def setup_django(env: dict[str, str]) -> None:
    for key in ("DATABASE_URL", "REDIS_URL", "CHANNEL_PREFIX", "LOG_LEVEL"):
        os.environ[key] = env[key]
    os.environ["DJANGO_SETTINGS_MODULE"] = env.get(
        "DJANGO_SETTINGS_MODULE", "supportdesk.settings"
    )
    import django

    django.setup()


def open_conversations(count: int) -> list[tuple[str, str]]:
    from django.db import close_old_connections

    from chat import services
    from chat.models import Widget

    widget = Widget.objects.get(public_key="demo")
    opened = [services.conversation_start(widget=widget) for _ in range(count)]
    close_old_connections()
    return [(str(conversation.public_id), token) for conversation, token in opened]


# --- Clients ---------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    handoffs: int = 0
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    # Per turn, in ms: send -> echo received; customer row stamped -> bot row stamped;
    # bot row stamped -> reply received (the two stamps are the services' created_at).
    stages: list[tuple[float, float, float]] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    def stage_line(self) -> str:
        if not self.stages:
            return ""
        med = [statistics.median(column) for column in zip(*self.stages, strict=True)]
        return (
            f"{'':<26} median: send->echo {med[0]:.1f} ms, customer stored->bot reply stored "
            f"{med[1]:.1f} ms, reply stored->received {med[2]:.1f} ms"
        )

    def cpu_per_turn(self) -> float:
        total = sum(v for k, v in self.cpu.items() if k not in CPU_DETAILS and k not in CPU_APART)
        return total * 1000 / len(self.latencies) if self.latencies else 0.0

    def cpu_line(self) -> str:
        """CPU milliseconds per answered turn, by process, and what two free cores would allow."""
        if not self.latencies or not self.cpu:
            return ""
        per_turn = {name: s * 1000 / len(self.latencies) for name, s in self.cpu.items()}
        parts = ", ".join(
            f"{name} {ms:.1f}"
            + (f" (its parent process {per_turn['worker parent']:.1f})"
               if name == "worker" and "worker parent" in per_turn else "")
            for name, ms in per_turn.items()
            if name not in CPU_DETAILS and name not in CPU_APART
        )
        total = self.cpu_per_turn()
        ceiling = (os.cpu_count() or 1) * 1000 / total if total else float("nan")
        apart = "".join(f"; {name} {per_turn[name]:.1f} (not in the total)"
                        for name in CPU_APART if name in per_turn)
        return (
            f"{'':<26} CPU ms per turn: {parts}; total {total:.1f} -> at most {ceiling:.0f}/s "
            f"on {os.cpu_count()} idle cores{apart}"
        )

    def line(self) -> str:
        extra = f", {self.handoffs} handoffs" if self.handoffs else ""
        extra += f", {len(self.errors)} errors" if self.errors else ""
        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")
        return (
            f"{self.name:<26} clients={self.clients:<4} n={len(self.latencies):<5} "
            f"{self.rate:8.1f}/s  p50={self.pct(0.5):7.2f} ms  p90={self.pct(0.9):7.2f} ms  "
            f"p99={self.pct(0.99):7.2f} ms  max={self.pct(1.0):7.2f} ms  mean={mean:7.2f} ms{extra}"
        )


def ws_base(base_url: str) -> str:
    return "ws" + base_url[len("http"):]


async def _connect(url: str, origin: str):
    from websockets.asyncio.client import connect

    return await connect(
        url, origin=origin, compression=None, max_queue=None, open_timeout=30,
        ping_interval=None,
    )


async def echo_client(base_url: str, messages: int, phase: Phase) -> None:
    ws = await _connect(ws_base(base_url) + "/ws/bench/echo/", base_url)
    try:
        for number in range(messages):
            payload = json.dumps({"type": "echo", "n": number, "text": TEXTS[number % len(TEXTS)]})
            started = time.perf_counter()
            await ws.send(payload)
            while await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT) != payload:
                pass
            phase.latencies.append(time.perf_counter() - started)
    finally:
        await ws.close()


async def _join(ws, conversation_id: str, token: str) -> None:
    await ws.send(
        json.dumps({"type": "join", "conversation_id": conversation_id, "token": token,
                    "after_seq": 0})
    )
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT))
        if frame["type"] == "joined":
            return
        if frame["type"] == "error":
            raise RuntimeError(f"join refused: {frame}")


async def chat_client(base_url: str, messages: int, phase: Phase, offset: int) -> None:
    """Sends ``messages`` messages one after another, each timed until the bot's reply."""
    sent = 0
    while sent < messages:
        ((conversation_id, token),) = await asyncio.to_thread(open_conversations, 1)
        ws = await _connect(ws_base(base_url) + "/ws/chat/", base_url)
        try:
            await _join(ws, conversation_id, token)
            while sent < messages:
                outcome = await _one_turn(ws, TEXTS[(offset + sent) % len(TEXTS)], phase)
                sent += 1
                if outcome == "handoff":
                    phase.handoffs += 1
                    break  # the bot no longer has this conversation: open another
                if outcome == "error":
                    return
        finally:
            await ws.close()


async def _one_turn(ws, text: str, phase: Phase) -> str:
    client_id = str(uuid.uuid4())
    started = time.perf_counter()
    await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
    my_seq = None
    echo_at = stored_at = None
    early: dict[int, str] = {}  # outcomes that arrived before the echo (reply_to -> author)
    while True:
        try:
            raw = await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT)
        except TimeoutError:
            phase.errors.append("no reply within 30 s")
            return "error"
        frame = json.loads(raw)
        kind = frame.get("type")
        if kind == "error":
            phase.errors.append(f"{frame.get('code')}: {frame.get('message')}")
            return "error"
        if kind != "message":
            continue
        author = frame.get("author")
        if author == "customer" and frame.get("client_id") == client_id:
            my_seq = frame["seq"]
            echo_at, stored_at = time.perf_counter(), frame.get("created_at")
            author = early.get(my_seq)
            if author is None:
                continue
        elif author in ("bot", "system") and frame.get("reply_to") is not None:
            if my_seq is None:
                early[frame["reply_to"]] = author
                continue
            if frame["reply_to"] != my_seq:
                continue
        else:
            continue
        now = time.perf_counter()
        phase.latencies.append(now - started)
        if echo_at is not None and stored_at and frame.get("created_at"):
            replied_at = datetime.fromisoformat(frame["created_at"]).timestamp()
            phase.stages.append(
                (
                    (echo_at - started) * 1000,
                    (replied_at - datetime.fromisoformat(stored_at).timestamp()) * 1000,
                    (time.time() - replied_at) * 1000,
                )
            )
        return "reply" if author == "bot" else "handoff"


# --- CPU accounting: where the time goes, robust to a machine shared with other work --------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_table() -> list[tuple[int, int, str, float]]:
    """(pid, ppid, command line, cpu seconds) of every process."""
    rows = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        try:
            comm = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        comm = comm or raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        rows.append(
            (int(entry.name), int(fields[1]), comm,
             (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
        )
    return rows


def cpu_snapshot(stack_pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of Daphne, the worker (with its children), PostgreSQL, Redis, us."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, ppid, _, _ in table:
        children.setdefault(ppid, []).append(pid)
    cpu = {pid: seconds for pid, _, _, seconds in table}

    def tree(pid: int) -> float:
        return cpu.get(pid, 0.0) + sum(tree(child) for child in children.get(pid, []))

    usage = resource.getrusage(resource.RUSAGE_SELF)
    snapshot = {name: tree(pid) for name, pid in stack_pids.items()}
    if "worker" in stack_pids:  # Celery's consumer, apart from the pool's children
        snapshot["worker parent"] = cpu.get(stack_pids["worker"], 0.0)
    # PostgreSQL backends name their database in their title; Redis is shared by everyone.
    database = f" {BENCH_DATABASE} "
    snapshot["postgres"] = sum(s for _, _, comm, s in table if database in comm)
    snapshot["redis"] = sum(s for _, _, comm, s in table if comm.startswith("redis-server"))
    snapshot["bench clients"] = usage.ru_utime + usage.ru_stime
    return snapshot


STACK_PIDS: dict[str, int] = {}
# Parts of another entry, shown beside it and not added to the total.
CPU_DETAILS = frozenset({"worker parent"})
# Processes measured beside the stack but not part of it (a benchmark's fake company systems):
# shown after the total, not added to it. A benchmark adds their names.
CPU_APART: set[str] = set()
BENCH_DATABASE = DEFAULT_DATABASE_URL.rsplit("/", 1)[-1]


async def run_phase(name: str, clients: int, messages: int, runner, base_url: str) -> Phase:
    phase = Phase(name, clients)
    before = cpu_snapshot(STACK_PIDS)
    started = time.perf_counter()
    results = await asyncio.gather(
        *(runner(base_url, messages, phase, index) for index in range(clients)),
        return_exceptions=True,
    )
    phase.elapsed = time.perf_counter() - started
    after = cpu_snapshot(STACK_PIDS)
    phase.cpu = {key: max(0.0, after[key] - before[key]) for key in after}
    phase.errors += [repr(r) for r in results if isinstance(r, BaseException)]
    return phase


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def idle_widgets(base_url: str, count: int, server_pid: int | None) -> dict:
    """Opens ``count`` widget sockets, each joined to its own conversation, and holds them."""
    before = rss_mb(server_pid) if server_pid else float("nan")
    conversations = await asyncio.to_thread(open_conversations, count)
    sockets = []
    semaphore = asyncio.Semaphore(50)

    async def open_one(conversation_id: str, token: str) -> None:
        async with semaphore:
            ws = await _connect(ws_base(base_url) + "/ws/chat/", base_url)
            sockets.append(ws)
            await _join(ws, conversation_id, token)

    started = time.perf_counter()
    results = await asyncio.gather(*(open_one(*c) for c in conversations), return_exceptions=True)
    opened = time.perf_counter() - started
    failures = [r for r in results if isinstance(r, BaseException)]
    await asyncio.sleep(3)
    after = rss_mb(server_pid) if server_pid else float("nan")
    alive = sum(1 for ws in sockets if ws.state.name == "OPEN")
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {
        "count": count, "alive": alive, "failures": len(failures), "rss_before": before,
        "rss": after, "open_seconds": opened,
        "first_failure": repr(failures[0]) if failures else "",
    }


# --- Main ------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


async def main_async(args: argparse.Namespace, base_url: str, server_pid: int | None) -> int:
    print(f"server {base_url}  (daphne pid {server_pid}, worker "
          f"{args.worker_pool} x{args.worker_concurrency}"
          f"{', constant bot' if args.fake_bot else ', offline bot'}"
          f"{', experiment ' + args.experiment if args.experiment else ''})")
    warm = await run_phase("warm-up", 4, 10, chat_client, base_url)
    if warm.errors:
        print("warm-up failed:", warm.errors[:3])
        return 1

    async def echo_runner(url, messages, phase, index):
        await echo_client(url, messages, phase)

    plan = (
        [(1, args.messages * 4 if args.suite else args.messages), (20, args.messages),
         (100, max(5, args.messages // 2))]
        if args.suite
        else [(args.clients, args.messages)]
    )
    phases = {}
    for clients, messages in plan:
        echo = await run_phase("echo baseline", clients, messages, echo_runner, base_url)
        print(echo.line())
        print(echo.cpu_line())
        if echo.errors:
            print("  errors:", echo.errors[:3])
        chat = await run_phase("round trip", clients, messages, chat_client, base_url)
        print(chat.line())
        print(chat.stage_line())
        print(chat.cpu_line())
        if chat.errors:
            print("  errors:", chat.errors[:3])
        phases[clients] = (echo, chat)

    idle = None
    if args.suite or args.idle:
        idle = await idle_widgets(base_url, args.idle or 1000, server_pid)
        print(
            f"idle widgets               {idle['alive']} of {idle['count']} joined and open, "
            f"{idle['failures']} failed; Daphne RSS {idle['rss_before']:.0f} MB -> "
            f"{idle['rss']:.0f} MB (opened in {idle['open_seconds']:.1f} s)"
        )
        if idle["first_failure"]:
            print("  first failure:", idle["first_failure"])

    print()
    print(f"{'figure':<44} {'goal':>12} {'measured':>12}  met")
    rows = []
    for clients, (echo, chat) in phases.items():
        rows.append((f"echo baseline, {clients} clients, p50", "", f"{echo.pct(0.5):.2f} ms", ""))
        rows.append((f"echo baseline, {clients} clients, rate", "", f"{echo.rate:.0f}/s", ""))
        if clients == 1:
            rows.append(("round trip, 1 client, p50", "< 15 ms", f"{chat.pct(0.5):.2f} ms",
                         verdict(chat.pct(0.5) < GOALS["rt1_p50"])))
        elif clients == 20:
            rows.append(("round trip, 20 clients, replies/s", ">= 200/s", f"{chat.rate:.0f}/s",
                         verdict(chat.rate >= GOALS["rt20_rate"])))
            rows.append(("round trip, 20 clients, p99", "< 200 ms", f"{chat.pct(0.99):.1f} ms",
                         verdict(chat.pct(0.99) < GOALS["rt20_p99"])))
        elif clients == 100:
            rows.append(("round trip, 100 clients, replies/s", ">= 200/s", f"{chat.rate:.0f}/s",
                         verdict(chat.rate >= GOALS["rt100_rate"])))
        if clients not in (1, 20, 100):
            rows.append((f"round trip, {clients} clients, replies/s", "", f"{chat.rate:.0f}/s", ""))
        rows.append((f"round trip, {clients} clients, p50 / p99", "",
                     f"{chat.pct(0.5):.1f}/{chat.pct(0.99):.0f} ms", ""))
    if idle is not None:
        rows.append((f"{idle['count']} idle widgets, Daphne RSS", "< 400 MB",
                     f"{idle['rss']:.0f} MB",
                     verdict(idle["rss"] < GOALS["idle_rss"] and idle["alive"] == idle["count"])))
    for figure, goal, measured, met in rows:
        print(f"{figure:<44} {goal:>12} {measured:>12}  {met}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--messages", type=int, default=50, help="messages per client")
    parser.add_argument("--suite", action="store_true",
                        help="1, 20 and 100 clients, then 1,000 idle widgets")
    parser.add_argument("--idle", type=int, default=0, help="also hold this many idle widgets")
    parser.add_argument("--url", help="measure this running server instead of starting one")
    parser.add_argument("--server-pid", type=int, help="Daphne's pid, with --url, for memory")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--worker-pool", default="prefork")
    parser.add_argument("--fake-bot", action="store_true",
                        help="a constant bot (bench/fake_bot_worker.py): the stack without the "
                        "pipeline's own cost")
    parser.add_argument("--experiment", default="",
                        help="comma-separated changes to measure before making them: dispatch, "
                        "threads (bench/asgi_bench.py), pubsub, asynccommit "
                        "(bench/settings_bench.py)")
    parser.add_argument("--skip-setup", action="store_true",
                        help="reuse the database as it is (no drop, migrate or load_demo)")
    parser.add_argument("--log-dir", default="/tmp/sd_bench_chat")
    args = parser.parse_args()

    raise_file_limit()
    env = server_env(args)
    global BENCH_DATABASE
    BENCH_DATABASE = args.database_url.rsplit("/", 1)[-1]
    if not args.skip_setup:
        recreate_database(args.database_url)
        prepare(env, fake_bot=args.fake_bot)
    setup_django(env)
    if args.fake_bot:
        ensure_demo_widget()
    stack = None
    if args.url:
        base_url, server_pid = args.url.rstrip("/"), args.server_pid
    else:
        stack = start_stack(args, env)
        base_url, server_pid = stack.base_url, stack.server_pid
        STACK_PIDS.update(daphne=stack.daphne.pid, worker=stack.worker.pid)
    try:
        return asyncio.run(main_async(args, base_url, server_pid))
    finally:
        if stack is not None:
            with contextlib.suppress(Exception):
                stack.stop()


if __name__ == "__main__":
    sys.exit(main())
