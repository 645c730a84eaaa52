"""chat.tasks.owed_answers_drain and chat.outbox's drains: one task per shard of conversations
answers every answer owed in it, oldest first and once each, behind a mark in Redis (or this
process's cache) that spares a burst of messages a task each.

The drain runs in this process (``owed_answers_drain.run``); its ``delay`` is recorded, so no
broker is needed. The last test runs drains in the real worker (services pass).
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import IntegrityError
from django.utils import timezone

from chat import outbox, services, tasks
from chat.models import ConversationStatus, Message, OwedAnswer
from tests.chat.conftest import turn_result

pytestmark = pytest.mark.django_db

SHARDS = 2


def incoming(conversation, text="where is my order?", at=None):
    """A customer message stored without queueing the bot (the test runs the drain)."""
    message, _ = services.message_create_incoming(
        conversation=conversation, text=text, client_id=uuid.uuid4(), at=at, queue_bot=False
    )
    return message


def send(conversation, text="where is my order?"):
    """A customer message stored as the chat stores it: the bot is queued once it commits."""
    message, _ = services.message_create_incoming(
        conversation=conversation, text=text, client_id=uuid.uuid4()
    )
    return message


def answers_to(message) -> int:
    return Message.objects.filter(in_reply_to=message).count()


def owed(message) -> bool:
    return OwedAnswer.objects.filter(message=message).exists()


@pytest.fixture
def shards(settings):
    """``SHARDS`` drains, every mark cleared before and after (Redis outlives a test)."""
    settings.CHAT_BOT_DRAINS = SHARDS

    def clear() -> None:
        for shard in range(8):
            outbox.drain_mark_release(shard)

    clear()
    yield SHARDS
    clear()


@pytest.fixture
def requeued(monkeypatch):
    """The shards a drain (or the enqueueing) queued with ``owed_answers_drain.delay``."""
    queued: list[int] = []
    monkeypatch.setattr(tasks.owed_answers_drain, "delay", queued.append)
    return queued


@pytest.fixture
def with_broker(monkeypatch):
    """Celery as with a broker (not eager): a committed message goes to its shard's drain. A
    task queued for one message alone would be a failure here."""
    conf = tasks.answer_message.app.conf
    eager = conf.task_always_eager
    conf.task_always_eager = False

    def no_single_task(*args, **kwargs):
        raise AssertionError("answer_message was queued for one message")

    monkeypatch.setattr(tasks.answer_message, "delay", no_single_task)
    yield
    conf.task_always_eager = eager


@pytest.fixture
def in_shard(widget, shards):
    """``in_shard(shard, n)``: ``n`` new conversations whose drain shard is ``shard``."""

    def make(shard: int, n: int) -> list:
        found = []
        while len(found) < n:
            conversation, _ = services.conversation_start(widget=widget)
            if outbox.drain_shard(conversation.pk) == shard:
                found.append(conversation)
        return found

    return make


def drain_until_done(shard: int, requeued: list[int], *, runs: int = 10) -> int:
    """Runs the drain, and again each time it queued itself; returns how many runs."""
    for run in range(1, runs + 1):
        before = len(requeued)
        tasks.owed_answers_drain.run(shard)
        if len(requeued) == before:
            return run
    raise AssertionError(f"the drain of shard {shard} still queued itself after {runs} runs")


# --- What a drain answers ------------------------------------------------------------------------


def test_a_drain_answers_its_shard_once_each_oldest_first(in_shard, fake_bot, requeued):
    first, second, third = in_shard(0, 3)
    (elsewhere,) = in_shard(1, 1)
    # Oldest first is by message, not by conversation.
    b = incoming(second, "b: where is my parcel?")
    other = incoming(elsewhere, "another shard's question")
    a = incoming(first, "a: do you ship abroad?")
    c = incoming(third, "c: can I return shoes?")

    assert tasks.owed_answers_drain.run(0) == 3
    assert fake_bot.calls == [b.text, a.text, c.text]
    assert [answers_to(m) for m in (a, b, c)] == [1, 1, 1]
    assert not any(owed(m) for m in (a, b, c))
    # The other shard's message is still owed, and nothing queued a drain for it.
    assert owed(other) and answers_to(other) == 0
    assert requeued == []
    assert outbox.drain_mark_take(0)  # the drain gave its mark back

    assert tasks.owed_answers_drain.run(0) == 0  # a second run finds nothing
    assert fake_bot.calls == [b.text, a.text, c.text]
    assert [answers_to(m) for m in (a, b, c)] == [1, 1, 1]

    assert tasks.owed_answers_drain.run(1) == 1
    assert fake_bot.calls[-1] == other.text and answers_to(other) == 1


def test_one_message_per_conversation_per_run_in_seq_order(in_shard, fake_bot, requeued):
    (conversation,) = in_shard(1, 1)
    messages = [incoming(conversation, text) for text in ("one", "two", "three")]

    assert tasks.owed_answers_drain.run(1) == 1
    assert fake_bot.calls == ["one"]
    assert [answers_to(m) for m in messages] == [1, 0, 0]
    assert requeued == [1]  # more is owed: queued again, behind the other shards' drains
    assert not outbox.drain_mark_take(1)  # and the mark is held for that queued run

    tasks.owed_answers_drain.run(1)
    assert fake_bot.calls == ["one", "two"] and requeued == [1, 1]
    tasks.owed_answers_drain.run(1)
    assert fake_bot.calls == ["one", "two", "three"]
    assert requeued == [1, 1]  # nothing left: not queued again
    assert outbox.drain_mark_take(1)  # and its mark is cleared

    assert [answers_to(m) for m in messages] == [1, 1, 1]
    # Each reply follows its question: the seqs alternate customer, bot.
    authors = list(Message.objects.filter(conversation=conversation)
                   .order_by("seq").values_list("author", "in_reply_to"))
    assert authors == [
        ("customer", None), ("customer", None), ("customer", None),
        ("bot", messages[0].pk), ("bot", messages[1].pk), ("bot", messages[2].pk),
    ]


def test_a_drain_takes_at_most_a_batch_and_queues_itself_for_the_rest(
    in_shard, fake_bot, requeued, monkeypatch
):
    monkeypatch.setattr(tasks, "DRAIN_BATCH", 2)
    conversations = in_shard(0, 3)
    messages = [incoming(c, f"question {n}") for n, c in enumerate(conversations)]
    assert tasks.owed_answers_drain.run(0) == 2
    assert [answers_to(m) for m in messages] == [1, 1, 0] and requeued == [0]
    assert tasks.owed_answers_drain.run(0) == 1
    assert [answers_to(m) for m in messages] == [1, 1, 1] and requeued == [0]


# --- The mark ------------------------------------------------------------------------------------


def test_a_burst_of_messages_queues_the_shard_s_drain_once(
    in_shard, fake_bot, requeued, with_broker, django_capture_on_commit_callbacks
):
    first, second = in_shard(1, 2)
    (elsewhere,) = in_shard(0, 1)
    with django_capture_on_commit_callbacks(execute=True):
        one = send(first, "one")
    with django_capture_on_commit_callbacks(execute=True):
        two = send(second, "two")
    with django_capture_on_commit_callbacks(execute=True):
        three = send(first, "three")
    assert requeued == [1]  # one drain for the three messages: the mark was held
    with django_capture_on_commit_callbacks(execute=True):
        send(elsewhere, "another shard")
    assert requeued == [1, 0]  # another shard, another mark
    assert fake_bot.calls == []  # queued, not run here

    # The enqueueing itself, as the dispatcher calls it.
    tasks.answer_message_enqueue(one.pk, first.pk)
    assert requeued == [1, 0]
    outbox.drain_mark_release(1)
    tasks.answer_message_enqueue(two.pk, second.pk)
    assert requeued == [1, 0, 1]  # the mark was free again: the next message queues a drain
    tasks.answer_message_enqueue(three.pk, first.pk)
    assert requeued == [1, 0, 1]

    assert drain_until_done(1, requeued) == 2  # "one" and "two", then "three"
    assert fake_bot.calls == ["one", "two", "three"]
    assert [answers_to(m) for m in (one, two, three)] == [1, 1, 1]


def test_a_message_stored_while_the_drain_runs_is_answered(
    in_shard, requeued, with_broker, monkeypatch, django_capture_on_commit_callbacks
):
    """Stored while the mark is held, the message queues nothing; the drain, having given its
    mark back, looks again, finds it and queues itself."""
    first, second = in_shard(0, 2)
    late = []

    def bot(*, text, context, on_delta=None, call_connector=None):
        if text == "first" and not late:
            # The customer of another conversation writes while the drain works.
            with django_capture_on_commit_callbacks(execute=True):
                late.append(send(second, "meanwhile"))
        return turn_result()

    monkeypatch.setattr(tasks, "answer_turn", bot)
    with django_capture_on_commit_callbacks(execute=True):
        early = send(first, "first")
    assert requeued == [0]
    assert tasks.owed_answers_drain.run(0) == 1
    assert answers_to(early) == 1 and answers_to(late[0]) == 0
    assert requeued == [0, 0]  # the late message queued nothing; the drain's last look did
    assert tasks.owed_answers_drain.run(0) == 1
    assert answers_to(late[0]) == 1 and requeued == [0, 0]
    assert outbox.drain_mark_take(0)


def test_a_running_drain_renews_its_mark(
    in_shard, requeued, with_broker, monkeypatch, django_capture_on_commit_callbacks
):
    """A drain that outlives its mark's lifetime (slow turns) renews it as it stores turns: a
    message committed later in its run queues no second drain of the shard, which would run
    the same conversations' turns again beside it."""
    monkeypatch.setattr(tasks, "DRAIN_HOLD_SECONDS", 0.0)  # each turn stored as it finishes
    first, second, third = in_shard(1, 3)
    late = []

    def bot(*, text, context, on_delta=None, call_connector=None):
        if text == "one":
            outbox.drain_mark_release(1)  # a slow turn: the mark's lifetime ran out
        if text == "two":
            with django_capture_on_commit_callbacks(execute=True):
                late.append(send(third, "three"))
        return turn_result()

    monkeypatch.setattr(tasks, "answer_turn", bot)
    incoming(first, "one")
    incoming(second, "two")
    assert outbox.drain_mark_take(1)  # as the enqueueing took it
    assert tasks.owed_answers_drain.run(1) == 2
    assert requeued == [1]  # the drain's own last look, not a second drain meanwhile
    tasks.owed_answers_drain.run(1)
    assert answers_to(late[0]) == 1


def test_a_failed_publish_frees_the_mark_for_the_next_message(
    in_shard, fake_bot, with_broker, monkeypatch
):
    (conversation,) = in_shard(1, 1)
    message = incoming(conversation)

    def broker_down(shard):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.owed_answers_drain, "delay", broker_down)
    with pytest.raises(ConnectionError):
        tasks.answer_message_enqueue(message.pk, conversation.pk)
    queued = []
    monkeypatch.setattr(tasks.owed_answers_drain, "delay", queued.append)
    tasks.answer_message_enqueue(message.pk, conversation.pk)
    assert queued == [1]


def test_without_drains_each_message_is_its_own_task(conversation, settings, with_broker,
                                                      requeued, monkeypatch):
    settings.CHAT_BOT_DRAINS = 0
    single = []
    monkeypatch.setattr(tasks.answer_message, "delay", single.append)
    message = incoming(conversation)
    tasks.answer_message_enqueue(message.pk, conversation.pk)
    assert single == [message.pk] and requeued == []


@pytest.mark.parametrize("first_turn_seconds, stored_before_second", [(0.0, False), (0.25, True)])
def test_a_slow_turn_is_stored_before_the_next_turn_runs(
    in_shard, fake_bot, requeued, monkeypatch, first_turn_seconds, stored_before_second
):
    """Fast turns share a commit; once a turn takes longer than the hold (a model over the
    network), its reply is stored and sent before the drain starts the next one, rather than
    waiting for it."""
    monkeypatch.setattr(tasks, "DRAIN_HOLD_SECONDS", 0.2)
    first_conversation, second_conversation = in_shard(1, 2)
    first = incoming(first_conversation, "first")
    incoming(second_conversation, "second")
    seen: list[int] = []

    def pipeline(*, text, context, on_delta=None, call_connector=None):
        if text == "first":
            time.sleep(first_turn_seconds)
        else:  # what the customer of the first message has by the second turn
            seen.append(answers_to(first))
        return fake_bot(text=text, context=context)

    monkeypatch.setattr("chat.tasks.answer_turn", pipeline)
    assert tasks.owed_answers_drain.run(1) == 2
    assert seen == [1 if stored_before_second else 0]
    assert answers_to(first) == 1


# --- Failures ------------------------------------------------------------------------------------


def test_a_turn_that_cannot_be_stored_stays_owed_and_the_others_are_answered(
    in_shard, fake_bot, requeued, monkeypatch
):
    monkeypatch.setattr(tasks, "DRAIN_HOLD_SECONDS", 60.0)  # the three turns stored together
    conversations = in_shard(1, 3)
    first, poisoned, last = (incoming(c, text) for c, text in
                             zip(conversations, ("first", "poison", "last"), strict=True))
    original = services.bot_turn_record

    def record(*, message, result, at=None):
        if message.pk == poisoned.pk:
            raise RuntimeError("the database refused the reply")
        return original(message=message, result=result, at=at)

    monkeypatch.setattr(services, "bot_turn_record", record)
    monkeypatch.setattr(services, "bot_turns_record",
                        lambda turns, at=None: [record(message=m, result=r) for m, r in turns])

    assert tasks.owed_answers_drain.run(1) == 3
    assert [answers_to(m) for m in (first, poisoned, last)] == [1, 0, 1]
    assert owed(poisoned) and not owed(first) and not owed(last)
    # Left to the dispatcher: the drain does not queue itself again for a turn that failed.
    assert requeued == []

    monkeypatch.setattr(services, "bot_turn_record", original)
    tasks.owed_answers_drain.run(1)  # queued again by the dispatcher
    assert [answers_to(m) for m in (first, poisoned, last)] == [1, 1, 1]


def test_a_reply_the_database_refuses_leaves_only_that_message_owed(
    in_shard, requeued, monkeypatch
):
    """A real failure inside the shared transaction (NOT NULL): the batch rolls back, the
    turns are stored one by one, and only the refused one stays owed."""
    monkeypatch.setattr(tasks, "DRAIN_HOLD_SECONDS", 60.0)

    def bot(*, text, context, on_delta=None, call_connector=None):
        return turn_result(reply_text=None) if text == "poison" else turn_result()

    monkeypatch.setattr(tasks, "answer_turn", bot)
    conversations = in_shard(0, 3)
    first, poisoned, last = (incoming(c, text) for c, text in
                             zip(conversations, ("first", "poison", "last"), strict=True))
    assert tasks.owed_answers_drain.run(0) == 3
    assert [answers_to(m) for m in (first, poisoned, last)] == [1, 0, 1]
    assert owed(poisoned) and requeued == []


def test_a_failing_pipeline_becomes_a_handoff(in_shard, requeued, monkeypatch):
    def bot(*, text, context, on_delta=None, call_connector=None):
        if text == "crash":
            raise RuntimeError("boom")
        return turn_result()

    monkeypatch.setattr(tasks, "answer_turn", bot)
    broken_conversation, fine_conversation = in_shard(1, 2)
    broken = incoming(broken_conversation, "crash")
    fine = incoming(fine_conversation, "fine")
    assert tasks.owed_answers_drain.run(1) == 2
    notice = Message.objects.get(in_reply_to=broken)
    assert notice.author == "system"
    broken_conversation.refresh_from_db()
    assert broken_conversation.status == ConversationStatus.WAITING
    assert broken_conversation.handoff_category == "error"
    assert Message.objects.get(in_reply_to=fine).author == "bot"
    assert not OwedAnswer.objects.exists() and requeued == []


def test_a_batch_whose_histories_cannot_be_read_stays_owed(in_shard, fake_bot, requeued,
                                                           monkeypatch):
    """The batch's histories are one read: if it fails (anything but a dead connection, which
    is retried), the drain fails and every message of the batch stays owed for the
    dispatcher; nothing is answered or handed over."""
    conversations = in_shard(0, 2)
    messages = [incoming(c, t) for c, t in zip(conversations, ("first", "second"), strict=True)]

    def unreadable(points, *, limit):
        raise ValueError("unreadable history")

    monkeypatch.setattr(tasks.selectors, "histories_before", unreadable)
    with pytest.raises(ValueError):
        tasks.owed_answers_drain.run(0)
    assert all(answers_to(m) == 0 and owed(m) for m in messages)
    assert fake_bot.calls == [] and requeued == []


# --- Turns stored together -----------------------------------------------------------------------


@pytest.fixture
def store_calls(monkeypatch):
    """Counts the calls to the two storing services (each its own transaction)."""
    calls = {"together": [], "alone": []}
    together, alone = services.bot_turns_record, services.bot_turn_record

    def record_together(turns, at=None):
        calls["together"].append([message.pk for message, _ in turns])
        return together(turns, at=at)

    def record_alone(*, message, result, at=None):
        calls["alone"].append(message.pk)
        return alone(message=message, result=result, at=at)

    monkeypatch.setattr(services, "bot_turns_record", record_together)
    monkeypatch.setattr(services, "bot_turn_record", record_alone)
    return calls


def test_turns_that_finish_together_are_stored_in_one_transaction(
    in_shard, fake_bot, requeued, store_calls, monkeypatch
):
    monkeypatch.setattr(tasks, "DRAIN_HOLD_SECONDS", 60.0)  # however slow this machine is
    first, second = in_shard(0, 2)
    one, two = incoming(first, "one"), incoming(second, "my lawyer will call")
    assert tasks.owed_answers_drain.run(0) == 2
    assert store_calls == {"together": [[one.pk, two.pk]], "alone": []}
    assert Message.objects.get(in_reply_to=one).author == "bot"
    assert Message.objects.get(in_reply_to=two).author == "system"  # a handoff among them
    assert not OwedAnswer.objects.exists()


def test_turns_held_longer_than_the_hold_are_stored_alone(
    in_shard, fake_bot, requeued, store_calls, monkeypatch
):
    monkeypatch.setattr(tasks, "DRAIN_HOLD_SECONDS", 0.0)
    first, second = in_shard(0, 2)
    one, two = incoming(first, "one"), incoming(second, "two")
    tasks.owed_answers_drain.run(0)
    assert store_calls == {"together": [], "alone": [one.pk, two.pk]}
    assert [answers_to(one), answers_to(two)] == [1, 1]


def test_a_failed_batch_is_stored_one_by_one(in_shard, fake_bot, requeued, store_calls,
                                             monkeypatch):
    monkeypatch.setattr(tasks, "DRAIN_HOLD_SECONDS", 60.0)

    def batch_fails(turns, at=None):
        store_calls["together"].append([message.pk for message, _ in turns])
        raise RuntimeError("the shared transaction failed")

    monkeypatch.setattr(services, "bot_turns_record", batch_fails)
    conversations = in_shard(1, 3)
    messages = [incoming(c, f"question {n}") for n, c in enumerate(conversations)]
    tasks.owed_answers_drain.run(1)
    assert store_calls["together"] == [[m.pk for m in messages]]
    assert store_calls["alone"] == [m.pk for m in messages]
    assert [answers_to(m) for m in messages] == [1, 1, 1]
    assert not OwedAnswer.objects.exists() and requeued == []


def test_turns_stored_together_commit_all_or_none(in_shard):
    first, second = in_shard(0, 2)
    one, two = incoming(first, "one"), incoming(second, "two")
    with pytest.raises(IntegrityError):  # the reply's text is NOT NULL
        services.bot_turns_record([(one, turn_result()), (two, turn_result(reply_text=None))])
    assert answers_to(one) == 0 and owed(one) and owed(two)
    first.refresh_from_db()
    assert first.last_seq == 1  # the first turn's seq was rolled back with it
    replies = services.bot_turns_record([(one, turn_result()), (two, turn_result())])
    assert [r.in_reply_to_id for r in replies] == [one.pk, two.pk]
    assert services.bot_turns_record([(one, turn_result())]) == [None]  # answered already


# --- Deferred answers ----------------------------------------------------------------------------


def test_a_deferred_answer_waits_for_its_grace(in_shard, fake_bot, requeued, settings,
                                                monkeypatch):
    settings.CHAT_OWED_ANSWER_REQUEUE_SECONDS = 0
    dispatched = []
    monkeypatch.setattr(outbox, "_queue", lambda message_id, _conv: dispatched.append(message_id))
    (conversation,) = in_shard(1, 1)
    message = incoming(conversation)
    start = timezone.now()
    outbox.owed_answer_defer(message.pk, seconds=45)

    def at(seconds: float) -> None:
        moment = start + timedelta(seconds=seconds)
        monkeypatch.setattr(timezone, "now", lambda: moment)

    for seconds in (1, 10, 30):
        at(seconds)
        assert tasks.owed_answers_drain.run(1) == 0
        assert outbox.owed_answers_dispatch() == 0  # the requeue delay has long passed
        assert outbox.owed_messages_in_shard(1) == []
    assert fake_bot.calls == [] and dispatched == [] and requeued == []

    at(46)
    assert [m.pk for m in outbox.owed_messages_in_shard(1)] == [message.pk]
    assert outbox.owed_answers_dispatch() == 1 and dispatched == [message.pk]
    assert tasks.owed_answers_drain.run(1) == 1
    assert answers_to(message) == 1 and fake_bot.calls == [message.text]


def test_a_turn_sent_to_the_connector_queue_is_deferred(in_shard, requeued, with_broker,
                                                         settings, monkeypatch):
    settings.CONNECTOR_QUEUE = "connectors"
    sent = []
    monkeypatch.setattr(tasks.answer_message, "apply_async",
                        lambda args, kwargs, queue: sent.append((args, kwargs, queue)))

    def bot(*, text, context, on_delta=None, call_connector=None):
        if call_connector is not None and text == "order 55102":
            call_connector(SimpleNamespace(name="Order status"), {})  # the drain's: defers
        return turn_result()

    monkeypatch.setattr(tasks, "answer_turn", bot)
    looked_up_conversation, plain_conversation = in_shard(0, 2)
    looked_up = incoming(looked_up_conversation, "order 55102")
    plain = incoming(plain_conversation, "hello")
    before = timezone.now()
    assert tasks.owed_answers_drain.run(0) == 2
    assert sent == [((looked_up.pk,), {"lookups": True}, "connectors")]
    assert answers_to(plain) == 1 and answers_to(looked_up) == 0
    row = OwedAnswer.objects.get(message=looked_up)
    assert row.queued_at >= before + timedelta(seconds=tasks.LOOKUP_GRACE_SECONDS)
    assert requeued == []  # the deferred answer does not keep the drain going

    tasks.answer_message(looked_up.pk, lookups=True)  # the connector queue's run
    assert answers_to(looked_up) == 1 and not OwedAnswer.objects.exists()


# --- The conversation leaves the bot -------------------------------------------------------------


def test_an_agent_who_took_the_conversation_first_gets_no_bot_answer(
    in_shard, fake_bot, requeued, agent
):
    taken, kept = in_shard(0, 2)
    message = incoming(taken, "hello?")
    other = incoming(kept, "and me?")
    services.conversation_claim(conversation=taken, agent=agent)
    assert tasks.owed_answers_drain.run(0) == 1
    assert fake_bot.calls == ["and me?"]
    assert answers_to(message) == 0 and answers_to(other) == 1
    assert not OwedAnswer.objects.exists() and requeued == []


def test_an_agent_who_takes_the_conversation_while_the_drain_reads_gets_no_bot_answer(
    in_shard, fake_bot, requeued, agent, monkeypatch
):
    """The drain read the message (its conversation still the bot's); the agent's claim
    commits before the turn is stored: the debt is settled, nothing is answered."""
    (conversation,) = in_shard(1, 1)
    message = incoming(conversation, "hello?")
    read = outbox.owed_messages_in_shard

    def read_then_claim(shard, *, exclude=(), limit):
        found = read(shard, exclude=exclude, limit=limit)
        if found:
            services.conversation_claim(conversation=conversation, agent=agent)
        return found

    monkeypatch.setattr(outbox, "owed_messages_in_shard", read_then_claim)
    tasks.owed_answers_drain.run(1)
    assert answers_to(message) == 0
    assert not Message.objects.filter(conversation=conversation, author="bot").exists()
    assert not OwedAnswer.objects.exists() and requeued == []
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.AGENT


def test_a_message_owed_after_a_handoff_is_settled_without_an_answer(
    in_shard, fake_bot, requeued
):
    """Two messages before the bot's first turn; the first is handed off: the second's debt
    is settled by the next run, unanswered (a person has the conversation now)."""
    (conversation,) = in_shard(0, 1)
    lawyer = incoming(conversation, "my lawyer will call")
    after = incoming(conversation, "hello?")
    tasks.owed_answers_drain.run(0)
    assert requeued == [0]
    tasks.owed_answers_drain.run(0)
    assert fake_bot.calls == ["my lawyer will call"]
    assert answers_to(lawyer) == 1 and answers_to(after) == 0
    assert not OwedAnswer.objects.exists() and requeued == [0]


# --- The real worker -----------------------------------------------------------------------------


@pytest.mark.services
def test_the_worker_s_drains_answer_a_burst_once_each_in_order(celery_worker, demo):
    from chat.models import Widget

    for shard in range(8):
        outbox.drain_mark_release(shard)
    widget = Widget.objects.get(public_key="demo")
    questions = ["What is your return policy?", "How long does shipping take?",
                 "Do you ship internationally?"]
    conversations = [services.conversation_start(widget=widget)[0] for _ in range(3)]
    sent = {c.pk: [] for c in conversations}
    for question in questions:  # interleaved, as fast as the services store them
        for conversation in conversations:
            sent[conversation.pk].append(send(conversation, question))
    everything = [m.pk for ms in sent.values() for m in ms]

    deadline = time.monotonic() + 60
    while OwedAnswer.objects.filter(message_id__in=everything).exists():
        assert time.monotonic() < deadline, "the worker's drains left answers owed"
        time.sleep(0.2)
    for conversation in conversations:
        rows = list(Message.objects.filter(conversation=conversation).order_by("seq")
                    .values_list("author", "in_reply_to"))
        answered = [reply_to for author, reply_to in rows if reply_to is not None]
        # Exactly one answer each, and in the order the questions were asked.
        assert answered == [m.pk for m in sent[conversation.pk]], rows


# --- Order within a conversation while a turn runs on the connector queue --------------------


def test_a_conversations_later_messages_wait_for_its_deferred_turn(in_shard, fake_bot, requeued):
    """The order lookup runs on the connector queue (deferred); the customer's next messages
    are not answered before it, other conversations are, and the drain does not spin on the
    waiting conversation (it queues itself no more)."""
    waiting, other = in_shard(1, 2)
    lookup = incoming(waiting, "sam@example.com")
    later = incoming(waiting, "Do you take PayPal?")
    elsewhere = incoming(other, "hello")
    outbox.owed_answer_defer(lookup.pk, seconds=45)

    assert tasks.owed_answers_drain.run(1) == 1
    assert [answers_to(m) for m in (lookup, later, elsewhere)] == [0, 0, 1]
    assert requeued == []
    assert fake_bot.calls == ["hello"]


def test_the_lookups_answer_wakes_the_drain_for_what_its_conversation_still_owes(
    in_shard, fake_bot, requeued, with_broker
):
    (conversation,) = in_shard(1, 1)
    lookup = incoming(conversation, "sam@example.com")
    later = incoming(conversation, "Do you take PayPal?")
    outbox.owed_answer_defer(lookup.pk, seconds=45)
    tasks.owed_answers_drain.run(1)
    assert requeued == []

    tasks.answer_message(lookup.pk, lookups=True)  # the connector queue's run
    assert answers_to(lookup) == 1 and answers_to(later) == 0
    assert requeued == [1]  # the shard's drain, for the message that waited
    tasks.owed_answers_drain.run(1)
    replies = Message.objects.filter(conversation=conversation, author="bot").order_by("seq")
    assert [r.in_reply_to_id for r in replies] == [lookup.pk, later.pk]


def test_redis_unreachable_mid_turn_is_retried_not_handed_over(in_shard, requeued, monkeypatch):
    """An infrastructure outage in the pipeline (the shared cache down) is not the bot failing:
    the drain fails for Celery to retry it, the message stays owed, the bot keeps the chat."""
    import redis

    (conversation,) = in_shard(1, 1)
    message = incoming(conversation, "Which payment methods do you accept?")

    def pipeline(**kwargs):
        raise redis.exceptions.ConnectionError("Connection reset by peer")

    monkeypatch.setattr("chat.tasks.answer_turn", pipeline)
    with pytest.raises(redis.exceptions.ConnectionError):
        tasks.owed_answers_drain.run(1)
    conversation.refresh_from_db()
    assert owed(message) and answers_to(message) == 0
    assert conversation.status == ConversationStatus.BOT
    assert redis.exceptions.ConnectionError in tasks.owed_answers_drain.autoretry_for
