"""Schemathesis against the served OpenAPI schema (``/api/schema/``): generated requests, valid
and invalid, to every operation with a token of a user in all three roles; none may answer
with a server error. Examples are bounded so that the test runs in about a minute."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from api import services as api_services
from chat import services as chat_services
from chat.models import Label, Widget
from knowledge import services as knowledge_services
from knowledge.models import Intent

from .conftest import make_user

MAX_EXAMPLES = 20


# The schema as the project serves it, bound to the project's WSGI application: the generated
# requests run in this process, inside each test's database transaction.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture
def same_connection() -> Iterator[None]:
    """Keeps Django from closing the database connection around each request, as its test
    client does: the connection holds the test's open transaction (PostgreSQL)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def everyone_token(db, same_connection) -> str:
    """A token whose user has every role, so that the generated calls reach the code behind
    the role checks; and a little data for them to find."""
    user = make_user("all-roles", "agents", "managers", "admins")
    widget = Widget.objects.create(public_key="fuzz", name="Fuzz", allowed_origins=["self"])
    conversation, _ = chat_services.conversation_start(widget=widget)
    chat_services.conversation_claim(conversation=conversation, agent=user)
    chat_services.agent_message_create(conversation=conversation, agent=user, text="Hello")
    conversation.labels.add(Label.objects.create(name="vip"))
    intent = Intent.objects.create(slug="refund", name="Refund")
    knowledge_services.article_create(
        actor=user, title="Refunds", body="In 14 days.", status="published", intents=[intent]
    )
    return api_services.token_create(user=user, name="schemathesis")[1]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_server_error(case, everyone_token):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {everyone_token}"},
        checks=[not_a_server_error],
    )
