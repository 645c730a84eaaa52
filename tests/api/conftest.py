"""Fixtures for the API tests: a user of each role with a token, and a client that sends it."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from api import services as api_services
from chat import services as chat_services
from chat.models import Widget


def make_user(username: str, *roles: str) -> User:
    user = User.objects.create_user(username=username, password="pw-123456789")
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture(autouse=True)
def _roomy_request_budget(settings) -> None:
    """A budget no test reaches unless it sets its own: the throttle counts per user id in a
    cache that outlives a test (user ids come back after a rollback)."""
    settings.API_RATE_LIMIT = (1_000_000, 60.0)


@pytest.fixture
def client_for(db) -> Callable[..., APIClient]:
    """``client_for(user)``: an APIClient sending a fresh token of ``user``."""

    made = count(1)

    def make(user: User) -> APIClient:
        _, raw = api_services.token_create(user=user, name=f"test {next(made)}")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        client.raw_token = raw
        return client

    return make


@pytest.fixture
def agent(db) -> User:
    return make_user("ada", "agents")


@pytest.fixture
def other_agent(db) -> User:
    return make_user("bo", "agents")


@pytest.fixture
def manager(db) -> User:
    return make_user("mia", "managers")


@pytest.fixture
def admin(db) -> User:
    return make_user("ari", "admins")


@pytest.fixture
def widget(db) -> Widget:
    return Widget.objects.create(public_key="acme", name="Acme", allowed_origins=["self"])


@pytest.fixture
def conversation(widget):
    conversation, _ = chat_services.conversation_start(widget=widget)
    return conversation
