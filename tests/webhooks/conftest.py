"""Fixtures for the webhooks tests: a loopback receiver, a widget and people in each role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group, User

from accounts.roles import ADMINS, AGENTS
from chat import services as chat_services
from chat.models import Widget

from .receiver import Receiver


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
    """A test's endpoints roll back with it; so must the cached subscriptions."""
    from django.core.cache import cache

    from webhooks.services import SUBSCRIPTIONS_KEY

    cache.delete(SUBSCRIPTIONS_KEY)
    yield
    cache.delete(SUBSCRIPTIONS_KEY)
