"""Fixtures of the console tests: staff users in their groups, and conversations built through
the chat services (started, written to, handed over by a bot turn)."""

from __future__ import annotations

import itertools
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.roles import ADMINS, AGENTS, MANAGERS
from chat.bot.types import TurnResult
from tests.chat.conftest import turn_result

_numbers = itertools.count(1)


def make_user(role: str | None, username: str | None = None):
    user = get_user_model().objects.create_user(
        username=username or f"{role or 'nobody'}{next(_numbers)}", password="pw-for-tests-2026"
    )
    if role:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user


@pytest.fixture
def agent(db):
    return make_user(AGENTS, "agent-ann")


@pytest.fixture
def other_agent(db):
    return make_user(AGENTS, "agent-bob")


@pytest.fixture
def admin_user(db):
    return make_user(ADMINS, "admin-amy")


@pytest.fixture
def manager(db):
    return make_user(MANAGERS, "manager-max")


@pytest.fixture
def widget(db):
    from chat.models import Widget

    return Widget.objects.create(
        public_key=f"w{uuid.uuid4().hex[:10]}",
        name="Shop",
        allowed_origins=["self"],
        greeting="Hello",
    )


def bot_turn(**overrides) -> TurnResult:
    """A real TurnResult for a bot reply with entities, as the console shows them."""
    values = {
        "reply_text": "Your parcel ships in two days.",
        "confidence": 0.82,
        "top_intents": [("order_status", 0.82)],
        "entities": {
            "order_number": "55102",
            "order_numbers": ["55102"],
            "money": [{"text": "$40", "amount": "40", "currency": "USD"}],
        },
        "articles": [],
        "dialog_state": {},
    }
    values.update(overrides)
    return turn_result(**values)


def handoff_turn(reason: str = "The customer mentions a lawyer", category: str = "legal"):
    return bot_turn(
        decision="handoff",
        reply_text="I am passing you to a colleague.",
        intent="complaint",
        sentiment="negative",
        handoff_reason=reason,
        handoff_category=category,
    )


def start_conversation(widget, *texts: str):
    """A conversation with customer messages stored through the service (bot not queued)."""
    from chat import services

    conversation, _token = services.conversation_start(widget=widget)
    messages = []
    for text in texts:
        message, _ = services.message_create_incoming(
            conversation=conversation, text=text, client_id=uuid.uuid4(), queue_bot=False
        )
        messages.append(message)
    conversation.refresh_from_db()
    return conversation, messages


def handed_over(widget, text: str = "I will call my lawyer about order 55102"):
    """A conversation whose bot turn handed it to the agents' queue."""
    from chat import services

    conversation, (message,) = start_conversation(widget, text)
    services.bot_turn_record(message=message, result=handoff_turn())
    conversation.refresh_from_db()
    return conversation


@pytest.fixture
def waiting_conversation(widget):
    return handed_over(widget)
