"""supportdesk.health: the worker, beat and the oldest owed answer in /healthz, and the
console's banner while the bot is down."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from chat import liveness, services, tasks
from chat.models import Widget
from supportdesk.celery import app

pytestmark = pytest.mark.django_db


@pytest.fixture
def with_worker_processes(settings) -> Iterator[None]:
    """Tasks go to worker processes (not eager), whose heartbeats the cache keeps."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"health-{uuid.uuid4()}"}}
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        app.conf.task_always_eager = previous
        cache.clear()


def owe(*, seconds_ago: float) -> None:
    widget, _ = Widget.objects.get_or_create(public_key="health", defaults={"name": "Health"})
    conversation, _ = services.conversation_start(widget=widget)
    services.message_create_incoming(
        conversation=conversation, text="anyone there?", client_id=uuid.uuid4(),
        at=timezone.now() - timedelta(seconds=seconds_ago), queue_bot=False,
    )


def test_no_worker_or_beat_seen_is_unhealthy(client, with_worker_processes):
    response = client.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert (checks["worker"]["ok"], checks["worker"]["error"]) == (False, "never seen")
    assert checks["beat"]["ok"] is False


def test_embedded_celery_reports_no_beat_and_is_healthy_without_one(client, settings):
    """Eager Celery (the embedded setup) has no beat: /healthz neither claims its state nor
    fails for its absence, even with a stale beat heartbeat left in the cache."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"health-{uuid.uuid4()}"}}
    assert app.conf.task_always_eager
    cache.set(liveness.SEEN_KEY.format("beat"), timezone.now().timestamp() - 3600)
    response = client.get("/healthz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert "beat" not in checks and "beat" not in response.content.decode()
    assert checks["worker"]["backend"] == "eager"
    cache.clear()


def test_with_worker_processes_beat_is_checked(client, with_worker_processes):
    tasks.heartbeat()  # the worker is fine; beat was never seen
    response = client.get("/healthz")
    assert response.status_code == 503
    beat = response.json()["checks"]["beat"]
    assert (beat["ok"], beat["backend"], beat["error"]) == (False, "celery", "never seen")


def test_the_heartbeat_shows_worker_and_beat(client, with_worker_processes):
    tasks.record_beat_publish(sender="chat.tasks.answer_message")  # not beat's heartbeat
    assert liveness.seen_ago("beat") is None
    tasks.record_beat_publish(sender=tasks.HEARTBEAT_TASK)
    tasks.heartbeat()
    checks = client.get("/healthz").json()["checks"]
    assert checks["worker"]["ok"] and checks["beat"]["ok"]
    assert 0 <= checks["worker"]["age_seconds"] < 60


def test_a_stale_worker_is_reported_with_its_age(client, with_worker_processes, settings):
    settings.HEALTH_PROCESS_STALE_SECONDS = 60
    cache.set(liveness.SEEN_KEY.format("worker"), timezone.now().timestamp() - 75)
    tasks.record_beat_publish(sender=tasks.HEARTBEAT_TASK)
    checks = client.get("/healthz").json()["checks"]
    assert checks["worker"]["ok"] is False and checks["worker"]["age_seconds"] >= 75
    assert checks["beat"]["ok"] is True


def test_an_answer_owed_past_the_limit_is_unhealthy(client, settings):
    settings.HEALTH_OWED_ANSWER_MAX_SECONDS = 120
    owe(seconds_ago=30)
    check = client.get("/healthz").json()["checks"]["owed_answers"]
    assert check["ok"] is True and 29 <= check["age_seconds"] <= 60
    owe(seconds_ago=200)
    response = client.get("/healthz")
    check = response.json()["checks"]["owed_answers"]
    assert response.status_code == 503
    assert check["ok"] is False and check["age_seconds"] >= 200


def test_the_console_shows_a_banner_while_the_bot_is_down(client, with_worker_processes):
    from accounts.roles import AGENTS
    from tests.chat.console.conftest import make_user

    client.force_login(make_user(AGENTS, "banner-agent"))
    page = client.get(reverse("chat:console")).content.decode()
    assert 'data-sd="bot-down"' in page
    tasks.heartbeat()
    page = client.get(reverse("chat:console")).content.decode()
    assert 'data-sd="bot-down"' not in page
