"""chat.hooks: every service announces its fact once, inside the transaction that stores it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import transaction

from chat import services
from chat.hooks import HookEvent, chat_event
from chat.models import Resolution

from .conftest import turn_result

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard() -> Iterator[list[tuple[str, int | None, bool]]]:
    """(event, message seq, whether a transaction was open) per announcement."""
    calls: list[tuple[str, int | None, bool]] = []

    def listen(*, event, conversation, message, at, **kwargs) -> None:
        assert at is not None and conversation.pk
        calls.append((str(event), message.seq if message else None,
                      transaction.get_connection().in_atomic_block))

    chat_event.connect(listen, dispatch_uid="test-hooks")
    yield calls
    chat_event.disconnect(dispatch_uid="test-hooks")


def test_each_fact_is_announced_once_in_its_transaction(widget, agent, other_agent, heard):
    conversation, _ = services.conversation_start(widget=widget)
    message, _ = services.message_create_incoming(
        conversation=conversation, text="I will call my lawyer", client_id=None,
        queue_bot=False,
    )
    services.bot_turn_record(message=message, result=turn_result(
        decision="handoff", reply_text="A colleague will help.", handoff_reason="legal",
        handoff_category="legal",
    ))
    services.conversation_claim(conversation=conversation, agent=agent)
    services.agent_message_create(conversation=conversation, agent=agent, text="Hello")
    # Both agents show the same public name here: the transfer tells the customer nothing.
    services.conversation_assign(conversation=conversation, agent=agent, to=other_agent)
    services.conversation_resolve(conversation=conversation, resolution=Resolution.AGENT,
                                  agent=other_agent)
    services.conversation_rate(conversation=conversation, score=5)
    assert all(in_transaction for _, _, in_transaction in heard)
    assert [(event, seq) for event, seq, _ in heard] == [
        (HookEvent.CONVERSATION_CREATED, None),
        (HookEvent.MESSAGE_CREATED, 1),
        (HookEvent.MESSAGE_CREATED, 2),  # the handoff notice
        (HookEvent.CONVERSATION_HANDOFF, None),
        (HookEvent.CONVERSATION_ASSIGNED, None),
        (HookEvent.MESSAGE_CREATED, 3),  # "Alex joined the conversation."
        (HookEvent.MESSAGE_CREATED, 4),
        (HookEvent.CONVERSATION_ASSIGNED, None),
        (HookEvent.CONVERSATION_RESOLVED, None),
        (HookEvent.RATING_CREATED, None),
    ]


def test_a_resent_message_or_a_repeated_turn_announces_nothing_again(conversation, heard):
    message, _ = services.message_create_incoming(
        conversation=conversation, text="hi", client_id="8d3e0a5e-0000-4000-8000-000000000001",
        queue_bot=False,
    )
    services.message_create_incoming(
        conversation=conversation, text="hi", client_id="8d3e0a5e-0000-4000-8000-000000000001",
        queue_bot=False,
    )
    services.bot_turn_record(message=message, result=turn_result())
    services.bot_turn_record(message=message, result=turn_result())
    assert [event for event, _, _ in heard] == [HookEvent.MESSAGE_CREATED] * 2


def test_a_receiver_that_fails_rolls_the_fact_back(conversation):
    def fail(**kwargs) -> None:
        raise RuntimeError("the outbox could not be written")

    chat_event.connect(fail, dispatch_uid="test-hooks-fail")
    try:
        with pytest.raises(RuntimeError):
            services.conversation_rate(conversation=conversation, score=3)
    finally:
        chat_event.disconnect(dispatch_uid="test-hooks-fail")
    conversation.refresh_from_db()
    assert conversation.rating is None
