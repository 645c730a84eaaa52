"""Two agents claim one conversation at the same moment on a SQLite file named by
``DATABASE_URL`` (not only the default file): one owns it, the other reads who does, and
nobody gets "database is locked"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = r"""
import json, threading, django
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from chat import services
from chat.models import Conversation, ConversationStatus, Widget
assert connection.vendor == "sqlite"
User = get_user_model()
ann = User.objects.create_user("ann", password="x-2026-pw")
bob = User.objects.create_user("bob", password="x-2026-pw")
widget = Widget.objects.create(public_key="w1", name="Shop", allowed_origins=["self"])
results = {}
for round_ in range(5):
    conversation, _ = services.conversation_start(widget=widget)
    Conversation.objects.filter(pk=conversation.pk).update(status=ConversationStatus.WAITING)
    barrier = threading.Barrier(2)

    def claim(agent):
        from django.db import connection as own
        try:
            mine = Conversation.objects.get(pk=conversation.pk)
            barrier.wait()
            services.conversation_claim(conversation=mine, agent=agent)
            results.setdefault(round_, []).append("ok")
        except Exception as exc:
            results.setdefault(round_, []).append(f"{type(exc).__name__}: {exc}")
        finally:
            own.close()

    threads = [threading.Thread(target=claim, args=(a,)) for a in (ann, bob)]
    for t in threads: t.start()
    for t in threads: t.join()
    owner = Conversation.objects.get(pk=conversation.pk).assignee.username
    results[round_].append(owner)
print(json.dumps(results))
"""


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="a SQLite race: it runs in the embedded pass",
)
def test_two_agents_claiming_at_once_on_a_sqlite_file(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SQLITE_PATH")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'desk.sqlite3'}",
        DJANGO_SETTINGS_MODULE="supportdesk.settings",
        CONN_MAX_AGE="0",
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rounds = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(rounds) == 5
    for outcomes in rounds.values():
        *claims, owner = outcomes
        assert sorted(claims)[-1] == "ok" and claims.count("ok") == 1, claims
        [lost] = [c for c in claims if c != "ok"]
        assert lost.startswith("ConversationStateError: Support team has already claimed"), lost
        assert "locked" not in lost
        assert owner in ("ann", "bob")
