"""Fixtures for the webhooks tests: a loopback receiver, a widget and people in each role."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from accounts.roles import ADMINS, AGENTS
from chat import services as chat_services
from chat.models import Widget
from tests.conftest import ROOT, _subprocess_env, _wait_for

from .receiver import Receiver

QUEUE = "webhooks"


def make_user(role: str | None, username: str, email: str = "") -> User:
    user = User.objects.create_user(username=username, email=email)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def admin_user(db) -> User:
    return make_user(ADMINS, "ada", "ada@desk.example")


@pytest.fixture
def agent_user(db) -> User:
    return make_user(AGENTS, "agnes")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def widget(db) -> Widget:
    return Widget.objects.create(public_key="acme", name="Acme",
                                 allowed_origins=["https://shop.example"])


@pytest.fixture
def conversation(widget):
    return chat_services.conversation_start(widget=widget)[0]


@pytest.fixture
def loopback_allowed(settings):
    """Receivers on this machine are loopback addresses: allowed for the test."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    return settings


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def _no_cached_subscriptions() -> Iterator[None]:
    """A test's endpoints roll back with it; so must what is kept of them (the subscriptions
    this process read, the disabled-endpoint notice, the marks of queued delivery tasks)."""
    from django.core.cache import cache

    from webhooks import services
    from webhooks.services import DISABLED_NOTICE_KEY

    def marks_clear() -> None:
        services.queued_marks_clear(range(1, 1000))

    def renew() -> None:
        # A new generation: every process (a Daphne or worker the test started too) reads the
        # endpoints again; the test's rows are flushed or rolled back without a signal.
        services._generation_set(uuid.uuid4().hex)
        services._read = None
        # The endpoints a rolled-back test transaction left to queue at the next commit.
        services._pending.queue = None

    cache.delete(DISABLED_NOTICE_KEY)
    marks_clear()
    renew()
    yield
    cache.delete(DISABLED_NOTICE_KEY)
    marks_clear()
    renew()


@pytest.fixture
def deliver_on_commit():
    """Deliveries queued on commit are sent at once in the test's thread (through the
    services' own ``register_queue`` door), not in the eager mode's thread: SQLite's shared
    in-memory test database locks tables without waiting for another thread."""
    from webhooks import services
    from webhooks.delivery import endpoint_deliver
    from webhooks.tasks import deliver_endpoint_enqueue

    services.register_queue(lambda endpoint_id, countdown: endpoint_deliver(endpoint_id))
    yield
    services.register_queue(deliver_endpoint_enqueue)


@pytest.fixture(scope="session")
def webhook_worker_process(django_db_setup, django_db_blocker, artifacts_dir: Path
                           ) -> Iterator[subprocess.Popen]:
    from supportdesk.celery import app

    with django_db_blocker.unblock():
        env = _subprocess_env()
    env.update(WEBHOOK_QUEUE=QUEUE, WEBHOOK_ALLOW_PRIVATE_NETWORKS="1",
               WEBHOOK_RETRY_BASE_SECONDS="0.2", WEBHOOK_RETRY_MAX_SECONDS="1",
               WEBHOOK_TIMEOUT_SECONDS="5")
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(QUEUE)
    log = artifacts_dir / "webhooks-worker.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "supportdesk", "worker", "-Q", QUEUE,
         "--pool", "threads", "--concurrency", "4", "--loglevel", "info",
         "--without-gossip", "--without-mingle", "--without-heartbeat",
         "--hostname", f"webhooks-test-{time.time_ns()}@%h", "--logfile", str(log)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(lambda: log.exists() and " ready." in log.read_text(errors="replace"),
                  60, "the webhooks worker", log)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def webhook_worker(webhook_worker_process, transactional_db, settings):
    """Deliveries go to the worker (not eager), to the queue it consumes. (The autouse
    ``_celery_eager_unless_worker``, set up before and torn down after this, restores it.)"""
    from supportdesk.celery import app

    assert webhook_worker_process.poll() is None, "the webhooks worker died"
    app.conf.task_always_eager = False
    settings.WEBHOOK_QUEUE = QUEUE
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    return webhook_worker_process
