#!/usr/bin/env python
"""The knowledge admin benchmark: article list and search on a large base, and a real import.

    .venv/bin/python bench/bench_knowledge.py   # SQLite, and PostgreSQL if DATABASE_URL is set
    .venv/bin/python bench/bench_knowledge.py --requests 50

For each database it builds a base of 100 intents x 100 phrases and 5,000 articles through
the JSON import service (timed), then times, through the Django test client as an admin, the
article list (first and a deep page), a search, and a search with status and intent filters:
p50 and p95 over N requests each. Last, on an empty base, it imports the Banking77 training
CSV (``/work/shared/eval/banking77_train.csv``, read at run time, never copied) through
``phrases_import_csv`` and trains a classifier on it (Celery eager, in this process), and
reports the seconds of each and the model's cross-validated accuracy.

SQLite runs in a temporary file; PostgreSQL in a database of its own
(``<DATABASE_URL's name>_kbench``), dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BANKING77 = Path(os.environ.get("BANKING77_CSV", "/work/shared/eval/banking77_train.csv"))
N_INTENTS, N_PHRASES, N_ARTICLES = 100, 100, 5000

WORDS = (
    "order parcel delivery refund return exchange size colour jacket tent boots backpack "
    "warranty repair invoice payment card charge account password login address shipping "
    "courier tracking store pickup voucher discount sale price stock restock email phone "
    "hours weekend holiday damaged missing late early cancel change update confirm receipt "
    "label box carrier customs duty international express standard free threshold policy "
    "days weeks member points reward gift wrap note message fabric waterproof zip seam "
    "sleeping bag stove lantern rope helmet glove sock fleece liner pole stake guy line"
).split()


def fake_text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def build_document(rng: random.Random) -> dict:
    intents = []
    for i in range(N_INTENTS):
        slug = f"intent_{i:03d}"
        phrases = list(
            dict.fromkeys(f"{fake_text(rng, 6)} case {i} variant {j}" for j in range(N_PHRASES))
        )
        intents.append({"slug": slug, "name": f"Intent {i}", "description": "", "phrases": phrases,
                        "escalation_policy": "never", "required_details": [], "is_active": True})
    articles = []
    for a in range(N_ARTICLES):
        paragraphs = "\n\n".join(fake_text(rng, 60) for _ in range(4))
        articles.append({
            "title": f"{fake_text(rng, 3).title()} guide {a:04d}",
            "body": f"# Guide {a}\n\n{paragraphs}\n",
            "status": "published" if a % 3 else "draft",
            "intents": [f"intent_{a % N_INTENTS:03d}"],
        })
    signals = [{"phrase": f"signal {n}", "category": "other", "is_active": True} for n in range(20)]
    return {"format": "supportdesk-knowledge", "version": 1, "intents": intents,
            "signals": signals, "articles": articles}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_requests(client, url: str, params: dict, n: int) -> dict:
    client.get(url, params)  # warm
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url, params)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
    }


def child(requests: int) -> dict:
    """Runs inside a fresh process whose settings point at the benchmark database."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from knowledge import services
    from knowledge.models import Article, ClassifierModel, EscalationSignal, Intent
    from supportdesk.celery import app

    setup_test_environment()
    app.conf.task_always_eager = True
    call_command("migrate", verbosity=0)
    admin = User.objects.create_user("bench-admin")
    admin.groups.add(Group.objects.get_or_create(name="admins")[0])

    result: dict = {"database": connection.vendor}
    rng = random.Random(7)
    doc = json.dumps(build_document(rng)).encode()
    start = time.perf_counter()
    services.taxonomy_import_json(actor=admin, data=doc)
    result["json_import_s"] = round(time.perf_counter() - start, 2)
    result["articles"] = Article.objects.count()

    client = Client()
    client.force_login(admin)
    url = "/knowledge/articles/"
    result["article_list_first_page"] = time_requests(client, url, {}, requests)
    result["article_list_page_150"] = time_requests(client, url, {"page": 150}, requests)
    result["search_common_word"] = time_requests(client, url, {"q": "waterproof"}, requests)
    result["search_rare_phrase"] = time_requests(client, url, {"q": "guide 4321"}, requests)
    result["search_with_filters"] = time_requests(
        client, url, {"q": "tent", "status": "published", "intent": "intent_042"}, requests
    )
    htmx = Client(headers={"HX-Request": "true"})
    htmx.force_login(admin)
    result["htmx_search_fragment"] = time_requests(htmx, url, {"q": "refund"}, requests)
    result["intent_list_100x100"] = time_requests(client, "/knowledge/intents/", {}, requests)

    # Banking77: an empty base, the CSV import, then training.
    Article.objects.all().delete()
    Intent.objects.all().delete()
    EscalationSignal.objects.all().delete()
    if BANKING77.exists():
        data = BANKING77.read_bytes()
        start = time.perf_counter()
        imported = services.phrases_import_csv(actor=admin, data=data)
        result["banking77_import_s"] = round(time.perf_counter() - start, 2)
        result["banking77_counts"] = imported.counts
        try:
            import knowledge.training  # noqa: F401
        except ImportError:
            result["banking77_training"] = "knowledge.training is not available"
        else:
            start = time.perf_counter()
            model = services.classifier_train(actor=admin)
            model = ClassifierModel.objects.get(pk=model.pk)
            result["banking77_train_s"] = round(time.perf_counter() - start, 2)
            result["banking77_model_status"] = model.status
            result["banking77_cv_accuracy"] = (model.metrics or {}).get("accuracy")
            result["banking77_total_s"] = round(
                result["banking77_import_s"] + result["banking77_train_s"], 2
            )
    else:
        result["banking77"] = f"{BANKING77} not found"
    return result


def run_child(env: dict, requests: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--requests", str(requests)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        return {"error": out.stderr[-3000:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def postgres_env(base: dict) -> tuple[dict, callable]:
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(base["DATABASE_URL"])
    name = f"{config['NAME']}_kbench"
    admin_url = base["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

    env = dict(base)
    env["DATABASE_URL"] = base["DATABASE_URL"].rsplit("/", 1)[0] + "/" + name
    return env, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30, help="requests per measured URL")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.requests)))
        return

    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    base.update(
        CELERY_TASK_ALWAYS_EAGER="1", LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(base, SQLITE_PATH=str(Path(tmp) / "bench.sqlite3"))
        results.append(run_child(env, args.requests))
    if os.environ.get("DATABASE_URL") and not args.sqlite_only:
        env, drop = postgres_env(dict(base, DATABASE_URL=os.environ["DATABASE_URL"]))
        try:
            results.append(run_child(env, args.requests))
        finally:
            drop()
    for result in results:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
