"""chat.tasks: the bot's answer (exactly once) and the inactivity sweep."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from analytics.models import ReportingEvent
from chat import services, tasks
from chat.models import (
    AgentPresence,
    BotTrace,
    Conversation,
    ConversationStatus,
    Message,
    PresenceStatus,
)

pytestmark = pytest.mark.django_db


def incoming(conversation, text="where is my order?", at=None):
    message, _ = services.message_create_incoming(
        conversation=conversation, text=text, client_id=uuid.uuid4(), at=at, queue_bot=False
    )
    return message


def test_running_the_task_twice_stores_one_reply(conversation, fake_bot):
    message = incoming(conversation)
    tasks.answer_message(message.pk)
    tasks.answer_message(message.pk)
    assert Message.objects.filter(conversation=conversation, author="bot").count() == 1
    assert fake_bot.calls == ["where is my order?"]  # the second run saw the reply and stopped


def test_a_concurrent_second_run_is_refused_by_the_constraint(conversation, fake_bot, monkeypatch):
    message = incoming(conversation)
    first = Message.objects.select_related("conversation", "bot_outcome").get(pk=message.pk)
    tasks.answer_message(message.pk)
    # A run that loaded the message before the first one stored its reply.
    from tests.chat.conftest import turn_result

    assert services.bot_turn_record(message=first, result=turn_result()) is None
    assert Message.objects.filter(conversation=conversation, author="bot").count() == 1


def test_the_pipeline_sees_history_and_dialog_state(conversation, monkeypatch):
    seen = {}

    def fake(*, text, context, on_delta=None):
        from tests.chat.conftest import turn_result

        seen["context"] = context
        return turn_result(dialog_state={"turns": len(context.history) + 1})

    monkeypatch.setattr("chat.tasks.answer_turn", fake)
    tasks.answer_message(incoming(conversation, "hi").pk)
    tasks.answer_message(incoming(conversation, "it's 55102").pk)
    context = seen["context"]
    assert context.history == [("customer", "hi"), ("bot", "Your order is on its way.")]
    assert context.customer_texts == ["hi"]
    assert context.dialog_state == {"turns": 1}
    conversation.refresh_from_db()
    assert conversation.dialog_state == {"turns": 3}


@pytest.fixture
def small_taxonomy(db, django_capture_on_commit_callbacks):
    """The bot tests' invented taxonomy, stored, with a trained classifier."""
    from chat.bot import taxonomy_invalidate
    from tests.chat.bot.conftest import create_rows

    with django_capture_on_commit_callbacks(execute=True):
        create_rows()
    taxonomy_invalidate()
    yield
    taxonomy_invalidate()


def test_the_context_carries_the_customer_s_zone_and_the_message_s_own_time(
    conversation, monkeypatch
):
    seen = {}

    def fake(*, text, context, on_delta=None):
        from tests.chat.conftest import turn_result

        seen["context"] = context
        return turn_result()

    monkeypatch.setattr("chat.tasks.answer_turn", fake)
    services.conversation_timezone_set(conversation=conversation, zone="Australia/Sydney")
    sent = timezone.now() - timedelta(minutes=7)  # answered minutes later, after a requeue
    tasks.answer_message(incoming(conversation, "hello", at=sent).pk)
    assert seen["context"].timezone == "Australia/Sydney"
    assert seen["context"].now == sent
    other, _ = services.conversation_start(widget=conversation.widget)
    tasks.answer_message(incoming(other, "hello").pk)
    assert seen["context"].timezone == ""  # none sent: the pipeline uses the desk's TIME_ZONE


@pytest.mark.parametrize(("zone", "text", "expected"), [
    ("America/New_York", "I ordered yesterday and it has not arrived", "2026-11-26"),
    ("", "I ordered yesterday and it has not arrived", "2026-11-27"),
    ("Asia/Tokyo", "my parcel was due yesterday", "2026-11-27"),
    ("America/Los_Angeles", "it was delivered 2 days ago but the box was empty", "2026-11-25"),
])
def test_yesterday_is_the_customer_s_at_the_time_of_the_message(
    conversation, small_taxonomy, zone, text, expected
):
    if zone:
        services.conversation_timezone_set(conversation=conversation, zone=zone)
    sent = datetime(2026, 11, 28, 2, 30, tzinfo=UTC)  # answered days later
    message = incoming(conversation, text, at=sent)
    tasks.answer_message(message.pk)
    entities = BotTrace.objects.get(message=message).stages["entities"]
    assert entities["dates"][0]["date"] == expected


def test_missing_rows_and_other_authors_are_ignored(conversation, fake_bot, agent):
    tasks.answer_message(999_999)
    note = services.agent_message_create(conversation=conversation, agent=agent, text="hi")
    tasks.answer_message(note.pk)
    assert fake_bot.calls == []


def test_no_answer_once_the_conversation_left_the_bot(conversation, fake_bot, agent):
    message = incoming(conversation)
    services.conversation_claim(conversation=conversation, agent=agent)
    tasks.answer_message(message.pk)
    assert fake_bot.calls == []


def test_a_failing_pipeline_hands_the_customer_to_a_person(
    conversation, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    from chat.bot.escalation import handoff_message

    conversation.intent = "order_status"
    conversation.dialog_state = {"turns": 2, "pending": {"detail": "order_number"}}
    conversation.save(update_fields=["intent", "dialog_state"])
    handoffs = []
    monkeypatch.setattr("chat.realtime.broadcast_handoff", lambda c: handoffs.append(c.pk))

    def broken(**kwargs):
        raise RuntimeError("boom: the customer's secret text")

    monkeypatch.setattr("chat.tasks.answer_turn", broken)
    message = incoming(conversation)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.answer_message(message.pk)
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING
    assert conversation.handoff_category == "error"
    assert conversation.intent == "order_status"
    assert conversation.dialog_state == {"turns": 2, "pending": None}
    notice = Message.objects.get(in_reply_to=message)
    # No agent is online in this test: the one message says so and asks for an e-mail address.
    assert notice.text == handoff_message("error", agents_online=False)
    assert notice.text.startswith("I'm sorry, something went wrong")
    trace = BotTrace.objects.get(message=message)
    assert trace.decision == "handoff" and "RuntimeError" in json.dumps(trace.stages)
    assert "secret" not in json.dumps(trace.stages)
    assert handoffs == [conversation.pk]
    assert ReportingEvent.objects.filter(
        conversation=conversation, name="handoff", category="error", intent="order_status"
    ).exists()
    assert "handing over to a person" in caplog.text  # the error is logged with its traceback
    # A second delivery of the task changes nothing.
    tasks.answer_message(message.pk)
    assert Message.objects.filter(in_reply_to=message).count() == 1


def test_a_failing_write_clears_the_typing_indicator(conversation, monkeypatch):
    sent = []
    monkeypatch.setattr("chat.realtime.broadcast_typing", lambda *args: sent.append(args))

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("chat.services.bot_turn_record", broken)
    with pytest.raises(RuntimeError):
        tasks.answer_message(incoming(conversation).pk)
    assert sent[-1] == (conversation.pk, "bot", False)


def test_inactive_conversations_are_resolved_or_abandoned(widget, settings):
    settings.CHAT_INACTIVITY_RESOLVE_MINUTES = 30
    long_ago = timezone.now() - timedelta(hours=2)
    from tests.chat.conftest import turn_result

    answered, _ = services.conversation_start(widget=widget, at=long_ago)
    message = incoming(answered, at=long_ago)
    services.bot_turn_record(message=message, result=turn_result(), at=long_ago)

    asked, _ = services.conversation_start(widget=widget, at=long_ago)
    message = incoming(asked, at=long_ago)
    services.bot_turn_record(
        message=message,
        result=turn_result(dialog_state={"pending_intent": "order_status"}),
        at=long_ago,
    )

    greeted, _ = services.conversation_start(widget=widget, at=long_ago)
    message = incoming(greeted, at=long_ago)
    services.bot_turn_record(  # "hi" -> "Hello! What can I help you with today?"
        message=message, result=turn_result(dialog_state={"awaiting": "request"}), at=long_ago
    )

    waiting, _ = services.conversation_start(widget=widget, at=long_ago)
    message = incoming(waiting, at=long_ago)
    services.bot_turn_record(
        message=message,
        result=turn_result(decision="handoff", handoff_category="legal"),
        at=long_ago,
    )

    recent, _ = services.conversation_start(widget=widget)
    services.bot_turn_record(message=incoming(recent), result=turn_result())

    assert tasks.resolve_inactive_conversations() == 4
    statuses = dict(Conversation.objects.values_list("pk", "status"))
    assert statuses[answered.pk] == "resolved"
    assert statuses[asked.pk] == "abandoned"
    assert statuses[greeted.pk] == "abandoned"
    assert statuses[waiting.pk] == "abandoned"
    assert statuses[recent.pk] == "bot"
    resolved = ReportingEvent.objects.get(conversation=answered, name="resolved")
    assert resolved.category == "bot_assumed"
    assert resolved.occurred_at == long_ago + timedelta(minutes=30)
    abandoned = ReportingEvent.objects.get(conversation=waiting, name="abandoned")
    assert abandoned.category == "waiting"
    assert tasks.resolve_inactive_conversations() == 0


def test_enqueue_runs_the_task_eagerly_without_a_broker(conversation, fake_bot):
    message = incoming(conversation, "hello there")
    tasks.answer_message_enqueue(message.pk)
    assert fake_bot.calls == ["hello there"]
    assert Message.objects.filter(in_reply_to=message, author="bot").count() == 1


def test_messages_the_bot_owes_are_queued_again(widget, agent, monkeypatch, settings):
    """Every answer still owed after the delay, wherever it sits in its conversation (not only
    the tail); nothing the bot answered, handed off, or that a person has."""
    from tests.chat.conftest import turn_result

    settings.CHAT_OWED_ANSWER_REQUEUE_SECONDS = 30
    queued = []
    monkeypatch.setattr("chat.outbox._queue", lambda message_id, _conv: queued.append(message_id))
    now = timezone.now()
    minute_ago = now - timedelta(minutes=1)

    def started(at=minute_ago):
        conversation, _ = services.conversation_start(widget=widget, at=at)
        return conversation

    lost = started()
    lost_first = incoming(lost, text="first", at=minute_ago)
    lost_second = incoming(lost, text="second", at=minute_ago + timedelta(seconds=1))

    # Unanswered, followed by a later message the bot did answer.
    middle = started()
    lost_middle = incoming(middle, text="lost in the middle", at=minute_ago)
    services.bot_turn_record(
        message=incoming(middle, text="answered", at=minute_ago + timedelta(seconds=2)),
        result=turn_result(),
        at=minute_ago + timedelta(seconds=3),
    )

    answered = started()
    message = incoming(answered, at=minute_ago)
    services.bot_turn_record(message=message, result=turn_result(), at=minute_ago)

    too_recent = started(at=now)
    incoming(too_recent, at=now - timedelta(seconds=5))

    def claimed(at):
        """Handed over by the bot at ``at``, then claimed by the agent."""
        conversation = started()
        services.bot_turn_record(
            message=incoming(conversation, at=at),
            result=turn_result(decision="handoff", handoff_category="legal"),
            at=at,
        )
        services.conversation_claim(conversation=conversation, agent=agent)
        return conversation

    with_agent = claimed(minute_ago - timedelta(seconds=20))
    incoming(with_agent, text="to the agent", at=minute_ago)

    returned = claimed(minute_ago - timedelta(seconds=30))
    incoming(returned, text="seen by the agent", at=minute_ago - timedelta(seconds=20))
    services.conversation_return_to_bot(conversation=returned, agent=agent)

    assert tasks.owed_answers_dispatch() == 3
    assert queued == [lost_first.pk, lost_middle.pk, lost_second.pk]
    # Queued again only after another delay.
    assert tasks.owed_answers_dispatch() == 0


@pytest.mark.parametrize(
    ("presence", "connections", "online"),
    [
        (None, 0, False),  # no console ever opened
        (PresenceStatus.ONLINE, 0, False),  # its last tab closed
        (PresenceStatus.AWAY, 2, False),  # on a break
        (PresenceStatus.ONLINE, 1, True),
    ],
)
def test_the_handoff_message_says_whether_a_person_is_there(
    conversation, fake_bot, agent, presence, connections, online
):
    from chat.bot.escalation import OFFLINE_ENDING

    if presence is not None:
        AgentPresence.objects.create(user=agent, status=presence, connections=connections)
    message = incoming(conversation, text="my lawyer will call you")
    tasks.answer_message(message.pk)
    notice = Message.objects.get(in_reply_to=message)
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING  # a handoff either way
    assert notice.author == "system"
    if online:
        assert notice.text == "I am passing you to a colleague who can help with this."
    else:
        # The category's lead ("legal"), then that no one is online and the e-mail offer.
        assert notice.text == f"I understand this is serious. {OFFLINE_ENDING}"
        assert "colleague" not in notice.text


def test_a_reply_is_not_touched_when_no_agent_is_online(conversation, fake_bot):
    message = incoming(conversation, text="where is my parcel")
    tasks.answer_message(message.pk)
    assert Message.objects.get(in_reply_to=message).text == "Your order is on its way."


def test_a_reply_s_quick_replies_are_stored_and_framed(conversation, monkeypatch):
    from chat.realtime import message_frame
    from tests.chat.conftest import turn_result

    offered = turn_result(
        reply_text="What is your order number?", quick_replies=["I don't have it"]
    )
    monkeypatch.setattr("chat.tasks.answer_turn", lambda **kwargs: offered)
    message = incoming(conversation)
    tasks.answer_message(message.pk)
    reply = Message.objects.get(in_reply_to=message)
    assert reply.quick_replies == ["I don't have it"]
    assert message_frame(reply)["quick_replies"] == ["I don't have it"]
    assert "quick_replies" not in message_frame(message)  # none offered: no key


def test_a_handoff_stores_no_quick_replies(conversation, monkeypatch):
    from tests.chat.conftest import turn_result

    handoff = turn_result(decision="handoff", reply_text="A person will reply.",
                          handoff_category="other", quick_replies=["I don't have it"])
    monkeypatch.setattr("chat.tasks.answer_turn", lambda **kwargs: handoff)
    message = incoming(conversation)
    tasks.answer_message(message.pk)
    assert Message.objects.get(in_reply_to=message).quick_replies is None
