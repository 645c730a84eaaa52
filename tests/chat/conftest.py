"""Fixtures for the chat tests: a widget, a conversation, staff users and a fake bot."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Group, User

from chat import services
from chat.bot.types import TurnResult
from chat.models import Widget


def turn_result(**overrides) -> TurnResult:
    values = {
        "decision": "reply",
        "reply_text": "Your order is on its way.",
        "intent": "order_status",
        "confidence": 0.9,
        "top_intents": [("order_status", 0.9)],
        "is_fallback": False,
        "entities": {},
        "sentiment": "neutral",
        "urgency": "low",
        "signals": [],
        "articles": [{"id": 1, "title": "Tracking your order", "score": 0.8}],
        "handoff_reason": "",
        "handoff_category": "",
        "dialog_state": {"turns": 1},
        "backend": "offline",
        "trace": {"stages": []},
        "total_ms": 3.0,
    }
    values.update(overrides)
    return TurnResult(**values)


@dataclass
class FakeBot:
    """Stands in for the pipeline: "lawyer" hands over, "mumble" falls back, else replies."""

    calls: list[str] = field(default_factory=list)
    deltas: list[str] = field(default_factory=list)

    def __call__(self, *, text, context, on_delta=None, call_connector=None) -> TurnResult:
        self.calls.append(text)
        if "lawyer" in text:
            return turn_result(
                decision="handoff",
                reply_text="I am passing you to a colleague who can help with this.",
                intent="complaint",
                handoff_reason="legal threat",
                handoff_category="legal",
                sentiment="negative",
            )
        if "mumble" in text:
            return turn_result(
                intent="general_inquiry",
                confidence=0.1,
                is_fallback=True,
                reply_text="Could you say that another way?",
            )
        if on_delta is not None and "stream" in text:
            on_delta("Streaming")
            self.deltas.append("Streaming")
        return turn_result()


@pytest.fixture
def fake_bot(monkeypatch) -> FakeBot:
    bot = FakeBot()
    monkeypatch.setattr("chat.tasks.answer_turn", bot)
    return bot


@pytest.fixture
def widget(db) -> Widget:
    return Widget.objects.create(
        public_key="acme",
        name="Acme",
        greeting="Hello <b>there</b>",
        allowed_origins=["https://shop.example", "self"],
    )


@pytest.fixture
def conversation_and_token(widget):
    return services.conversation_start(widget=widget)


@pytest.fixture
def conversation(conversation_and_token):
    return conversation_and_token[0]


def make_user(username: str, group: str | None) -> User:
    user = User.objects.create_user(username=username, password="pw-123456789", first_name="")
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def agent(db) -> User:
    user = make_user("alex", "agents")
    user.first_name = "Alex"
    user.save()
    return user


@pytest.fixture
def other_agent(db) -> User:
    return make_user("sam", "agents")
