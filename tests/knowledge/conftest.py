"""Fixtures for the knowledge admin tests: people in each role, and a record of invalidations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group, User

from accounts.roles import ADMINS, AGENTS, MANAGERS
from knowledge.changes import taxonomy_changed


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
def invalidations() -> Iterator[list[str]]:
    """Counts ``knowledge.changes.taxonomy_changed`` signals (each sent on commit)."""
    calls: list[str] = []

    def count(**kwargs: object) -> None:
        calls.append("x")

    taxonomy_changed.connect(count, dispatch_uid="test-invalidations")
    yield calls
    taxonomy_changed.disconnect(dispatch_uid="test-invalidations")
