"""chat.selectors: what the widget's header and greeting show (issue 14), and the reads of
the bot's drains (histories, owed messages with their conversations)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from analytics.events import event_record
from analytics.models import EventName
from chat import selectors
from chat.models import AgentPresence, Message, PresenceStatus
from knowledge.models import Intent


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize(
    ("name", "initials"),
    [
        ("Acme Outfitters", "AO"),
        ("  acme  ", "A"),
        ("Dana de la Reyes", "DR"),
        ("Ünal Şahin", "ÜŞ"),
        ("— Acme & Co. —", "AC"),
        ("北京 商店", "北商"),
        ("", ""),
        ("!!! ???", ""),
    ],
)
def test_initials_of(name, initials):
    assert selectors.initials_of(name) == initials


def _first_reply(conversation, seconds, *, days_ago=0.0):
    event_record(
        name=EventName.FIRST_AGENT_REPLY, conversation=conversation, value=seconds,
        at=timezone.now() - timedelta(days=days_ago),
    )


def test_the_typical_reply_is_the_median_of_the_last_week(conversation):
    for seconds, days_ago in ((60, 1), (100, 2), (2000, 3), (130, 6.9), (9000, 8), (1, 30)):
        _first_reply(conversation, seconds, days_ago=days_ago)
    # Within 7 days: 60, 100, 130, 2000 -> the median of four is the mean of the middle two.
    assert selectors.typical_reply_seconds() == 115
    assert selectors.widget_face(conversation.widget)["reply_minutes"] == 2  # rounded up


def test_the_typical_reply_is_cached_and_none_without_replies(
    conversation, django_assert_num_queries
):
    with django_assert_num_queries(1):
        assert selectors.typical_reply_seconds() is None
    _first_reply(conversation, 600)
    with django_assert_num_queries(0):
        assert selectors.typical_reply_seconds() is None  # "none" is cached too
    cache.delete(selectors.REPLY_TIME_CACHE_KEY)
    assert selectors.typical_reply_seconds() == 600
    with django_assert_num_queries(0):
        assert selectors.typical_reply_seconds() == 600


def test_widget_face(widget, agent, django_assert_max_num_queries):
    widget.display_name = "  "
    face = selectors.widget_face(widget)
    assert face["display_name"] == "Acme" and face["initials"] == "A"  # the internal name
    assert face["agents_online"] == 0
    assert face["reply_minutes"] == selectors.DEFAULT_EXPECTED_WAIT_SECONDS // 60
    assert face["topics"] == []

    widget.display_name = "Acme Outfitters"
    AgentPresence.objects.create(user=agent, status=PresenceStatus.ONLINE, connections=1)
    labels = ["Track an order", "Returns", "Sizes", "Sign-in help", "Gift cards", "Warranty"]
    for number, label in enumerate(labels):
        Intent.objects.create(slug=f"topic_{number}", name=label, button_label=label)
    Intent.objects.create(slug="hidden", name="Hidden", button_label="Aaa first", is_active=False)
    Intent.objects.create(slug="unlabelled", name="Unlabelled")
    with django_assert_max_num_queries(3):  # presence, topics, the median (then cached)
        face = selectors.widget_face(widget)
    assert face["display_name"] == "Acme Outfitters" and face["initials"] == "AO"
    assert face["agents_online"] == 1
    # Active labelled intents only, at most five, by label.
    assert [t["label"] for t in face["topics"]] == sorted(labels)[:5]
    assert {t["intent"] for t in face["topics"]} <= {f"topic_{n}" for n in range(6)}


def test_messages_before_is_the_last_few_before_a_seq_oldest_first(conversation):
    from chat import services

    texts = [f"message {n}" for n in range(1, 8)]
    stored = [
        services.message_create_incoming(
            conversation=conversation, text=text, client_id=None, queue_bot=False
        )[0]
        for text in texts
    ]
    sixth = stored[5]
    assert selectors.messages_before(
        conversation_id=conversation.pk, seq=sixth.seq, limit=3
    ) == [("customer", "message 3"), ("customer", "message 4"), ("customer", "message 5")]
    assert selectors.messages_before(conversation_id=conversation.pk, seq=1, limit=20) == []


def test_histories_before_reads_several_conversations_as_messages_before_does(widget):
    from chat import services

    conversations = [services.conversation_start(widget=widget)[0] for _ in range(3)]
    stored = {}
    for number, conversation in enumerate(conversations):
        stored[conversation.pk] = [
            services.message_create_incoming(
                conversation=conversation, text=f"c{number} m{n}", client_id=None,
                queue_bot=False,
            )[0]
            for n in range(number * 4 + 1)  # 1, 5 and 9 messages
        ]
    points = [(c.pk, stored[c.pk][-1].seq) for c in conversations]
    histories = selectors.histories_before(points, limit=6)
    for conversation_id, seq in points:
        assert histories[conversation_id] == selectors.messages_before(
            conversation_id=conversation_id, seq=seq, limit=6
        )
    assert histories[conversations[0].pk] == []
    assert [text for _, text in histories[conversations[2].pk]] == [
        f"c2 m{n}" for n in range(2, 8)
    ]
    assert selectors.histories_before([], limit=6) == {}


def test_owed_messages_come_with_their_conversations_converted_as_the_orm_does(
    widget, django_assert_num_queries
):
    from chat import outbox, services
    from chat.models import Conversation

    conversation = services.conversation_start(widget=widget)[0]
    Conversation.objects.filter(pk=conversation.pk).update(dialog_state={"turns": 2})
    client_id = uuid.uuid4()
    message, _ = services.message_create_incoming(
        conversation=conversation, text="hello there", client_id=client_id, queue_bot=False
    )
    shard = outbox.drain_shard(conversation.pk)
    with django_assert_num_queries(3):
        [loaded] = outbox.owed_messages_in_shard(shard)
        assert loaded.conversation.dialog_state == {"turns": 2}  # no query: loaded with it
    expected = Message.objects.select_related("conversation").get(pk=message.pk)
    assert loaded.pk == message.pk and loaded.client_id == client_id
    for field in Message._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(expected, field.attname), field.name
    for field in Conversation._meta.concrete_fields:
        assert getattr(loaded.conversation, field.attname) == getattr(
            expected.conversation, field.attname), field.name
    assert loaded.created_at.tzinfo is not None
    assert outbox.owed_heads_in_shard(shard) == [(message.pk, conversation.pk)]
    assert outbox.owed_heads_in_shard(shard, exclude=[message.pk]) == []


def _lookup_turn(email: str, found: bool, orders: int = 0) -> dict:
    """A bot turn's trace that looked an order up with ``email`` (as chat.bot.pipeline keeps
    it): several ``orders`` give one call each, the first found or not, the others not."""
    call = {"connector": "Order status", "ok": found, "not_found": not found}
    if orders:
        calls = [call] + [{**call, "ok": False, "not_found": True}] * (orders - 1)
        call = {**call, "orders": calls}
    return {"dialog": {"details": {"order_number": "10023", "email": email}}, "connector": call}


def test_emails_refused_by_lookups_are_those_no_lookup_found_an_order_for(
    widget, monkeypatch, django_capture_on_commit_callbacks
):
    from chat import services
    from tests.chat.conftest import turn_result

    traces = {
        "order 10023, jo@example.com": _lookup_turn("jo@example.com", found=False),
        "Jo@Example.com again": _lookup_turn("Jo@Example.com", found=False),
        "sam@example.com then": _lookup_turn("SAM@example.com", found=False),
        "sorry, it's sam@example.com": _lookup_turn("sam@example.com", found=True),
        "10023 and 10024, kim@example.org": _lookup_turn("kim@example.org", found=True, orders=2),
        "lee@example.org": _lookup_turn("lee@example.org", found=False, orders=2),
        "no lookup, pat@example.com": {"dialog": {"details": {"email": "pat@example.com"}}},
        "lookup with no address": {"connector": {"ok": False, "not_found": True}},
    }
    monkeypatch.setattr(
        "chat.tasks.answer_turn",
        lambda *, text, **_: turn_result(trace=traces[text]),
    )
    conversation, _token = services.conversation_start(widget=widget)
    for text in traces:
        with django_capture_on_commit_callbacks(execute=True):
            services.message_create_incoming(
                conversation=conversation, text=text, client_id=uuid.uuid4()
            )
    assert selectors.emails_refused_by_lookups(conversation_id=conversation.pk) == [
        "jo@example.com", "lee@example.org"
    ]
    other, _token = services.conversation_start(widget=widget)
    assert selectors.emails_refused_by_lookups(conversation_id=other.pk) == []
