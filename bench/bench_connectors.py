#!/usr/bin/env python
"""Data connectors: their overhead, and whether a slow company API delays other answers.

    .venv/bin/python bench/bench_connectors.py overhead --calls 3000
    .venv/bin/python bench/bench_connectors.py isolation --delay 2.5 --clients 20 --messages 40
    .venv/bin/python bench/bench_connectors.py isolation --delay 2.5 --inline   # no own queue

``overhead``: ``knowledge.connectors.connector_call`` against an API answering at once
(httpx's ``MockTransport``: no socket, so no remote time): building the URL, the client, the
request, reading and capping the answer, parsing the JSON and rendering the reply template.
Also the pipeline's turn for the demo's order lookup with that call, against the same turn
without connectors. Django on the embedded defaults, in this process.

``isolation``: ``bench_chat.py``'s stack (PostgreSQL, Redis, Daphne, a prefork Celery worker of
two processes) plus a connector worker on ``CONNECTOR_QUEUE`` (threads; its CPU time while
measured is printed), the demo's "Order
status" connector pointed at an API on a loopback port that answers after ``--delay`` seconds;
``--slow-clients`` customers ask for their order over and over while ``--clients`` others ask
knowledge-base questions: their round trips' p50 and p99. ``--inline`` calls connectors in the
bot's own task (``CONNECTOR_QUEUE`` empty) for comparison; ``--slow-clients 0`` measures the
same stack with no lookups.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ORDER_TEXT = "where is my order 10023? my email is sam@example.com"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def overhead(args: argparse.Namespace) -> int:
    for key in ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY"):
        os.environ.pop(key, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    import httpx2

    from knowledge.connectors import ConnectorSpec, connector_call

    body = (b'{"order": {"number": "10023", "status": "Shipped", "carrier": "UPS", '
            b'"tracking_number": "1Z999AA10123456784", "placed_on": "2026-11-14"}}')
    transport = httpx2.MockTransport(
        lambda request: httpx2.Response(200, content=body,
                                        headers={"Content-Type": "application/json"})
    )
    spec = ConnectorSpec(
        id=1, name="Order status", description="", intents=("order_status",),
        needs=("order_number", "email"), method="GET",
        url_template="https://shop.example/demo/api/orders/{order_number}/?email={email}",
        allowed_hosts=("shop.example",), headers=(("Authorization", "Bearer x"),),
        timeout_seconds=3.0, verified_only=False,
        reply_template=("Your order {{ order.number }} status: {{ order.status }}."
                        "{% if order.carrier %} Carrier: {{ order.carrier }}, tracking number "
                        "{{ order.tracking_number }}.{% endif %}"),
        fallback_text="",
    )
    values = {"order_number": "10023", "email": "sam@example.com"}
    for _ in range(200):
        connector_call(spec, values, transport=transport)
    times = []
    for _ in range(args.calls):
        started = time.perf_counter()
        outcome = connector_call(spec, values, transport=transport)
        times.append((time.perf_counter() - started) * 1000)
        assert outcome.ok, outcome.reason
    print(f"connector_call, API answering at once: n={len(times)} "
          f"p50={pct(times, .5):.3f} ms p99={pct(times, .99):.3f} ms "
          f"mean={statistics.fmean(times):.3f} ms")
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far (Linux ``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SlowApi:
    """The demo orders API's answer for order 10023, after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:
                time.sleep(delay)
                body = (b'{"order": {"number": "10023", "status": "Shipped", "carrier": "UPS",'
                        b' "tracking_number": "1Z999AA10123456784"}}')
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def isolation(args: argparse.Namespace) -> int:
    import bench_chat as bc

    args.experiment, args.fake_bot = "", False
    args.worker_pool, args.worker_concurrency = "prefork", 2
    env = bc.server_env(args)
    env["CONNECTOR_ALLOW_PRIVATE_NETWORKS"] = "1"
    env["CONNECTOR_QUEUE"] = "" if args.inline else "connectors"
    bc.BENCH_DATABASE = args.database_url.rsplit("/", 1)[-1]
    if not args.skip_setup:
        bc.recreate_database(args.database_url)
        bc.prepare(env, fake_bot=False)
    bc.setup_django(env)
    api = SlowApi(args.delay)
    from django.db import close_old_connections

    from knowledge.models import Connector

    connector = Connector.objects.get(name="Order status")
    connector.url_template = f"http://{api.host}/orders/{{order_number}}?email={{email}}"
    connector.allowed_hosts = [api.host]
    connector.timeout_seconds = args.delay + 2
    connector.save()
    close_old_connections()
    stack = bc.start_stack(args, env)
    lookups = None
    if not args.inline:
        log = Path(args.log_dir) / "connectors.log"
        with log.open("wb") as out:
            lookups = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "supportdesk", "worker", "-Q",
                 "connectors", "--pool", "threads", "--concurrency", "16", "--loglevel",
                 "warning", "--without-gossip", "--without-mingle", "--without-heartbeat",
                 "--hostname", f"bench-connectors-{os.getpid()}@%h"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )
        time.sleep(5)
    try:
        return asyncio.run(_isolation(args, bc, stack.base_url,
                                      lookups.pid if lookups is not None else None))
    finally:
        with contextlib.suppress(Exception):
            stack.stop()
        if lookups is not None:
            lookups.terminate()
            lookups.wait(timeout=20)


async def _isolation(args: argparse.Namespace, bc, base_url: str, worker: int | None) -> int:
    warm = await bc.run_phase("warm-up", 4, 10, bc.chat_client, base_url)
    if warm.errors:
        print("warm-up failed:", warm.errors[:3])
        return 1
    slow = bc.Phase("order lookups (slow API)", args.slow_clients)
    stop = asyncio.Event()

    async def slow_client(index: int) -> None:
        ((conversation_id, token),) = await asyncio.to_thread(bc.open_conversations, 1)
        ws = await bc._connect(bc.ws_base(base_url) + "/ws/chat/", base_url)
        try:
            await bc._join(ws, conversation_id, token)
            while not stop.is_set():
                if await bc._one_turn(ws, ORDER_TEXT, slow) != "reply":
                    break
        finally:
            await ws.close()

    if args.slow_clients:
        # The connector worker loads the bot (classifier, embeddings) on its first turn: warm
        # it up before measuring.
        warm_lookups = bc.Phase("warm-up lookups", 1)
        bc.REPLY_TIMEOUT = 180
        ((conversation_id, token),) = await asyncio.to_thread(bc.open_conversations, 1)
        ws = await bc._connect(bc.ws_base(base_url) + "/ws/chat/", base_url)
        try:
            await bc._join(ws, conversation_id, token)
            for _ in range(3):
                await bc._one_turn(ws, ORDER_TEXT, warm_lookups)
        finally:
            await ws.close()
        print(warm_lookups.line())
        bc.REPLY_TIMEOUT = 60
    cpu_before = cpu_seconds(worker) if worker else 0.0
    lookups = [asyncio.create_task(slow_client(i)) for i in range(args.slow_clients)]
    await asyncio.sleep(0.5)
    chat = await bc.run_phase("other conversations", args.clients, args.messages,
                              bc.chat_client, base_url)
    stop.set()
    await asyncio.gather(*lookups, return_exceptions=True)
    if worker:
        print(f"connector worker CPU while measured: {cpu_seconds(worker) - cpu_before:.2f} s "
              f"for {len(slow.latencies)} lookups")
    mode = "in the bot's task" if args.inline else "on the connector queue"
    print(f"connector calls {mode}; API delay {args.delay:.1f} s")
    print(chat.line())
    print(slow.line())
    if slow.errors:
        print("  lookup errors:", slow.errors[:3])
    if chat.errors:
        print("  errors:", chat.errors[:3])
    met = "yes" if chat.pct(0.99) < 200 else "NO"
    print(f"other conversations at {args.clients} clients, p99 < 200 ms: "
          f"{chat.pct(0.99):.1f} ms  {met}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("overhead")
    one.add_argument("--calls", type=int, default=3000)
    two = sub.add_parser("isolation")
    two.add_argument("--delay", type=float, default=2.5)
    two.add_argument("--clients", type=int, default=20)
    two.add_argument("--messages", type=int, default=40)
    two.add_argument("--slow-clients", type=int, default=2)
    two.add_argument("--inline", action="store_true")
    two.add_argument("--database-url",
                     default="postgres://postgres@127.0.0.1:5432/sd_h13_bench")
    two.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    two.add_argument("--skip-setup", action="store_true")
    two.add_argument("--log-dir", default="/tmp/sd_bench_connectors")
    args = parser.parse_args()
    return overhead(args) if args.command == "overhead" else isolation(args)


if __name__ == "__main__":
    sys.exit(main())
