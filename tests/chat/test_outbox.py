"""chat.outbox and the owed answers the services keep: stored with the message, settled once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from celery.app.base import Celery
from django.db import transaction
from django.utils import timezone

from chat import outbox, services, tasks
from chat.models import ConversationStatus, Message, OwedAnswer
from tests.chat.conftest import turn_result

pytestmark = pytest.mark.django_db


def send(conversation, text="where is my order?", **options):
    message, _ = services.message_create_incoming(
        conversation=conversation, text=text, client_id=uuid.uuid4(), **options
    )
    return message


def test_the_message_and_its_owed_answer_commit_together(
    conversation, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(outbox, "_queue", lambda message_id, _conv: queued.append(message_id))
    with pytest.raises(RuntimeError), transaction.atomic():
        send(conversation, "rolled back")
        raise RuntimeError("the caller's transaction fails")
    assert not Message.objects.filter(text="rolled back").exists()
    assert not OwedAnswer.objects.exists()
    assert queued == []  # nothing queued for a message that was never stored

    with django_capture_on_commit_callbacks(execute=True):
        message = send(conversation, "kept")
        assert queued == []  # queued only once the message is committed
    owed = OwedAnswer.objects.get()
    assert (owed.message_id, owed.conversation_id) == (message.pk, conversation.pk)
    assert queued == [message.pk]


def test_a_resend_owes_nothing_more(conversation, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(outbox, "_queue", lambda message_id, _conv: queued.append(message_id))
    client_id = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=True):
        first, created = services.message_create_incoming(
            conversation=conversation, text="hello", client_id=client_id
        )
    with django_capture_on_commit_callbacks(execute=True):
        again, created_again = services.message_create_incoming(
            conversation=conversation, text="hello", client_id=client_id
        )
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert OwedAnswer.objects.count() == 1 and queued == [first.pk]


def test_a_broker_failure_keeps_the_message_and_its_debt(
    conversation, monkeypatch, django_capture_on_commit_callbacks
):
    """Redis down while the message commits: stored, echoed, owed; the dispatcher queues it."""

    def broker_down(message_id, conversation_id):
        raise ConnectionError("Error 111 connecting to localhost:6379. Connection refused.")

    monkeypatch.setattr(outbox, "_queue", broker_down)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = send(conversation, "during the outage")
    assert len(callbacks) == 2  # the echo and the queueing: the failure did not raise
    assert OwedAnswer.objects.filter(message=message).exists()

    queued = []
    monkeypatch.setattr(outbox, "_queue", lambda message_id, _conv: queued.append(message_id))
    later = timezone.now() + timedelta(seconds=60)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert outbox.owed_answers_dispatch() == 1
    assert queued == [message.pk]


def test_the_dispatcher_stops_at_the_first_broker_failure(widget, monkeypatch, settings):
    settings.CHAT_OWED_ANSWER_REQUEUE_SECONDS = 0
    calls = []

    def flaky(message_id, conversation_id):
        calls.append(message_id)
        raise ConnectionError("broker down")

    monkeypatch.setattr(outbox, "_queue", lambda message_id, conversation_id: None)
    for _ in range(3):
        conversation, _ = services.conversation_start(widget=widget)
        send(conversation, queue_bot=False)
    monkeypatch.setattr(outbox, "_queue", flaky)
    assert outbox.owed_answers_dispatch() == 0
    assert len(calls) == 1  # no point hammering a broker that is down
    assert OwedAnswer.objects.filter(attempts=1).count() == 3  # nothing marked queued


def test_exactly_one_answer_when_the_task_runs_twice(conversation, fake_bot):
    message = send(conversation, "hello there", queue_bot=False)
    tasks.answer_message(message.pk)
    tasks.answer_message(message.pk)
    assert Message.objects.filter(in_reply_to=message).count() == 1
    assert fake_bot.calls == ["hello there"]
    assert not OwedAnswer.objects.exists()


def test_a_handoff_settles_the_debt_as_a_reply_does(conversation):
    message = send(conversation, queue_bot=False)
    notice = services.bot_turn_record(
        message=message, result=turn_result(decision="handoff", handoff_category="legal")
    )
    assert notice is not None and not OwedAnswer.objects.exists()
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING


def test_an_agents_claim_settles_what_the_bot_owed(conversation, agent, fake_bot):
    message = send(conversation, queue_bot=False)
    services.conversation_claim(conversation=conversation, agent=agent)
    assert not OwedAnswer.objects.exists()
    tasks.answer_message(message.pk)  # delivered late: nothing to answer
    assert fake_bot.calls == [] and not Message.objects.filter(in_reply_to=message).exists()


def test_seq_numbers_are_never_given_twice(conversation):
    first = send(conversation, queue_bot=False)
    reply = services.bot_turn_record(message=first, result=turn_result())
    second = send(conversation, queue_bot=False)
    assert [first.seq, reply.seq, second.seq] == [1, 2, 3]
    assert services.bot_turn_record(message=first, result=turn_result()) is None
    third = send(conversation, queue_bot=False)
    assert third.seq == 4
    conversation.refresh_from_db()
    assert conversation.last_seq == 4


def test_the_oldest_owed_answer_is_measured_in_bot_conversations_only(widget, agent):
    now = timezone.now()
    assert outbox.owed_answer_oldest_age(now=now) is None
    conversation, _ = services.conversation_start(widget=widget)
    send(conversation, queue_bot=False, at=now - timedelta(seconds=90))
    send(conversation, queue_bot=False, at=now - timedelta(seconds=30))
    assert outbox.owed_answer_oldest_age(now=now) == pytest.approx(90, abs=0.01)


def test_eager_celery_answers_without_reaching_for_a_broker(
    conversation, fake_bot, monkeypatch, django_capture_on_commit_callbacks
):
    """On the embedded defaults the bot runs in the web process with no broker at all."""

    def no_broker(*args, **kwargs):
        raise AssertionError("reached for a broker connection")

    monkeypatch.setattr(Celery, "producer_or_acquire", no_broker)
    monkeypatch.setattr(Celery, "connection_for_write", no_broker)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(conversation, "hello there")
    assert fake_bot.calls == ["hello there"]
    assert Message.objects.filter(in_reply_to=message, author="bot").count() == 1
