"""What ``load_demo`` writes to the knowledge tables, as a comparable snapshot.

``tests/supportdesk/data/demo_snapshot.json`` was written by running this module against the
code before the demo moved from Python literals to a JSON export (commit cd88f6d)::

    SQLITE_PATH=/tmp/demo.sqlite3 .venv/bin/python manage.py migrate -v0
    SQLITE_PATH=/tmp/demo.sqlite3 .venv/bin/python manage.py load_demo --traffic-days 0 -v0
    SQLITE_PATH=/tmp/demo.sqlite3 .venv/bin/python -m tests.supportdesk.demo_snapshot --write

so ``test_load_demo`` can check that loading through the import service creates the same rows.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

SNAPSHOT_PATH = Path(__file__).parent / "data" / "demo_snapshot.json"
# Literal values kept beside the digests, so a failure shows a readable difference.
SAMPLE_PHRASES_PER_INTENT = 3
SAMPLE_ARTICLE_TITLES = 3


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def demo_snapshot() -> dict[str, Any]:
    """Counts, every intent's fields, every signal, every article's fields with a digest of
    its body, and a sample of literal phrases and bodies."""
    from chat.models import Widget
    from knowledge.models import Article, EscalationSignal, Intent, TrainingPhrase

    intents = {}
    for intent in Intent.objects.order_by("slug"):
        phrases = sorted(intent.phrases.values_list("text", flat=True))
        intents[intent.slug] = {
            "name": intent.name,
            "description": intent.description,
            "escalation_policy": intent.escalation_policy,
            "required_details": intent.required_details,
            "is_active": intent.is_active,
            "phrase_count": len(phrases),
            "phrases_digest": _digest(phrases),
            "phrases_sample": phrases[:SAMPLE_PHRASES_PER_INTENT],
        }
    articles = {}
    for article in Article.objects.order_by("title"):
        articles[article.title] = {
            "status": article.status,
            "intents": sorted(article.intents.values_list("slug", flat=True)),
            "body_digest": _digest(article.body),
        }
    sample_titles = sorted(articles)[:SAMPLE_ARTICLE_TITLES]
    widget = Widget.objects.filter(public_key="demo").values(
        "name", "allowed_origins", "greeting", "is_active"
    ).first()
    return {
        # Creation order: the classifier's training reads the phrases in this order.
        "intents_in_creation_order": list(
            Intent.objects.order_by("pk").values_list("slug", flat=True)
        ),
        "phrases_in_creation_order_digest": _digest(
            list(TrainingPhrase.objects.order_by("pk").values_list("intent__slug", "text"))
        ),
        "signals_in_creation_order": list(
            EscalationSignal.objects.order_by("pk").values_list("phrase", flat=True)
        ),
        "articles_in_creation_order": list(
            Article.objects.order_by("pk").values_list("title", flat=True)
        ),
        "counts": {
            "intents": Intent.objects.count(),
            "phrases": TrainingPhrase.objects.count(),
            "signals": EscalationSignal.objects.count(),
            "articles": Article.objects.count(),
            "article_links": Article.intents.through.objects.count(),
        },
        "intents": intents,
        "signals": sorted(
            EscalationSignal.objects.values_list("phrase", "category", "is_active")
        ),
        "articles": articles,
        "article_bodies_sample": {
            title: Article.objects.get(title=title).body for title in sample_titles
        },
        "widget": widget,
    }


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
    django.setup()
    snapshot = json.loads(json.dumps(demo_snapshot()))  # tuples as lists, as read back
    if "--write" in sys.argv:
        SNAPSHOT_PATH.write_text(json.dumps(snapshot, indent=1, ensure_ascii=False) + "\n")
    else:
        print(json.dumps(snapshot["counts"]))
