"""chat.tasks with CONNECTOR_QUEUE: a turn that needs a data connector moves to that queue,
owing its answer until the connector queue's run stores it."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from chat import services, tasks
from chat.models import Message, OwedAnswer
from tests.chat.conftest import turn_result

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(settings, monkeypatch):
    """Celery as with a broker (not eager), the connector queue on; records apply_async."""
    settings.CONNECTOR_QUEUE = "connectors"
    conf = tasks.answer_message.app.conf
    eager = conf.task_always_eager
    conf.task_always_eager = False
    sent = []
    monkeypatch.setattr(tasks.answer_message, "apply_async",
                        lambda args, kwargs, queue: sent.append((args, kwargs, queue)))
    yield sent
    conf.task_always_eager = eager


def test_a_turn_needing_a_connector_moves_to_the_connector_queue(conversation, queued,
                                                                  monkeypatch):
    calls = []

    def bot(*, text, context, on_delta=None, call_connector=None):
        calls.append(call_connector)
        if call_connector is not None:
            call_connector(SimpleNamespace(name="Order status"), {})  # the task's: defers
        return turn_result()

    monkeypatch.setattr(tasks, "answer_turn", bot)
    message, _ = services.message_create_incoming(
        conversation=conversation, text="order 55102, pat@example.com",
        client_id=uuid.uuid4(), queue_bot=False,
    )
    tasks.answer_message(message.pk)
    assert queued == [((message.pk,), {"lookups": True}, "connectors")]
    assert OwedAnswer.objects.filter(message=message).exists()  # still owed
    assert not Message.objects.filter(conversation=conversation, author="bot").exists()
    tasks.answer_message(message.pk, lookups=True)  # the connector queue's run
    assert calls[-1] is None  # connectors are called there
    assert Message.objects.filter(conversation=conversation, author="bot").count() == 1
    assert not OwedAnswer.objects.filter(message=message).exists()


def test_without_connector_queue_connectors_are_called_in_the_task(conversation, queued,
                                                                    settings, monkeypatch):
    settings.CONNECTOR_QUEUE = ""
    calls = []

    def bot(*, text, context, on_delta=None, call_connector=None):
        calls.append(call_connector)
        return turn_result()

    monkeypatch.setattr(tasks, "answer_turn", bot)
    message, _ = services.message_create_incoming(
        conversation=conversation, text="order 55102", client_id=uuid.uuid4(), queue_bot=False,
    )
    tasks.answer_message(message.pk)
    assert calls == [None] and queued == []
    assert Message.objects.filter(conversation=conversation, author="bot").count() == 1
