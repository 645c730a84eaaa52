"""chat.rows: the chat turn's rows written as one plain INSERT each, the same on both databases."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import ReportingEvent
from chat import rows
from chat.models import Author, BotTrace, Message, OwedAnswer


def test_insert_writes_one_row_and_returns_it_as_loaded(conversation):
    now = timezone.now()
    client_id = uuid.uuid4()
    with CaptureQueriesContext(connection) as captured:
        message = rows.insert(Message(
            conversation=conversation, seq=1, author=Author.BOT, client_id=client_id,
            text="Shipping takes 3-5 days.", articles=[{"id": 7, "title": "Shipping"}],
            quick_replies=["Thanks"], created_at=now,
        ))
    assert [q["sql"].split()[0] for q in captured.captured_queries] == ["INSERT"]
    assert message.pk is not None
    stored = Message.objects.get(pk=message.pk)
    assert (stored.text, stored.articles, stored.quick_replies, stored.client_id,
            stored.created_at) == (message.text, [{"id": 7, "title": "Shipping"}], ["Thanks"],
                                   client_id, now)
    assert [(f.attname, getattr(message, f.attname)) for f in Message._meta.concrete_fields] == [
        (f.attname, getattr(stored, f.attname)) for f in Message._meta.concrete_fields
    ]


def test_insert_with_a_set_primary_key_and_a_duplicate(conversation):
    message = rows.insert(Message(conversation=conversation, seq=1, author=Author.CUSTOMER,
                                  text="hi", created_at=timezone.now()))
    owed = rows.insert(OwedAnswer(message=message, conversation=conversation, attempts=1))
    assert owed.pk == message.pk and OwedAnswer.objects.get().attempts == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.insert(Message(conversation=conversation, seq=1, author=Author.CUSTOMER,
                            text="again", created_at=timezone.now()))
    assert Message.objects.count() == 1


def test_insert_many_writes_rows_of_one_model_in_one_statement(conversation):
    now = timezone.now()
    events = [
        ReportingEvent(name="bot_replied", occurred_at=now, conversation=conversation,
                       conversation_started_at=conversation.created_at, value=v)
        for v in (1.0, 2.0)
    ]
    with CaptureQueriesContext(connection) as captured:
        rows.insert_many(events)
    assert len(captured.captured_queries) == 1
    replied = ReportingEvent.objects.filter(name="bot_replied")
    assert sorted(replied.values_list("value", flat=True)) == [1.0, 2.0]
    rows.insert_many([])  # nothing to write: no statement
    message = Message.objects.create(conversation=conversation, seq=1, author="customer",
                                     text="hi", created_at=now)
    trace = BotTrace(message=message, conversation=conversation, decision="answer")
    with pytest.raises(ValueError, match="one model"):
        rows.insert_many([events[0], trace])
    assert not BotTrace.objects.exists()


def test_insert_unless_stored_writes_once_per_matching_values(conversation):
    now = timezone.now()
    client_id = uuid.uuid4()

    def message(seq: int, text: str, client: uuid.UUID | None = client_id) -> Message:
        return Message(conversation=conversation, seq=seq, author=Author.CUSTOMER,
                       client_id=client, text=text, articles=[{"id": 1}], created_at=now)

    unless = ("conversation", "client_id")
    with CaptureQueriesContext(connection) as captured:
        first = rows.insert_unless_stored(message(1, "where is my parcel?"), unless=unless)
    assert [q["sql"].split()[0] for q in captured.captured_queries] == ["INSERT"]
    stored = Message.objects.get(pk=first.pk)
    assert (stored.seq, stored.text, stored.client_id, stored.articles, stored.created_at) == (
        1, "where is my parcel?", client_id, [{"id": 1}], now)
    assert (first.seq, first.client_id, first.conversation_id) == (1, client_id, conversation.pk)

    assert rows.insert_unless_stored(message(2, "again"), unless=unless) is None
    assert Message.objects.filter(conversation=conversation).count() == 1
    other = rows.insert_unless_stored(message(2, "another", uuid.uuid4()), unless=unless)
    assert other is not None and Message.objects.filter(conversation=conversation).count() == 2
    with pytest.raises(ValueError):
        rows.insert_unless_stored(message(3, "no client id", None), unless=unless)
    with pytest.raises(ValueError):
        rows.insert_unless_stored(Message(pk=99, conversation=conversation, seq=3, text="x",
                                          author=Author.CUSTOMER, client_id=uuid.uuid4()),
                                  unless=unless)
