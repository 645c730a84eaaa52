"""chat.services: every write, its rules and the reporting events it records."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from analytics.models import ReportingEvent
from chat import services
from chat.models import BotTrace, Contact, Conversation, Message, Resolution
from tests.chat.conftest import turn_result

pytestmark = pytest.mark.django_db


def events(conversation, name=None):
    rows = ReportingEvent.objects.filter(conversation=conversation)
    if name:
        rows = rows.filter(name=name)
    return list(rows)


def incoming(conversation, text="hello", client_id=None, **kwargs):
    return services.message_create_incoming(
        conversation=conversation, text=text, client_id=client_id or uuid.uuid4(), **kwargs
    )


def test_conversation_start_stores_only_the_token_hash(widget):
    conversation, token = services.conversation_start(widget=widget)
    assert len(token) >= 40
    assert conversation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in conversation.token_hash
    [event] = events(conversation)
    assert event.name == "conversation_started"
    assert event.widget_id == widget.pk
    assert event.conversation_started_at == conversation.created_at


def test_conversation_start_backdates(widget):
    at = timezone.now() - timedelta(days=3)
    conversation, _ = services.conversation_start(widget=widget, at=at)
    assert conversation.created_at == at
    assert events(conversation)[0].occurred_at == at


def test_incoming_messages_get_consecutive_seqs(conversation):
    first, created = incoming(conversation, queue_bot=False)
    second, _ = incoming(conversation, queue_bot=False)
    assert created
    assert (first.seq, second.seq) == (1, 2)
    conversation.refresh_from_db()
    assert conversation.last_seq == 2
    assert conversation.last_customer_message_at == second.created_at


def test_a_resent_client_id_is_stored_once(conversation):
    client_id = uuid.uuid4()
    first, created_first = incoming(conversation, client_id=client_id, queue_bot=False)
    again, created_again = incoming(conversation, text="other", client_id=client_id)
    assert created_first and not created_again
    assert again.pk == first.pk and again.text == "hello"
    assert Message.objects.filter(conversation=conversation).count() == 1
    conversation.refresh_from_db()
    assert conversation.last_seq == 1


def test_an_incoming_message_is_three_statements(conversation):
    """The bump (which locks the row), the message with its duplicate check, its owed
    answer."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    incoming(conversation, queue_bot=False)
    with CaptureQueriesContext(connection) as captured:
        message, created = incoming(conversation, text="where is my parcel", queue_bot=False)
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries
                  if "SAVEPOINT" not in q["sql"].upper()]
    assert created and message.seq == 2
    assert statements == ["UPDATE", "INSERT", "INSERT"]
    [insert] = [q["sql"].upper() for q in captured.captured_queries
                if "INTO \"CHAT_MESSAGE\"" in q["sql"].upper()]
    assert "WHERE NOT EXISTS" in insert


def test_a_resend_gives_its_bump_back_and_leaves_the_instance_as_it_was(conversation):
    client_id = uuid.uuid4()
    first, _ = incoming(conversation, client_id=client_id, queue_bot=False)
    held = (conversation.last_seq, conversation.updated_at,
            conversation.last_customer_message_at)
    again, created = incoming(conversation, text="again", client_id=client_id)
    assert not created and again.pk == first.pk
    assert (conversation.last_seq, conversation.updated_at,
            conversation.last_customer_message_at) == held
    after, _ = incoming(conversation, queue_bot=False)
    assert after.seq == 2  # the rolled-back bump left no gap
    assert not Message.objects.filter(text="again").exists()


@pytest.mark.parametrize(
    "text", ["", "   ", "\u200b\u200b", "\ufeff\u00ad\u2060 \u3164", "\u2800" * 50]
)
def test_a_message_that_shows_nothing_is_refused_and_nothing_is_stored(conversation, text):
    with pytest.raises(ValueError):
        incoming(conversation, text=text, queue_bot=False)
    assert not Message.objects.filter(conversation=conversation).exists()


def test_the_stored_message_keeps_the_customers_exact_text(conversation):
    text = "\uff37here is my\u200b order\u00ad? \ufb01ne, ÉTÉ"
    message, _ = incoming(conversation, text=text, queue_bot=False)
    message.refresh_from_db()
    assert message.text == text


def test_the_bot_task_is_queued_on_commit_only(
    conversation, fake_bot, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        incoming(conversation, text="where is my order")
    assert fake_bot.calls == []  # nothing ran before the commit
    for callback in callbacks:
        callback()
    assert fake_bot.calls == ["where is my order"]
    reply = Message.objects.get(conversation=conversation, author="bot")
    assert reply.text == "Your order is on its way."


def test_no_bot_task_when_an_agent_has_the_conversation(
    conversation, agent, fake_bot, django_capture_on_commit_callbacks
):
    services.conversation_claim(conversation=conversation, agent=agent)
    with django_capture_on_commit_callbacks(execute=True):
        incoming(conversation, text="still there?")
    assert fake_bot.calls == []


def test_bot_reply_is_recorded_once_with_trace_and_events(conversation):
    message, _ = incoming(conversation, queue_bot=False)
    reply = services.bot_turn_record(message=message, result=turn_result())
    again = services.bot_turn_record(message=message, result=turn_result())
    assert reply is not None and again is None
    assert reply.author == "bot" and reply.in_reply_to == message and reply.seq == 2
    assert reply.articles == [{"id": 1, "title": "Tracking your order"}]
    assert Message.objects.filter(conversation=conversation, author="bot").count() == 1
    trace = BotTrace.objects.get(message=message)
    assert trace.intent == "order_status" and trace.decision == "reply"
    assert trace.stages["intent"] == "order_status"
    [replied] = events(conversation, "bot_replied")
    assert replied.intent == "order_status" and replied.value >= 0
    conversation.refresh_from_db()
    assert conversation.last_seq == 2  # the rolled-back second run left no gap
    assert conversation.dialog_state == {"turns": 1}
    assert conversation.intent == "order_status"
    assert conversation.last_bot_reply_at == reply.created_at


def test_bot_reply_latency_is_measured_from_the_inbound_message(conversation):
    start = timezone.now() - timedelta(seconds=2)
    message, _ = incoming(conversation, queue_bot=False, at=start)
    services.bot_turn_record(
        message=message, result=turn_result(), at=start + timedelta(milliseconds=250)
    )
    [replied] = events(conversation, "bot_replied")
    assert replied.value == pytest.approx(250)


def test_fallback_turn_records_a_fallback_event(conversation):
    message, _ = incoming(conversation, queue_bot=False)
    services.bot_turn_record(
        message=message,
        result=turn_result(intent="general_inquiry", confidence=0.12, is_fallback=True),
    )
    [fallback] = events(conversation, "fallback")
    assert fallback.intent == "general_inquiry" and fallback.value == pytest.approx(0.12)


def test_handoff_moves_to_the_queue_with_a_system_notice(conversation):
    message, _ = incoming(conversation, queue_bot=False)
    notice = services.bot_turn_record(
        message=message,
        result=turn_result(
            decision="handoff",
            reply_text="A colleague will take over.",
            handoff_reason="legal threat",
            handoff_category="legal",
            intent="complaint",
        ),
    )
    assert notice.author == "system" and notice.text == "A colleague will take over."
    conversation.refresh_from_db()
    assert conversation.status == "waiting"
    assert conversation.handoff_category == "legal"
    assert conversation.handed_off_at == notice.created_at
    [handoff] = events(conversation, "handoff")
    assert handoff.category == "legal" and handoff.intent == "complaint"
    assert events(conversation, "bot_replied") == []


def test_no_bot_turn_once_an_agent_took_over(conversation, agent):
    message, _ = incoming(conversation, queue_bot=False)
    services.conversation_claim(conversation=conversation, agent=agent)
    stale = Message.objects.select_related("conversation").get(pk=message.pk)
    assert services.bot_turn_record(message=stale, result=turn_result()) is None
    assert not BotTrace.objects.exists()


def test_claim_and_first_agent_reply(conversation, agent, other_agent):
    message, _ = incoming(conversation, queue_bot=False)
    handed = timezone.now() - timedelta(seconds=90)
    services.bot_turn_record(
        message=message,
        result=turn_result(decision="handoff", handoff_category="legal", handoff_reason="x"),
        at=handed,
    )
    services.conversation_claim(conversation=conversation, agent=agent)
    assert conversation.status == "agent" and conversation.assignee == agent
    with pytest.raises(services.ConversationStateError):
        services.conversation_claim(conversation=conversation, agent=other_agent)
    joined = Message.objects.filter(conversation=conversation, author="system").last()
    # Customers see the desk's public name for agents, never an account's name.
    assert joined.text == "Support team joined the conversation."
    assert agent.get_username() not in joined.text and agent.first_name not in joined.text

    first = services.agent_message_create(
        conversation=conversation, agent=agent, text="Hi, Alex here"
    )
    services.agent_message_create(conversation=conversation, agent=agent, text="Looking now")
    assert first.author == "agent" and first.sender == agent
    [first_reply] = events(conversation, "first_agent_reply")
    assert first_reply.agent == agent and first_reply.value >= 90
    assert len(events(conversation, "agent_replied")) == 2


def test_agent_message_needs_text_and_its_own_claim(conversation, agent, other_agent):
    with pytest.raises(ValueError):
        services.agent_message_create(conversation=conversation, agent=agent, text="  ")
    with pytest.raises(ValueError):
        services.agent_message_create(conversation=conversation, agent=agent,
                                      text="\u200b\u2060\u3164")
    services.conversation_claim(conversation=conversation, agent=agent)
    with pytest.raises(services.ConversationStateError):
        services.agent_message_create(conversation=conversation, agent=other_agent, text="mine")
    assert not Message.objects.filter(author="agent").exists()


def test_resolve_records_once(conversation, agent):
    services.conversation_claim(conversation=conversation, agent=agent)
    services.conversation_resolve(
        conversation=conversation, resolution=Resolution.AGENT, agent=agent
    )
    services.conversation_resolve(
        conversation=conversation, resolution=Resolution.AGENT, agent=agent
    )
    conversation.refresh_from_db()
    assert conversation.status == "resolved" and conversation.resolution == "agent"
    [resolved] = events(conversation, "resolved")
    assert resolved.category == "agent" and resolved.agent == agent and resolved.value >= 0
    with pytest.raises(ValueError):
        services.conversation_resolve(conversation=conversation, resolution="bogus")


def test_writing_again_reopens_a_resolved_conversation(conversation):
    services.conversation_resolve(conversation=conversation, resolution=Resolution.BOT_CONFIRMED)
    incoming(conversation, queue_bot=False)
    conversation.refresh_from_db()
    assert conversation.status == "bot" and conversation.resolution == ""
    [reopened] = events(conversation, "reopened")
    assert reopened.category == "bot_confirmed"


def test_return_to_bot_resets_the_dialog(conversation, agent):
    Conversation.objects.filter(pk=conversation.pk).update(dialog_state={"turns": 9})
    services.conversation_claim(conversation=conversation, agent=agent)
    services.conversation_return_to_bot(conversation=conversation, agent=agent)
    conversation.refresh_from_db()
    assert conversation.status == "bot" and conversation.assignee is None
    assert conversation.dialog_state == {}
    assert Message.objects.filter(conversation=conversation, author="system").count() == 2


def test_rating_once_within_range(conversation):
    services.conversation_resolve(conversation=conversation, resolution=Resolution.BOT_CONFIRMED)
    with pytest.raises(ValueError):
        services.conversation_rate(conversation=conversation, score=6)
    with pytest.raises(ValueError, match="at most"):  # refused whole, never cut
        services.conversation_rate(
            conversation=conversation, score=4, comment="x" * (settings.CHAT_MAX_MESSAGE_CHARS + 1)
        )
    services.conversation_rate(conversation=conversation, score=4, comment=" quick ")
    with pytest.raises(services.ConversationStateError):
        services.conversation_rate(conversation=conversation, score=5)
    conversation.refresh_from_db()
    assert (conversation.rating, conversation.rating_comment) == (4, "quick")
    [rating] = events(conversation, "rating_given")
    assert rating.value == 4


def test_abandon_records_the_status_it_was_in(conversation):
    Conversation.objects.filter(pk=conversation.pk).update(status="waiting")
    services.conversation_abandon(conversation=conversation)
    services.conversation_abandon(conversation=conversation)
    conversation.refresh_from_db()
    assert conversation.status == "abandoned"
    [abandoned] = events(conversation, "abandoned")
    assert abandoned.category == "waiting"


def test_contact_is_validated_and_linked(conversation):
    with pytest.raises(ValueError):
        services.conversation_contact_set(conversation=conversation, email="not-an-email")
    assert not Contact.objects.exists()
    contact = services.conversation_contact_set(conversation=conversation, email="kim@example.com")
    conversation.refresh_from_db()
    assert conversation.contact == contact and contact.widget_id == conversation.widget_id


def test_broadcasts_wait_for_the_commit(
    conversation, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr("chat.realtime.broadcast_message", lambda m: sent.append(m.seq))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        incoming(conversation, queue_bot=False)
    assert sent == []
    for callback in callbacks:
        callback()
    assert sent == [1]


def test_a_trace_that_only_to_dict_makes_json_safe_is_still_stored(conversation):
    from chat.bot.types import Classification

    message, _ = incoming(conversation, queue_bot=False)
    nested = Classification(intent="order_status", confidence=0.9, top_intents=[])
    services.bot_turn_record(message=message, result=turn_result(trace={"classify": nested}))
    stages = BotTrace.objects.get(message=message).stages
    assert stages["trace"]["classify"]["intent"] == "order_status"


# --- Outside a transaction (the server and the worker): one statement per write on PostgreSQL


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_incoming_messages_are_stored_once(conversation):
    client_id = uuid.uuid4()
    first, created = incoming(conversation, queue_bot=False, client_id=client_id)
    again, created_again = incoming(conversation, queue_bot=False, client_id=client_id)
    second, _ = incoming(conversation, queue_bot=False)
    assert created and not created_again and again.pk == first.pk
    assert (first.seq, second.seq) == (1, 2) and conversation.last_seq == 2
    stored = Message.objects.get(pk=first.pk)
    assert (stored.seq, stored.author, stored.client_id, stored.text) == (
        1, "customer", client_id, "hello"
    )
    conversation.refresh_from_db()
    assert conversation.last_seq == 2  # the refused resend left no gap
    assert conversation.last_customer_message_at == second.created_at


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_message_reopens_a_resolved_conversation(conversation):
    services.conversation_resolve(conversation=conversation, resolution=Resolution.AGENT)
    message, created = incoming(conversation, queue_bot=False)
    assert created and message.seq == 1
    conversation.refresh_from_db()
    assert conversation.status == "bot" and conversation.resolved_at is None
    assert len(events(conversation, "reopened")) == 1


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_bot_turn_is_recorded_once(conversation, agent):
    message, _ = incoming(conversation, queue_bot=False)
    reply = services.bot_turn_record(
        message=message, result=turn_result(is_fallback=True, confidence=0.2)
    )
    assert services.bot_turn_record(message=message, result=turn_result()) is None
    assert reply.pk == Message.objects.get(in_reply_to=message).pk and reply.seq == 2
    stored = Message.objects.get(pk=reply.pk)
    assert stored.articles == [{"id": 1, "title": "Tracking your order"}]
    assert stored.created_at == reply.created_at and stored.author == "bot"
    trace = BotTrace.objects.get(message=message)
    assert trace.stages["intent"] == "order_status" and trace.stages["trace"] == {"stages": []}
    assert [e.name for e in events(conversation)][-2:] == ["fallback", "bot_replied"]
    conversation.refresh_from_db()
    assert conversation.last_seq == 2 and conversation.dialog_state == {"turns": 1}

    later, _ = incoming(conversation, queue_bot=False)
    notice = services.bot_turn_record(
        message=later,
        result=turn_result(decision="handoff", handoff_category="legal", handoff_reason="x"),
    )
    assert notice.author == "system"
    conversation.refresh_from_db()
    assert conversation.status == "waiting" and conversation.handoff_category == "legal"
    [handoff] = events(conversation, "handoff")
    assert handoff.category == "legal" and handoff.widget_id == conversation.widget_id

    services.conversation_claim(conversation=conversation, agent=agent)
    last, _ = incoming(conversation, queue_bot=False)
    assert services.bot_turn_record(message=last, result=turn_result()) is None
    assert not Message.objects.filter(in_reply_to=last).exists()


def test_the_customer_s_time_zone_is_stored_once(conversation, django_assert_num_queries):
    assert services.conversation_timezone_set(conversation=conversation, zone="Europe/Madrid")
    conversation.refresh_from_db()
    assert conversation.timezone == "Europe/Madrid"
    with django_assert_num_queries(0):
        assert not services.conversation_timezone_set(conversation=conversation,
                                                      zone="Europe/Madrid")


@pytest.mark.parametrize("zone", ["Europe/Nowhere", "../etc/passwd", "localtime", "", "x" * 65,
                                  "Europe/Madrid ", "EUROPE/MADRID"])
def test_an_unknown_time_zone_is_refused(conversation, zone):
    with pytest.raises(ValueError):
        services.conversation_timezone_set(conversation=conversation, zone=zone)
    conversation.refresh_from_db()
    assert conversation.timezone == ""


@pytest.mark.django_db(transaction=True)
def test_a_resend_waiting_for_the_lock_finds_the_message_committed_meanwhile(conversation):
    """Two sends of one client id at once (two sockets, two Daphne processes): the second
    waits for the first's row lock, then sees its message: one stored, no error."""
    import threading

    from django.db import connection, connections, transaction

    if connection.vendor != "postgresql":
        pytest.skip("row locks that make a second writer wait are PostgreSQL's")
    client_id = uuid.uuid4()
    outcome: dict = {}

    def second_send() -> None:
        try:
            copy = Conversation.objects.get(pk=conversation.pk)
            outcome["result"] = incoming(copy, text="twice", client_id=client_id, queue_bot=False)
        except Exception as error:  # pragma: no cover - reported by the assertion below
            outcome["error"] = error
        finally:
            connections.close_all()

    with transaction.atomic():
        first, _ = incoming(conversation, text="twice", client_id=client_id, queue_bot=False)
        thread = threading.Thread(target=second_send)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # waiting for the conversation's row lock
    thread.join(10)
    assert "error" not in outcome, outcome.get("error")
    message, created = outcome["result"]
    assert not created and message.pk == first.pk
    assert Message.objects.filter(conversation=conversation).count() == 1
    conversation.refresh_from_db()
    assert conversation.last_seq == 1


def test_turns_stored_together_take_n_plus_four_statements(widget, agent):
    """Three turns: the DELETE of their owed answers, a bump per conversation the bot still
    has, and one INSERT each for the replies, traces and events; a turn whose conversation an
    agent took is settled, not answered, and a turn answered already is left alone."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    conversations = [services.conversation_start(widget=widget)[0] for _ in range(4)]
    messages = [incoming(c, text=f"question {n}")[0] for n, c in enumerate(conversations)]
    services.conversation_claim(conversation=conversations[2], agent=agent)  # settles it
    services.owed_answer_settle(message=messages[3])  # answered elsewhere meanwhile
    results = [turn_result(reply_text=f"answer {n}") for n in range(4)]
    results[1] = turn_result(reply_text="fallback", is_fallback=True, confidence=0.1)
    with CaptureQueriesContext(connection) as captured:
        replies = services.bot_turns_record(list(zip(messages, results, strict=True)))
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries
                  if "SAVEPOINT" not in q["sql"].upper()]
    assert statements == ["DELETE", "UPDATE", "UPDATE", "INSERT", "INSERT", "INSERT"]
    assert replies[2] is None and replies[3] is None
    for message, reply, text in zip(messages[:2], replies[:2], ("answer 0", "fallback"),
                                    strict=True):
        stored = Message.objects.get(in_reply_to=message)
        assert reply.pk == stored.pk and reply.text == stored.text == text
        assert reply.seq == stored.seq == 2 and reply.conversation_id == message.conversation_id
        assert BotTrace.objects.filter(message=message).count() == 1
    assert [e.name for e in events(conversations[1])][-2:] == ["fallback", "bot_replied"]
    assert not Message.objects.filter(in_reply_to__in=messages[2:]).exists()
    with pytest.raises(ValueError):
        services.bot_turns_record([(messages[0], results[0]), (messages[0], results[1])])


@pytest.mark.parametrize("address", [
    "user@localhost", "x@[127.0.0.1]", "x@[IPv6:::1]", "a@b", "x@@y.com", "<script>@x.com",
    "kim@customer", "kim@customer.", "kim @customer.example", "", "k" * 250 + "@x.example",
])
def test_an_address_a_mail_could_not_reach_is_refused_when_left(address):
    with pytest.raises(ValueError):
        services.check_email(address)


@pytest.mark.parametrize("address", [
    "kim@customer.example", "o'neil@shop.co.uk", "user+tag@sub.example.org",
    "jo@bücher.example", "UPPER@Example.COM",
])
def test_an_ordinary_address_is_accepted_as_written(address):
    assert services.check_email(address) == address
