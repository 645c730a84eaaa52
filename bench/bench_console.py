"""Benchmark of the agents' console list, tabs and search on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sd_console_bench \
        .venv/bin/python bench/bench_console.py [--conversations 10000] [--messages 10] \
        [--repeat 30] [--regenerate]

Creates the database if it is missing, migrates it and fills it once (in bulk, through the
ORM) with ``--conversations`` conversations of ``--messages`` messages each (customer, bot and
agent turns from a vocabulary of support words and random product codes), half of them with a
contact, a few labels, five agents; most conversations resolved, a few hundred waiting, with
agents or owed by the bot. Later runs reuse the filled database. Then it times, through the
Django test client logged in as an agent, the console page, the list fragment of each tab, a
label filter, three searches (a word, two words, a contact's e-mail) and one conversation
with its sidebar, and prints p50/p95 per URL against the 200 ms goal.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
GOAL_MS = 200.0

WORDS = (
    "order parcel refund return exchange size colour jacket parka boots tent stove sleeping "
    "bag delivery courier tracking late damaged broken missing invoice receipt charge card "
    "paypal discount code coupon loyalty points account password login email address "
    "warranty repair zipper seam waterproof rain hiking trail camping backpack strap store "
    "pickup shipping international customs duty fee cancel change update help please thanks "
    "week days yesterday today tomorrow morning evening still waiting when where why how"
).split()


def _ensure_database(url: str) -> None:
    import psycopg
    from dj_database_url import parse

    cfg = parse(url)
    admin = psycopg.connect(
        host=cfg["HOST"] or "127.0.0.1", port=cfg["PORT"] or 5432,
        user=cfg["USER"] or "postgres", password=cfg["PASSWORD"] or None,
        dbname="postgres", autocommit=True,
    )
    with admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]
        ).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(5, 16))
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), f"A-{rng.randint(10000, 99999)}")
    return " ".join(words).capitalize() + "."


def fill(conversations: int, per_conversation: int, seed: int = 14) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from accounts.roles import AGENTS
    from chat.models import (
        Author,
        Contact,
        Conversation,
        ConversationStatus,
        Label,
        Message,
        Resolution,
        Widget,
    )

    rng = random.Random(seed)
    now = timezone.now()
    group, _ = Group.objects.get_or_create(name=AGENTS)
    agents = []
    for number in range(5):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-agent-{number}")
        user.set_password("bench-pass-2026")
        user.save()
        user.groups.add(group)
        agents.append(user)
    widget, _ = Widget.objects.get_or_create(
        public_key="bench", defaults={"name": "Bench", "allowed_origins": ["self"]}
    )
    labels = [
        Label.objects.get_or_create(name=name, defaults={"color": color})[0]
        for name, color in (("vip", "#b42318"), ("bug", "#ffd33d"), ("billing", "#1a7f37"))
    ]
    contacts = Contact.objects.bulk_create(
        Contact(widget=widget, name=f"Customer {n}", email=f"customer{n}@example.com")
        for n in range(conversations // 2)
    )
    intents = ["order_status", "refund", "complaint", "shipping", "product_question"]
    rows = []
    for number in range(conversations):
        created = now - timedelta(minutes=rng.randint(1, 60 * 24 * 90))
        roll = rng.random()
        status = (
            ConversationStatus.WAITING if roll < 0.03
            else ConversationStatus.AGENT if roll < 0.06
            else ConversationStatus.BOT if roll < 0.10
            else ConversationStatus.RESOLVED
        )
        rows.append(
            Conversation(
                widget=widget,
                contact=contacts[number // 2] if number % 2 == 0 else None,
                token_hash=uuid.uuid4().hex,
                status=status,
                assignee=rng.choice(agents) if status == ConversationStatus.AGENT else None,
                intent=rng.choice(intents),
                sentiment=rng.choice(["negative", "neutral", "positive"]),
                handoff_reason="The customer asked for a person",
                handed_off_at=created + timedelta(minutes=2)
                if status != ConversationStatus.BOT else None,
                resolution=Resolution.AGENT if status == ConversationStatus.RESOLVED else "",
                resolved_at=created + timedelta(minutes=20)
                if status == ConversationStatus.RESOLVED else None,
                created_at=created,
                last_seq=per_conversation,
            )
        )
    made = Conversation.objects.bulk_create(rows, batch_size=2000)
    through = Conversation.labels.through
    through.objects.bulk_create(
        [through(conversation_id=c.pk, label_id=rng.choice(labels).pk)
         for c in made if rng.random() < 0.2],
        batch_size=5000,
    )
    authors = [Author.CUSTOMER, Author.BOT, Author.CUSTOMER, Author.AGENT]
    batch: list[Message] = []
    for conversation in made:
        for seq in range(1, per_conversation + 1):
            author = authors[(seq - 1) % len(authors)]
            batch.append(
                Message(
                    conversation_id=conversation.pk, seq=seq, author=author,
                    sender=conversation.assignee if author == Author.AGENT else None,
                    text=_sentence(rng),
                    created_at=conversation.created_at + timedelta(seconds=30 * seq),
                )
            )
        if len(batch) >= 10000:
            Message.objects.bulk_create(batch)
            batch = []
    if batch:
        Message.objects.bulk_create(batch)


def timed(client, url: str, repeat: int, **extra) -> tuple[list[float], list[float]]:
    """Wall-clock and this process's CPU milliseconds of each request (the CPU time leaves
    out PostgreSQL's and is steadier than wall-clock time on a shared machine)."""
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(url, **extra)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=10000)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is created if missing).")
    os.environ.pop("REDIS_URL", None)
    _ensure_database(url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from chat.models import Conversation, Label, Message

    setup_test_environment()
    call_command("migrate", verbosity=0)
    if args.regenerate:
        Message.objects.all().delete()
        Conversation.objects.all().delete()
    if not Conversation.objects.exists():
        started = time.perf_counter()
        fill(args.conversations, args.messages)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"filled in {time.perf_counter() - started:.0f} s")
    print(
        f"{Conversation.objects.count():,} conversations, {Message.objects.count():,} messages"
    )
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-agent-1"))
    hx = {"HTTP_HX_REQUEST": "true"}
    label = Label.objects.get(name="vip").pk
    conversation = Conversation.objects.filter(contact__isnull=False, status="agent").first()
    targets = [
        ("page (waiting tab)", "/console/", {}),
        ("list: waiting", "/console/?tab=waiting", hx),
        ("list: mine", "/console/?tab=mine", hx),
        ("list: all open", "/console/?tab=open", hx),
        ("list: resolved", "/console/?tab=resolved", hx),
        ("list: resolved, label vip", f"/console/?tab=resolved&label={label}", hx),
        ("search: refund (resolved)", "/console/?tab=resolved&q=refund", hx),
        ("search: damaged zipper (all open)", "/console/?tab=open&q=damaged+zipper", hx),
        ("search: e-mail (resolved)", "/console/?tab=resolved&q=customer4242%40example.com",
         hx),
        ("conversation + sidebar", f"/console/conversations/{conversation.pk}/", {}),
    ]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'target':38} {'p50 ms':>8} {'p95 ms':>8} {'cpu ms':>8}  goal {GOAL_MS:.0f} ms")
    for name, path, extra in targets:
        timed(client, path, 3, **extra)  # warm
        times, cpu = timed(client, path, args.repeat, **extra)
        p95 = statistics.quantiles(times, n=20)[-1]
        mark = "ok" if p95 < GOAL_MS else "OVER"
        print(f"{name:38} {statistics.median(times):8.1f} {p95:8.1f} "
              f"{statistics.median(cpu):8.1f}  {mark}")


if __name__ == "__main__":
    main()
