"""chat.tasks with CONNECTOR_QUEUE: a turn that needs a data connector moves to that queue,
owing its answer until the connector queue's run stores it."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from chat import services, tasks
from chat.models import Message, OwedAnswer
from knowledge.connectors import CallOutcome
from tests.chat.conftest import turn_result

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(settings, monkeypatch):
    """Celery as with a broker (not eager), the connector queue on; records what each task's
    ``apply_async`` would queue, as (task, args, kwargs, queue)."""
    settings.CONNECTOR_QUEUE = "connectors"
    conf = tasks.answer_message.app.conf
    eager = conf.task_always_eager
    conf.task_always_eager = False
    sent = []
    for task in (tasks.answer_message, tasks.connector_fetch):
        monkeypatch.setattr(
            task, "apply_async",
            lambda args, kwargs=None, queue=None, name=task.name: sent.append(
                (name, args, kwargs or {}, queue)),
        )
    yield sent
    conf.task_always_eager = eager


def order_bot(calls, monkeypatch):
    """A pipeline that calls the "Order status" connector (id 7) once and answers its reply."""

    def bot(*, text, context, on_delta=None, call_connector=None):
        outcome = call_connector(SimpleNamespace(id=7, name="Order status"),
                                 {"order_number": "55102"})
        calls.append(outcome)
        return turn_result(reply_text=outcome.reply)

    monkeypatch.setattr(tasks, "answer_turn", bot)


def test_only_the_call_moves_to_the_connector_queue(conversation, queued, monkeypatch):
    """The default queue runs the pipeline up to the call; the connector queue makes the call
    only (no pipeline there); the default queue runs the turn again with its outcome."""
    calls = []
    order_bot(calls, monkeypatch)
    fetched = []
    monkeypatch.setattr(tasks, "connector_spec_by_id",
                        lambda pk: SimpleNamespace(id=pk, name="Order status"))
    monkeypatch.setattr(tasks, "connector_call", lambda spec, values: fetched.append(values)
                        or CallOutcome(connector=spec.name, method="GET", url="u", ok=True,
                                       status=200, reply="Order 55102 is Shipped."))
    message, _ = services.message_create_incoming(
        conversation=conversation, text="order 55102", client_id=uuid.uuid4(), queue_bot=False,
    )
    tasks.answer_message(message.pk)
    assert queued == [("chat.tasks.connector_fetch",
                       (message.pk, 7, {"order_number": "55102"}, []), {}, "connectors")]
    assert OwedAnswer.objects.filter(message=message).exists()  # still owed
    assert not Message.objects.filter(conversation=conversation, author="bot").exists()
    monkeypatch.setattr(tasks, "answer_turn", lambda **kw: pytest.fail("no pipeline here"))
    tasks.connector_fetch(*queued[0][1])  # the connector queue's run: the call only
    assert fetched == [{"order_number": "55102"}]
    name, args, kwargs, queue = queued[1]
    assert (name, args, queue) == ("chat.tasks.answer_message", (message.pk,), None)
    order_bot(calls, monkeypatch)
    tasks.answer_message(*args, **kwargs)  # the default queue again, with the outcome
    assert calls[-1].reply == "Order 55102 is Shipped." and len(fetched) == 1
    bot = Message.objects.get(conversation=conversation, author="bot")
    assert bot.text == "Order 55102 is Shipped."
    assert not OwedAnswer.objects.filter(message=message).exists()


def test_a_connector_gone_meanwhile_is_a_failed_call(conversation, queued, monkeypatch):
    monkeypatch.setattr(tasks, "connector_spec_by_id", lambda pk: None)
    tasks.connector_fetch(1, 7, {"order_number": "1"}, [])
    answer = queued[0][2]["answers"][0]
    assert answer["outcome"]["reason"] == "connector_gone" and not answer["outcome"]["ok"]


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
