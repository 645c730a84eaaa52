"""Fixtures for the knowledge admin tests: people in each role, and a record of invalidations."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group, User

from supportdesk.roles import ADMINS, AGENTS, MANAGERS


def make_user(role: str | None, username: str) -> User:
    user = User.objects.create_user(username=username)  # force_login needs no password
    if role:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user


@pytest.fixture
def admin_user(db) -> User:
    return make_user(ADMINS, "ada")


@pytest.fixture
def agent_user(db) -> User:
    return make_user(AGENTS, "agnes")


@pytest.fixture
def manager_user(db) -> User:
    return make_user(MANAGERS, "manny")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def htmx_headers() -> dict[str, str]:
    return {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def invalidations(monkeypatch) -> Iterator[list[str]]:
    """Counts ``chat.bot.taxonomy_invalidate`` calls (each runs on commit)."""
    calls: list[str] = []
    try:
        import chat.bot as bot
    except ImportError:  # the pipeline package is not there yet: stand in for it
        bot = types.ModuleType("chat.bot")
        monkeypatch.setitem(sys.modules, "chat.bot", bot)
    monkeypatch.setattr(bot, "taxonomy_invalidate", lambda: calls.append("x"), raising=False)
    yield calls
