#!/usr/bin/env python
"""Webhook fan-out while customers chat: do deliveries hold up the bot's answers?

    .venv/bin/python bench/bench_webhooks.py --events 1000 --clients 20 --messages 30

``bench_chat.py``'s stack (PostgreSQL, Redis, Daphne, a prefork Celery worker of two processes,
the offline bot) plus the Procfile's ``webhooks`` worker (threads, behind the command prefix
``--priority``: ``nice -n 19`` by default, as the Procfile runs it; ``chrt --idle 0`` tries
Linux's ``SCHED_IDLE`` policy) on ``WEBHOOK_QUEUE``. Three receivers (``LeanReceiver``:
asyncio, keep-alive) listen on loopback ports in a process of their own, as the company's
systems would (their HTTP parsing, JSON and signature checks take no GIL from this process's
clients, whose clock they would otherwise stretch), and check every signature; one answers
after ``--slow`` seconds (2 s), the other two at once. They stand for the company's own
machines, which would take no CPU from the desk: they are written to cost as little as a Python
server can, and run at the stack's own priority (``--receivers normal``, the default: they
answer at once, as remote systems would) or under ``SCHED_IDLE`` (``--receivers idle``: only on
CPU time the stack leaves idle, so they answer late while it is busy, and fewer deliveries
happen during the round). Their CPU is reported apart ("receivers"), not in the stack's total.

Rounds, in turn (``--rounds`` pairs, so that drift of the shared machine shows):

* **no webhooks**: ``--clients`` closed-loop chat clients send ``--messages`` each; their round
  trips (message sent -> bot reply received) give p50 and p99;
* **webhooks**: the three endpoints subscribe to every event; this process first stores
  ``--events`` chat facts (conversations opened and customer messages, through
  ``chat.services``), each one an event for all three endpoints, with the endpoints held (so
  that the backlog is whole when the round starts), then lets the deliveries go and the same
  clients chat while they are delivered (the clients' own conversations add their events).
  Reported: the clients' p50 and p99, and how many events each endpoint had received (with a
  valid signature, none twice) by the end of the round and ``--drain`` seconds later.

The endpoints are removed (their deliveries with them) after each webhooks round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def store_events(count: int, rate: float, stop: threading.Event) -> tuple[int, float]:
    """Stores ``count`` customer messages (5 per conversation, each conversation's start an
    event too) at ``rate`` events per second, owing the bot nothing; returns (events stored,
    seconds taken)."""
    from django.db import close_old_connections

    from chat import services
    from chat.models import Widget

    widget = Widget.objects.get(public_key="demo")
    started = time.perf_counter()
    stored = 0
    conversation = None
    while stored < count and not stop.is_set():
        if conversation is None or stored % 6 == 0:
            conversation, _ = services.conversation_start(widget=widget)
        else:
            message, _ = services.message_create_incoming(
                conversation=conversation, text=f"event {stored}", client_id=None,
                queue_bot=False,
            )
            # Events only: no answer owed, or the bot's drains would answer these 800 messages
            # during the round, ahead of its clients (oldest first).
            services.owed_answer_settle(message=message)
        stored += 1
        delay = started + stored / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    close_old_connections()
    return stored, time.perf_counter() - started


def hold(held: bool) -> None:
    """Holds the endpoints' deliveries back (a lease far ahead) while the backlog is stored,
    or lets them go and queues them."""
    from datetime import timedelta

    from django.db import close_old_connections
    from django.utils import timezone

    from webhooks import services
    from webhooks.models import Endpoint

    Endpoint.objects.update(lease_until=timezone.now() + timedelta(hours=1) if held else None)
    if not held:
        for pk in Endpoint.objects.values_list("pk", flat=True):
            services.queued_mark_clear(pk)  # the tasks queued meanwhile found it held
            services.queue_delivery(pk)
    close_old_connections()


def endpoints_create(urls: list[str]) -> list[str]:
    """Registers an endpoint for each receiver URL, subscribed to every event; their secrets."""
    from django.contrib.auth.models import User
    from django.db import close_old_connections

    from webhooks import services

    admin = User.objects.filter(username="admin").first()
    secrets = [
        services.endpoint_create(actor=admin, url=url, events=list(services.EVENT_NAMES),
                                 description="bench")[1]
        for url in urls
    ]
    close_old_connections()
    return secrets


def endpoints_delete() -> None:
    from django.db import close_old_connections

    from webhooks import services
    from webhooks.models import Endpoint

    for endpoint in Endpoint.objects.all():
        services.endpoint_delete(actor=None, endpoint=endpoint)
    close_old_connections()


class Receivers:
    """``LeanReceiver``s in a child process, one per delay, driven through a pipe:
    ``call("secrets", [...])``, ``call("clear")``, ``call("received")`` (one summary line
    each), ``call("stop")``."""

    def __init__(self, delays: list[float], *, idle: bool = False) -> None:
        context = multiprocessing.get_context("fork")  # before any thread or connection
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_receivers_serve, args=(child, delays, idle),
                                       daemon=True)
        self.process.start()
        self.urls: list[str] = self.conn.recv()

    def call(self, command: str, *args):
        self.conn.send((command, args))
        return self.conn.recv()

    def stop(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self.call("stop")
        self.process.join(timeout=10)


class LeanReceiver:
    """A company's webhook receiver as lean as an HTTP/1.1 server in Python gets: asyncio
    streams, keep-alive, the body read by its Content-Length, parsed as JSON and its signature
    checked (``webhooks.signing.verify_signature``, with the secret held after ``delay``), then
    200. It stands for a system on machines of its own, so it should cost the desk's two cores
    as little as it can (``tests/webhooks/receiver.py``'s thread-per-connection
    ``http.server``, which the tests use for its status queues and holds, costs more CPU per
    request: bench/README.md, 2026-12-02)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.secret = ""
        self.ok_ids: list[str] = []
        self.bad = 0
        self.url = ""

    async def start(self) -> None:
        server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hooks"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import json

        from webhooks.signing import verify_signature

        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name:
                        headers[name.strip().lower()] = value.strip().decode("latin-1")
                body = await reader.readexactly(int(headers.get(b"content-length", "0")))
                if self.delay:
                    await asyncio.sleep(self.delay)
                json.loads(body)
                if verify_signature(self.secret, headers.get(b"supportdesk-signature", ""), body):
                    self.ok_ids.append(headers.get(b"supportdesk-event-id", ""))
                else:
                    self.bad += 1
                writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{"ok": true}')
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def summary(self) -> str:
        ids = self.ok_ids
        return f"{len(ids)} received" + (f", {self.bad} badly signed" if self.bad else "") + (
            "" if len(set(ids)) == len(ids) else ", REPEATS")


def _receivers_serve(conn, delays: list[float], idle: bool) -> None:
    if idle:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    asyncio.run(_receivers_loop(conn, delays))


async def _receivers_loop(conn, delays: list[float]) -> None:
    receivers = [LeanReceiver(delay) for delay in delays]
    for receiver in receivers:
        await receiver.start()
    conn.send([receiver.url for receiver in receivers])
    stopped = asyncio.Event()

    def command() -> None:
        try:
            name, args = conn.recv()
        except EOFError:
            stopped.set()
            return
        if name == "secrets":
            for receiver, secret in zip(receivers, args[0], strict=True):
                receiver.secret = secret
        elif name == "clear":
            for receiver in receivers:
                receiver.ok_ids, receiver.bad = [], 0
        elif name == "received":
            conn.send([receiver.summary() for receiver in receivers])
            return
        elif name == "stop":
            stopped.set()
        conn.send(None)

    asyncio.get_running_loop().add_reader(conn.fileno(), command)
    await stopped.wait()


async def one_round(args, bc, base_url: str, webhooks: bool, receivers: Receivers):
    if webhooks:
        receivers.call("clear")
        secrets = await asyncio.to_thread(endpoints_create, receivers.urls)
        receivers.call("secrets", secrets)
    stored = seconds = 0.0
    if webhooks:  # the backlog: stored first, delivered while the clients chat
        await asyncio.to_thread(hold, True)
        stored, seconds = await asyncio.to_thread(store_events, args.events, 1e9,
                                                  threading.Event())
        await asyncio.to_thread(hold, False)
    phase = await bc.run_phase("webhooks" if webhooks else "no webhooks", args.clients,
                               args.messages, bc.chat_client, base_url)
    print(phase.line())
    print(phase.cpu_line())
    if phase.errors:
        print("  errors:", phase.errors[:3])
    if webhooks:
        print(f"{'':<26} {stored} events stored before the round in {seconds:.1f} s")
        names = ["fast 1", "fast 2", f"slow ({args.slow:.0f} s)"]
        print(f"{'':<26} at the round's end: " + "; ".join(
            f"{name} {line}"
            for name, line in zip(names, receivers.call("received"), strict=True)))
        await asyncio.sleep(args.drain)
        print(f"{'':<26} {args.drain:.0f} s later:     " + "; ".join(
            f"{name} {line}"
            for name, line in zip(names, receivers.call("received"), strict=True)))
        await asyncio.to_thread(endpoints_delete)
    return phase


async def run(args, bc, base_url: str, receivers: Receivers) -> int:
    warm = await bc.run_phase("warm-up", 4, 10, bc.chat_client, base_url)
    if warm.errors:
        print("warm-up failed:", warm.errors[:3])
        return 1
    results: dict[bool, list] = {False: [], True: []}
    for _ in range(args.rounds):
        for webhooks in (False, True):
            results[webhooks].append(await one_round(args, bc, base_url, webhooks, receivers))
    for webhooks, phases in results.items():
        p99 = ", ".join(f"{p.pct(0.99):.0f}" for p in phases)
        p50 = ", ".join(f"{p.pct(0.5):.0f}" for p in phases)
        rate = ", ".join(f"{p.rate:.1f}" for p in phases)
        print(f"{'with' if webhooks else 'without'} webhooks at {args.clients} clients: "
              f"p50 {p50} ms; p99 {p99} ms; {rate} replies/s")
    worst = max(p.pct(0.99) for p in results[True])
    print(f"goal p99 < 200 ms with webhooks: {worst:.0f} ms "
          f"{'met' if worst < 200 else 'NOT met'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--slow", type=float, default=2.0, help="the slow endpoint's delay")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--drain", type=float, default=20.0)
    parser.add_argument("--priority", default="nice -n 19",
                        help="the command prefix of the webhooks worker (the Procfile's is "
                             "'nice -n ${WEBHOOK_NICE:-19}'), e.g. 'chrt --idle 0' or 'env'")
    parser.add_argument("--receivers", choices=("normal", "idle"), default="normal",
                        help="the receivers' CPU priority: normal (the stack's; they answer "
                             "at once) or idle (SCHED_IDLE: they answer late while it is busy)")
    parser.add_argument("--database-url",
                        default="postgres://postgres@127.0.0.1:5432/sd_h17w_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--skip-setup", action="store_true")
    parser.add_argument("--log-dir", default="/tmp/sd_bench_webhooks")
    args = parser.parse_args()
    receivers = Receivers([0.0, 0.0, args.slow], idle=args.receivers == "idle")

    import bench_chat as bc

    args.experiment, args.fake_bot = "", False
    args.worker_pool, args.worker_concurrency = "prefork", 2
    env = bc.server_env(args)
    env.update(WEBHOOK_ALLOW_PRIVATE_NETWORKS="1", WEBHOOK_QUEUE="webhooks",
               WEBHOOK_TIMEOUT_SECONDS=str(args.slow + 3))
    for key in ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "WEBHOOK_QUEUE"):
        os.environ[key] = env[key]
    bc.BENCH_DATABASE = args.database_url.rsplit("/", 1)[-1]
    if not args.skip_setup:
        bc.recreate_database(args.database_url)
        bc.prepare(env, fake_bot=False)
    bc.setup_django(env)
    endpoints_delete()
    stack = bc.start_stack(args, env)
    Path(args.log_dir).mkdir(parents=True, exist_ok=True)
    with (Path(args.log_dir) / "webhooks.log").open("wb") as out:
        subprocess.run([sys.executable, "-m", "celery", "-A", "supportdesk", "purge", "-f",
                        "-Q", "webhooks"], cwd=ROOT, env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deliverer = subprocess.Popen(
            [*shlex.split(args.priority), sys.executable, "-m", "celery", "-A", "supportdesk",
             "worker", "-Q", "webhooks",
             "--pool", "threads", "--concurrency", "8", "--loglevel", "warning",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--hostname", f"bench-webhooks-{os.getpid()}@%h"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    bc.STACK_PIDS.update(daphne=stack.daphne.pid, worker=stack.worker.pid,
                         webhooks=deliverer.pid, receivers=receivers.process.pid)
    bc.CPU_APART.add("receivers")  # the company's systems, not the stack
    time.sleep(5)
    print(f"webhooks worker behind {args.priority!r}; receivers at {args.receivers} priority")
    try:
        return asyncio.run(run(args, bc, stack.base_url, receivers))
    finally:
        with contextlib.suppress(Exception):
            stack.stop()
        deliverer.terminate()
        try:
            deliverer.wait(timeout=60)  # a warm shutdown waits for the running deliveries
        except subprocess.TimeoutExpired:
            deliverer.kill()
        receivers.stop()


if __name__ == "__main__":
    sys.exit(main())
