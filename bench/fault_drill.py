#!/usr/bin/env python
"""The fault drill: does every acknowledged customer message get exactly one answer through faults?

    .venv/bin/python bench/fault_drill.py            # ten customers x twenty messages, every fault
    .venv/bin/python bench/fault_drill.py --short    # three customers x six messages
    .venv/bin/python bench/fault_drill.py --faults worker_kill,redis_restart

It runs the desk as an operator would, on services of its own: a Redis on a free port
(``redis-server --save "" --appendonly no``: a restart loses what Redis held, as a restart of a
cache-configured Redis does), a PostgreSQL cluster of its own (``initdb`` and ``pg_ctl`` on a
free port, so that it can be restarted; run as the ``postgres`` user when the drill runs as
root), and the project's own commands from the ``Procfile``: two Daphne processes, a Celery
worker and beat. The database is migrated and the demo company loaded (``load_demo``).

For each fault, fresh customers (half on each Daphne) open a conversation through
``POST /api/widget/conversations/`` and write through ``/ws/chat/`` as docs/protocol.md says a
client must: a ``client_id`` per message, resent until its echo acknowledges it (after a
reconnect, after a ``server_error``, after 10 s without an echo), a rejoin with ``after_seq``
and ``missing_seqs`` after a drop and when an answer is 15 s late, reconnecting with
exponential backoff and jitter. While they write, the drill injects the
fault:

==================== =============================================================================
``worker_kill``      ``kill -9`` of the worker's process group (parent and pool) while it holds
                     prefetched tasks; started again after ``--down`` seconds, as a supervisor would
``redis_restart``    Redis stopped and started again at once (its queued tasks are gone)
``redis_down``       Redis stopped for ``--down`` seconds while customers keep sending
``redis_drop_clients``  every client connection to Redis cut at once (a network cut or a failover;
                     Redis keeps its queues), twice ``--down`` seconds apart
``pg_restart_fast``  ``pg_ctl restart -m fast``
``pg_restart_immediate``  ``pg_ctl stop -m immediate`` (a crash: no shutdown checkpoint), then start
``drop_sockets``     every customer's TCP connection aborted at once
``daphne_restart``   one Daphne stopped (SIGKILL) and started again on the same port
``two_daphnes``      no fault: customers on both Daphnes, replies crossing the channel layer
==================== =============================================================================

A process that exits is started again at once (``Restart=always`` of a supervisor); a process
that stays up but stops working is left alone: the promise is that processes recover by
themselves. Between faults the app processes are started afresh so that one fault's damage is
not counted against the next (``--keep-processes`` to chain them instead).

For each fault it prints, over the customers' messages:

* ``sent``: messages the customers wrote; ``acked``: acknowledged by their echo;
* ``stored``: of those, found in the database by ``client_id`` (once each);
* ``answered``: stored messages whose answer (a ``bot`` or ``system`` message with
  ``reply_to`` = its seq) the customer received;
* ``dup``: extra answers: a second answer to one message, or a seq shown with another text;
* ``lost``: sent and not answered within ``--recover-timeout`` seconds of the services' return
  (the note splits them: never acknowledged, acknowledged but not stored, stored but not
  answered, answered in the database but never delivered to the customer);
* ``recover s``: seconds from the services' return (the end of the fault) to the last answer.

It exits 1 on any loss or duplicate, 2 when it cannot set the services up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAULTS = (
    "worker_kill",
    "redis_restart",
    "redis_down",
    "redis_drop_clients",
    "pg_restart_fast",
    "pg_restart_immediate",
    "drop_sockets",
    "daphne_restart",
    "two_daphnes",
)
PG_FAULTS = {"pg_restart_fast", "pg_restart_immediate"}
# Questions the offline bot answers from the demo knowledge base without asking for a detail.
TEXTS = (
    "How long does standard shipping take?",
    "What is your return policy?",
    "Do you ship to Canada?",
    "How do I reset my password?",
    "Which payment methods do you accept?",
)
DRILL_PASSWORD = "drill-pass-2026"
START_TIMEOUT = 120.0


class SetupError(RuntimeError):
    """A service of the drill could not be started."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise SetupError(f"{what} not ready within {timeout:.0f} s")


# --- Services of the drill's own -------------------------------------------------------------


class Redis:
    """A Redis of the drill's own, without persistence, restartable on the same port."""

    def __init__(self, logdir: Path) -> None:
        self.port = free_port()
        self.log = logdir / "redis.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if not binary:
            raise SetupError("redis-server is not installed")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_until(self.ping, 20, "Redis")

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def drop_clients(self) -> int:
        """Cuts every client connection (``CLIENT KILL TYPE normal``); Redis keeps its data.

        Returns how many connections were cut.
        """
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=5)
        try:
            return client.client_kill_filter(_type="normal", skipme=True)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Postgres:
    """A PostgreSQL cluster of the drill's own (initdb + pg_ctl on a free port)."""

    def __init__(self, logdir: Path) -> None:
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="sd-drill-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"  # where the postgres user may write
        self.kept_log = logdir / "postgres.log"
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/supportdesk"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    def _binary(self, name: str) -> str:
        found = shutil.which(name)
        if found:
            return found
        candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
        if not candidates:
            raise SetupError(f"{name} is not installed (PostgreSQL server binaries)")
        return str(candidates[-1])

    def init(self) -> None:
        if self.as_postgres:
            shutil.chown(self.base, "postgres")
        self._run(self._binary("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--no-sync")
        self.start()
        import psycopg

        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE supportdesk")

    def _options(self) -> str:
        return (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                "-c max_connections=200 -c fsync=off")

    def start(self) -> None:
        self._run(self._binary("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o",
                  self._options(), "-w", "-t", "60", "start")

    def restart(self, mode: str) -> None:
        if mode == "fast":
            self._run(self._binary("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o",
                      self._options(), "-m", "fast", "-w", "-t", "60", "restart")
        else:
            self._run(self._binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
            self.start()

    def destroy(self) -> None:
        self._run(self._binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop",
                  check=False)
        if self.log.exists():
            shutil.copyfile(self.log, self.kept_log)
        shutil.rmtree(self.base, ignore_errors=True)


def procfile_commands() -> dict[str, str]:
    """The project's own process commands, as an operator runs them (``Procfile``)."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.startswith("#"):
            commands[name.strip()] = command.strip()
    return commands


@dataclass
class Proc:
    name: str
    command: str
    env: dict[str, str]
    log: Path
    ready: object  # callable -> bool
    proc: subprocess.Popen | None = None
    restarts: int = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            out.write(f"\n=== start {time.strftime('%H:%M:%S')}: {self.command}\n".encode())
            out.flush()
            self._log_offset = out.tell()
            self.proc = subprocess.Popen(
                ["sh", "-c", "exec " + self.command], cwd=ROOT, env=self.env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise SetupError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
            return self.ready(self)

        try:
            wait_until(ready, START_TIMEOUT, self.name)
        except SetupError as exc:
            if "exited" in str(exc):
                raise
            raise SetupError(f"{exc}; see {self.log}") from None

    def log_since_start(self) -> str:
        with self.log.open("rb") as handle:
            handle.seek(self._log_offset)
            return handle.read().decode(errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


def http_ready(port: int):
    def ready(_proc: Proc) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # 503 is an answer: the server is up

    return ready


def worker_ready(proc: Proc) -> bool:
    return " ready." in proc.log_since_start()


def beat_ready(proc: Proc) -> bool:
    return "beat: Starting" in proc.log_since_start()


class Stack:
    """Redis, PostgreSQL, two Daphnes, a worker and beat, all the drill's own."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.logdir = Path(args.log_dir or tempfile.mkdtemp(prefix="sd-drill-logs-"))
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.redis = Redis(self.logdir)
        self.postgres = Postgres(self.logdir)
        self.ports = [free_port(), free_port()]
        self.origin = f"http://127.0.0.1:{self.ports[0]}"
        self.procs: dict[str, Proc] = {}

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("ANTHROPIC_API_KEY", "DJANGO_SETTINGS_MODULE", "PYTEST_CURRENT_TEST",
                     "PYTEST_VERSION", "CELERY_BROKER_URL", "SQLITE_PATH"):
            env.pop(name, None)  # the offline bot, the project's settings, this drill's services
        env.update({
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "CHANNEL_PREFIX": "sddrill",
            "SUPPORTDESK_ENV": "development",
            "DEBUG": "0",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            # Both Daphnes serve one public origin, as behind a load balancer.
            "CHAT_PUBLIC_ORIGIN": self.origin,
            # The drill's customers write quickly and at length, from one IP, on purpose.
            "CHAT_RATE_LIMIT_MESSAGES": "1000000",
            "CHAT_CONVERSATIONS_PER_IP_PER_MINUTE": "1000000",
            "CHAT_RATE_ADDRESS_MESSAGES": "1000000/10",
            "CHAT_SOCKETS_PER_ADDRESS": "1000000",
            "CHAT_FAILED_JOINS": "1000000/600",
            "BOT_MAX_TURNS": "1000000",
            "BOT_MAX_FALLBACKS": "1000000",
            "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        })
        return env

    def setup(self) -> None:
        self.redis.start()
        self.postgres.init()
        env = self.env()
        python = str(ROOT / ".venv" / "bin" / "python")
        if not Path(python).exists():
            python = sys.executable
        for step in (["migrate", "--noinput", "-v", "0"],
                     ["load_demo", "--password", DRILL_PASSWORD, "--traffic-days", "0", "-v", "0"]):
            done = subprocess.run([python, "manage.py", *step], cwd=ROOT, env=env,
                                  capture_output=True, text=True)
            if done.returncode:
                raise SetupError(f"manage.py {step[0]} failed:\n{done.stderr[-3000:]}")
        commands = procfile_commands()
        for key in ("web", "worker", "beat"):
            if key not in commands:
                raise SetupError(f"the Procfile has no {key!r} process")
        for index, port in enumerate(self.ports):
            name = f"daphne{index + 1}"
            self.procs[name] = Proc(
                name, commands["web"], {**env, "HOST": "127.0.0.1", "PORT": str(port)},
                self.logdir / f"{name}.log", http_ready(port),
            )
        self.procs["worker"] = Proc("worker", commands["worker"], env,
                                    self.logdir / "worker.log", worker_ready)
        if "connectors" in commands:  # the data connectors' worker, as bin/services runs it
            self.procs["connectors"] = Proc("connectors", commands["connectors"], env,
                                            self.logdir / "connectors.log", worker_ready)
        schedule = self.logdir / "celerybeat-schedule"
        beat = commands["beat"].replace("/tmp/supportdesk-celerybeat-schedule", str(schedule))
        self.procs["beat"] = Proc("beat", beat, env, self.logdir / "beat.log", beat_ready)
        self.start_apps()

    def start_apps(self) -> None:
        for proc in self.procs.values():
            proc.start()
        for proc in self.procs.values():
            proc.wait_ready()

    def restart_apps(self) -> None:
        for proc in self.procs.values():
            proc.stop()
        self.start_apps()

    def supervise(self) -> None:
        """Starts again any app process that exited, as a supervisor with Restart=always."""
        for proc in self.procs.values():
            if not proc.alive():
                proc.restarts += 1
                proc.start()

    def teardown(self) -> None:
        for proc in self.procs.values():
            proc.stop()
        self.redis.stop()
        self.postgres.destroy()


# --- Customers (the protocol of docs/protocol.md) --------------------------------------------


def open_conversation(base_url: str, origin: str) -> tuple[int, str]:
    request = urllib.request.Request(
        base_url + "/api/widget/conversations/", method="POST",
        data=json.dumps({"widget": "demo"}).encode(),
        headers={"Content-Type": "application/json", "Origin": origin},
    )
    for attempt in range(60):  # the services may be down when a customer arrives
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                data = json.loads(response.read())
                return data["conversation_id"], data["token"]
        except (OSError, urllib.error.HTTPError):
            time.sleep(min(5.0, 0.5 * 2 ** attempt))
    raise RuntimeError("could not open a conversation")


def backoff(attempt: int) -> float:
    base = min(30.0, 0.5 * 2 ** attempt)
    return base / 2 + random.random() * base / 2


@dataclass
class Customer:
    number: int
    base_url: str
    origin: str
    conversation_id: str = ""  # the public id the API answered
    token: str = ""
    sent: list[str] = field(default_factory=list)           # client ids, in order
    pending: list[tuple[str, str]] = field(default_factory=list)  # (client id, text) unacked
    acked: dict[str, int] = field(default_factory=dict)     # client id -> seq
    seen: dict[int, tuple[str, str]] = field(default_factory=dict)  # seq -> (author, text)
    answers: dict[int, set[int]] = field(default_factory=dict)      # reply_to -> answer seqs
    answered_at: dict[int, float] = field(default_factory=dict)     # reply_to -> first answer
    conflicts: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    ws: object = None
    joined: bool = False
    retry_attempt: int = 0
    retry_due: bool = False  # one resend of the pending messages is scheduled (as the widget)

    def missing_seqs(self) -> list[int]:
        top = max(self.seen, default=0)
        return [seq for seq in range(1, top + 1) if seq not in self.seen][-100:]

    async def connection_loop(self, done: asyncio.Event) -> None:
        from websockets.asyncio.client import connect

        url = "ws" + self.base_url[len("http"):] + "/ws/chat/"
        attempt = 0
        while not done.is_set():
            try:
                async with connect(url, origin=self.origin, open_timeout=10,
                                   ping_interval=None, max_queue=None) as ws:
                    self.ws = ws
                    await ws.send(json.dumps({
                        "type": "join", "conversation_id": self.conversation_id,
                        "token": self.token, "after_seq": max(self.seen, default=0),
                        "missing_seqs": self.missing_seqs(),
                    }))
                    async for raw in ws:
                        if await self.handle(json.loads(raw)):
                            attempt = 0
            except Exception:
                pass
            self.ws, self.joined = None, False
            if done.is_set():
                break
            await asyncio.sleep(backoff(attempt))
            attempt += 1

    async def send_pending(self) -> None:
        for client_id, text in list(self.pending):
            await self.send({"type": "message", "client_id": client_id, "text": text})

    async def send(self, frame: dict) -> None:
        if self.ws is not None and self.joined:
            with contextlib.suppress(Exception):
                await self.ws.send(json.dumps(frame))

    async def watchdog(self, done: asyncio.Event, after: float, late: float) -> None:
        """Sends again a message with no echo after ``after`` seconds (then backing off), and
        rejoins when an acknowledged message has had no answer for ``late`` seconds (the
        widget's late notice), as the widget does."""
        first_seen: dict[str, float] = {}
        attempts: dict[str, int] = {}
        acked_at: dict[int, float] = {}
        last_resync = 0.0
        while not done.is_set():
            await asyncio.sleep(0.5)
            now = time.monotonic()
            owed = [seq for seq in self.acked.values() if not self.answers.get(seq)]
            oldest = min((acked_at.setdefault(seq, now) for seq in owed), default=now)
            if now - oldest >= late and now - last_resync >= late and self.joined:
                last_resync = now
                await self.abort()
            for client_id, text in list(self.pending):
                since = first_seen.setdefault(client_id, now)
                wait = after * 2 ** min(attempts.get(client_id, 0), 3)
                if now - since >= wait:
                    first_seen[client_id] = now
                    attempts[client_id] = attempts.get(client_id, 0) + 1
                    await self.send({"type": "message", "client_id": client_id, "text": text})

    async def retry_later(self, wait: float | None = None) -> None:
        """Sends the pending messages again after a backoff (or ``retry_after``): one resend
        scheduled at a time, however many error frames came, as the widget does."""
        if self.retry_due:
            return
        self.retry_due = True
        try:
            if wait is None:
                wait = backoff(min(self.retry_attempt, 6))
                self.retry_attempt += 1
            await asyncio.sleep(wait)
        finally:
            self.retry_due = False
        await self.send_pending()

    async def handle(self, frame: dict) -> bool:
        kind = frame.get("type")
        if kind == "joined":
            self.joined = True
            await self.send_pending()
            return True
        if kind == "message":
            seq = frame["seq"]
            shown = (frame.get("author"), frame.get("text"))
            if seq in self.seen and self.seen[seq] != shown:
                self.conflicts += 1  # one seq, two different messages: a reused seq
            self.seen[seq] = shown
            client_id = frame.get("client_id")
            if frame.get("author") == "customer" and client_id in self.sent:
                self.acked[client_id] = seq
                self.pending = [p for p in self.pending if p[0] != client_id]
                self.retry_attempt = 0
            reply_to = frame.get("reply_to")
            if frame.get("author") in ("bot", "system") and reply_to is not None:
                self.answers.setdefault(reply_to, set()).add(seq)
                self.answered_at.setdefault(reply_to, time.monotonic())
        elif kind == "error":
            code = frame.get("code", "?")
            self.errors[code] = self.errors.get(code, 0) + 1
            if code == "server_error":
                asyncio.get_running_loop().create_task(self.retry_later())
            elif code == "rate_limited":
                wait = frame.get("retry_after")
                wait = min(600.0, max(1.0, wait if isinstance(wait, (int, float)) else 3.0))
                asyncio.get_running_loop().create_task(self.retry_later(wait))
        return False

    async def write(self, count: int, interval: float, started: float) -> None:
        for index in range(count):
            due = started + index * interval + random.random() * interval / 4
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            client_id = str(uuid.uuid4())
            text = TEXTS[(self.number + index) % len(TEXTS)]
            self.sent.append(client_id)
            self.pending.append((client_id, text))
            await self.send({"type": "message", "client_id": client_id, "text": text})

    def answered(self, client_id: str) -> bool:
        seq = self.acked.get(client_id)
        return seq is not None and bool(self.answers.get(seq))

    def all_answered(self) -> bool:
        return all(self.answered(client_id) for client_id in self.sent)

    async def abort(self) -> None:
        ws = self.ws
        if ws is not None:
            ws.transport.abort()


# --- One fault ---------------------------------------------------------------------------------


@dataclass
class Result:
    fault: str
    sent: int = 0
    acked: int = 0
    stored: int = 0
    answered: int = 0
    duplicated: int = 0
    lost: int = 0
    recover: float | None = None
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        recover = f"{self.recover:.1f}" if self.recover is not None else "-"
        return (f"{self.fault:<22} {self.sent:>5} {self.acked:>6} {self.stored:>6} "
                f"{self.answered:>8} {self.duplicated:>4} {self.lost:>5} {recover:>9}  "
                + "; ".join(self.notes))


HEADER = (f"{'fault':<22} {'sent':>5} {'acked':>6} {'stored':>6} {'answered':>8} {'dup':>4} "
          f"{'lost':>5} {'recover s':>9}  notes")


async def inject(fault: str, stack: Stack, customers: list[Customer], down: float) -> None:
    loop = asyncio.get_running_loop()
    if fault == "worker_kill":
        stack.procs["worker"].kill(signal.SIGKILL)
        await asyncio.sleep(down)
        await loop.run_in_executor(None, stack.procs["worker"].start)
    elif fault == "redis_restart":
        await loop.run_in_executor(None, stack.redis.stop)
        await loop.run_in_executor(None, stack.redis.start)
    elif fault == "redis_down":
        await loop.run_in_executor(None, stack.redis.stop)
        await asyncio.sleep(down)
        await loop.run_in_executor(None, stack.redis.start)
    elif fault == "redis_drop_clients":
        await loop.run_in_executor(None, stack.redis.drop_clients)
        await asyncio.sleep(down)
        await loop.run_in_executor(None, stack.redis.drop_clients)
    elif fault == "pg_restart_fast":
        await loop.run_in_executor(None, stack.postgres.restart, "fast")
    elif fault == "pg_restart_immediate":
        await loop.run_in_executor(None, stack.postgres.restart, "immediate")
    elif fault == "drop_sockets":
        for customer in customers:
            await customer.abort()
    elif fault == "daphne_restart":
        stack.procs["daphne1"].kill(signal.SIGKILL)
        await asyncio.sleep(down)
        await loop.run_in_executor(None, stack.procs["daphne1"].start)
    elif fault == "two_daphnes":
        pass
    else:
        raise ValueError(f"unknown fault {fault!r}")


def database_truth(stack: Stack, customers: list[Customer]) -> tuple[dict, dict]:
    """Customer rows by client id (their seqs) and answer counts by inbound seq."""
    import psycopg

    ids = [c.conversation_id for c in customers]
    rows: dict[tuple[str, str], list[int]] = {}
    answers: dict[tuple[str, int], int] = {}
    for _attempt in range(30):
        try:
            with psycopg.connect(stack.postgres.url, connect_timeout=5) as conn:
                for conversation_id, client_id, seq in conn.execute(
                    "SELECT c.public_id::text, m.client_id::text, m.seq FROM chat_message m "
                    "JOIN chat_conversation c ON c.id = m.conversation_id "
                    "WHERE c.public_id::text = ANY(%s) AND m.author = 'customer'", (ids,)
                ):
                    rows.setdefault((conversation_id, client_id), []).append(seq)
                for conversation_id, seq, count in conn.execute(
                    "SELECT c.public_id::text, q.seq, count(*) FROM chat_message a "
                    "JOIN chat_message q ON q.id = a.in_reply_to_id "
                    "JOIN chat_conversation c ON c.id = q.conversation_id "
                    "WHERE c.public_id::text = ANY(%s) GROUP BY 1, 2", (ids,)
                ):
                    answers[(conversation_id, seq)] = count
            return rows, answers
        except psycopg.OperationalError:
            time.sleep(1)
    raise SetupError("the drill's PostgreSQL does not answer")


async def run_fault(fault: str, stack: Stack, args: argparse.Namespace) -> Result:
    loop = asyncio.get_running_loop()
    customers = [
        Customer(number, f"http://127.0.0.1:{stack.ports[number % 2]}", stack.origin)
        for number in range(args.customers)
    ]
    for customer in customers:
        customer.conversation_id, customer.token = await loop.run_in_executor(
            None, open_conversation, customer.base_url, stack.origin
        )
    done = asyncio.Event()
    sockets = [loop.create_task(c.connection_loop(done)) for c in customers]
    sockets += [loop.create_task(c.watchdog(done, 10.0, 15.0)) for c in customers]
    while not all(c.joined for c in customers):
        await asyncio.sleep(0.05)
    started = time.monotonic()
    writers = [
        loop.create_task(c.write(args.messages, args.interval, started)) for c in customers
    ]
    await asyncio.sleep(max(0.0, started + args.fault_at - time.monotonic()))
    await inject(fault, stack, customers, args.down)
    returned = time.monotonic()
    await asyncio.gather(*writers)
    deadline = max(returned, time.monotonic()) + args.recover_timeout
    while time.monotonic() < deadline and not all(c.all_answered() for c in customers):
        await loop.run_in_executor(None, stack.supervise)
        await asyncio.sleep(0.5)
    done.set()
    for customer in customers:
        if customer.ws is not None:
            with contextlib.suppress(Exception):
                await customer.ws.close()
    for task in sockets:
        task.cancel()
    await asyncio.gather(*sockets, return_exceptions=True)

    rows, db_answers = await loop.run_in_executor(None, database_truth, stack, customers)
    result = Result(fault)
    never_acked = not_stored = unanswered = undelivered = 0
    last_answer = None
    for c in customers:
        result.duplicated += c.conflicts
        for answer_seqs in c.answers.values():
            result.duplicated += len(answer_seqs) - 1
        for client_id in c.sent:
            result.sent += 1
            seqs = rows.get((c.conversation_id, client_id), [])
            result.duplicated += max(0, len(seqs) - 1)
            if seqs:
                result.stored += 1
                result.duplicated += max(0, db_answers.get((c.conversation_id, seqs[0]), 0) - 1)
            if client_id not in c.acked:
                never_acked += 1
                continue
            result.acked += 1
            if not seqs:
                not_stored += 1
            elif c.answered(client_id):
                result.answered += 1
                at = c.answered_at[c.acked[client_id]]
                last_answer = at if last_answer is None else max(last_answer, at)
            elif db_answers.get((c.conversation_id, seqs[0])):
                undelivered += 1
            else:
                unanswered += 1
    result.lost = result.sent - result.answered
    if last_answer is not None:
        result.recover = max(0.0, last_answer - returned)
    for count, what in ((never_acked, "never acknowledged"), (not_stored, "acked, not stored"),
                        (unanswered, "stored, no answer"),
                        (undelivered, "answered, not delivered")):
        if count:
            result.notes.append(f"{count} {what}")
    errors: dict[str, int] = {}
    for c in customers:
        for code, count in c.errors.items():
            errors[code] = errors.get(code, 0) + count
    if errors:
        result.notes.append("error frames: " + ", ".join(f"{k} {v}" for k, v in errors.items()))
    restarts = [f"{p.name} {p.restarts}" for p in stack.procs.values() if p.restarts]
    if restarts:
        result.notes.append("restarted after exiting: " + ", ".join(restarts))
        for proc in stack.procs.values():
            proc.restarts = 0
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", default=",".join(FAULTS),
                        help=f"comma-separated, in order (default: all of {', '.join(FAULTS)})")
    parser.add_argument("--customers", type=int, default=10)
    parser.add_argument("--messages", type=int, default=20, help="per customer")
    parser.add_argument("--interval", type=float, default=0.5,
                        help="seconds between one customer's messages")
    parser.add_argument("--fault-at", type=float, default=3.0,
                        help="seconds after the first message")
    parser.add_argument("--down", type=float, default=5.0,
                        help="seconds a stopped service stays down (worker_kill, redis_down, "
                             "daphne_restart)")
    parser.add_argument("--recover-timeout", type=float, default=90.0,
                        help="seconds after the fault and the last message to wait for answers")
    parser.add_argument("--short", action="store_true",
                        help="three customers x six messages, faults 2 s apart")
    parser.add_argument("--keep-processes", action="store_true",
                        help="do not start the app processes afresh between faults")
    parser.add_argument("--log-dir", default="", help="where the services' logs go (kept)")
    args = parser.parse_args(argv)
    if args.short:
        args.customers, args.messages, args.interval, args.fault_at = 3, 6, 0.4, 1.0
        args.down = min(args.down, 3.0)
    args.fault_list = [name.strip() for name in args.faults.split(",") if name.strip()]
    unknown = set(args.fault_list) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
    return args


async def drill(args: argparse.Namespace, stack: Stack) -> list[Result]:
    results = []
    print(HEADER, flush=True)
    for index, fault in enumerate(args.fault_list):
        if index and not args.keep_processes:
            await asyncio.get_running_loop().run_in_executor(None, stack.restart_apps)
        result = await run_fault(fault, stack, args)
        print(result.line(), flush=True)
        results.append(result)
    return results


def _terminated(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)  # runs the teardown: no service of the drill outlives it


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    stack = Stack(args)
    print(f"fault drill: {args.customers} customers x {args.messages} messages per fault; "
          f"logs in {stack.logdir}", flush=True)
    try:
        try:
            stack.setup()
        except (SetupError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or ""
            print(f"fault drill: cannot set up the services: {exc} {detail}", file=sys.stderr)
            return 2
        results = asyncio.run(drill(args, stack))
    finally:
        stack.teardown()
    failed = [r.fault for r in results if r.lost or r.duplicated]
    print(f"\n{'FAIL' if failed else 'PASS'}: "
          + (f"loss or duplicates in {', '.join(failed)}" if failed
             else "every message answered exactly once"), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
