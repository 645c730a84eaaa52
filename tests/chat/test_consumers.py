"""ChatConsumer through the real ASGI application: every frame type and every bad frame."""

from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from chat import realtime, services
from chat.models import Contact, Conversation, Message, OwedEmail, Widget
from supportdesk.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

SHOP = b"https://shop.example"
TIMEOUT = 5


async def open_socket(
    origin: bytes | None = SHOP, host: bytes | None = b"testserver"
) -> tuple[WebsocketCommunicator, bool, int]:
    headers = [(b"host", host)] if host is not None else []
    if origin is not None:
        headers.append((b"origin", origin))
    comm = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    connected, code = await comm.connect(timeout=TIMEOUT)
    return comm, connected, code


async def joined_socket(conversation, token, after_seq=0, origin=SHOP, **extra):
    comm, connected, _ = await open_socket(origin)
    assert connected
    await comm.send_json_to(
        {"type": "join", "conversation_id": str(conversation.public_id), "token": token,
         "after_seq": after_seq, **extra}
    )
    frame = await comm.receive_json_from(timeout=TIMEOUT)
    assert frame["type"] == "joined", frame
    return comm, frame


async def receive_until(comm, predicate, limit=12) -> list[dict]:
    frames = []
    for _ in range(limit):
        frame = await comm.receive_json_from(timeout=TIMEOUT)
        frames.append(frame)
        if predicate(frame):
            return frames
    raise AssertionError(f"no matching frame in {frames}")


def is_bot_message(frame: dict) -> bool:
    return frame["type"] == "message" and frame["author"] == "bot"


def message(text="where is my order?", client_id=None) -> dict:
    return {"type": "message", "client_id": client_id or str(uuid.uuid4()), "text": text}


@database_sync_to_async
def count_messages(**filters) -> int:
    return Message.objects.filter(**filters).count()


@pytest.fixture
def started(widget):
    return services.conversation_start(widget=widget)


# --- Handshake and join ----------------------------------------------------------------------


async def test_a_foreign_origin_is_refused_at_the_handshake(widget):
    _, connected, code = await open_socket(b"https://evil.example")
    assert not connected and code == 4403


async def test_a_missing_origin_is_refused(widget):
    _, connected, _ = await open_socket(None)
    assert not connected


@pytest.mark.parametrize("host", [b"evil.example", b"testserver.evil.example", None, b"a b"])
async def test_a_host_outside_allowed_hosts_is_refused_at_the_handshake(widget, host):
    comm, connected, _ = await open_socket(SHOP, host=host)
    assert not connected
    await comm.disconnect()


async def test_the_servers_own_origin_is_accepted(widget):
    comm, connected, _ = await open_socket(b"http://testserver")
    assert connected
    await comm.disconnect()


async def test_join_answers_with_the_state(started):
    conversation, token = started
    comm, joined = await joined_socket(conversation, token)
    assert joined["conversation_id"] == str(conversation.public_id)
    assert joined["status"] == "bot" and joined["last_seq"] == 0
    assert joined["agents_online"] == 0 and joined["max_chars"] == 2000
    assert await comm.receive_nothing()
    await comm.disconnect()


async def test_every_joined_socket_hears_when_agents_come_online_or_leave(
    started, agent, other_agent
):
    """The widget's header kept "We'll reply by e-mail" after an agent came online: the count
    reached it only on join and handoff."""
    from chat.console.services import presence_connect, presence_disconnect, presence_set_status

    conversation, token = started
    comm, joined = await joined_socket(conversation, token)
    assert joined["agents_online"] == 0 and joined["refused_emails"] == []
    connect = database_sync_to_async(presence_connect)
    disconnect = database_sync_to_async(presence_disconnect)
    await connect(agent=agent)
    assert await comm.receive_json_from(timeout=TIMEOUT) == {
        "type": "availability", "agents_online": 1
    }
    await connect(agent=agent)  # a second console tab of the same agent: no change
    await connect(agent=other_agent)
    assert await comm.receive_json_from(timeout=TIMEOUT) == {
        "type": "availability", "agents_online": 2
    }
    await database_sync_to_async(presence_set_status)(agent=other_agent, status="away")
    assert (await comm.receive_json_from(timeout=TIMEOUT))["agents_online"] == 1
    await disconnect(agent=agent)  # one of two tabs: still online
    assert await comm.receive_nothing()
    await disconnect(agent=agent)
    assert await comm.receive_json_from(timeout=TIMEOUT) == {
        "type": "availability", "agents_online": 0
    }
    await comm.disconnect()
    await connect(agent=agent)  # a socket that left hears nothing more (nor fails the send)


@database_sync_to_async
def stored_zone(conversation) -> str:
    return Conversation.objects.values_list("timezone", flat=True).get(pk=conversation.pk)


@pytest.mark.parametrize("zone", [
    "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe",
    "America/Argentina/Buenos_Aires", "UTC", "Etc/GMT+5", "Asia/Calcutta",
])
async def test_join_stores_the_browser_s_time_zone(started, zone):
    conversation, token = started
    comm, joined = await joined_socket(conversation, token, timezone=zone)
    assert joined["timezone"] == zone
    assert await stored_zone(conversation) == zone
    await comm.disconnect()


async def test_a_later_join_changes_the_zone_and_one_without_a_zone_keeps_it(started):
    conversation, token = started
    comm, joined = await joined_socket(conversation, token)
    assert joined["timezone"] == ""  # none yet: the desk's TIME_ZONE
    await comm.disconnect()
    comm, joined = await joined_socket(conversation, token, timezone="Asia/Tokyo")
    await comm.disconnect()
    comm, joined = await joined_socket(conversation, token, timezone="Europe/Lisbon")
    assert joined["timezone"] == "Europe/Lisbon"
    await comm.disconnect()
    comm, joined = await joined_socket(conversation, token)
    assert joined["timezone"] == "Europe/Lisbon"
    assert await stored_zone(conversation) == "Europe/Lisbon"
    await comm.disconnect()


@pytest.mark.parametrize("zone", [
    "Mars/Olympus_Mons", "Etc/Unknown", "../../../../etc/passwd", "/usr/share/zoneinfo/UTC",
    "localtime", "posixrules", "america/new_york", " Europe/Paris",
    "A/" + "B" * 70, "", 42, None, ["Europe/Paris"], {"zone": "UTC"}, True, "GMT+2", "EST5EDT ",
])
async def test_an_unknown_zone_is_ignored_and_the_join_goes_on(started, zone):
    conversation, token = started
    comm, joined = await joined_socket(conversation, token, timezone="Asia/Tokyo")
    await comm.disconnect()
    comm, joined = await joined_socket(conversation, token, timezone=zone)
    assert joined["timezone"] == "Asia/Tokyo"  # the zone it had
    assert await stored_zone(conversation) == "Asia/Tokyo"
    await comm.send_json_to({"type": "typing", "is_typing": False})  # joined: frames work
    assert await comm.receive_nothing()
    await comm.disconnect()


async def test_a_zone_with_nul_refuses_the_whole_join_as_bad_text(started):
    """NUL anywhere in a frame is bad_text (issue 15, item 8), a join's zone included."""
    conversation, token = started
    comm, _, _ = await open_socket()
    await comm.send_json_to({"type": "join", "conversation_id": str(conversation.public_id),
                             "token": token, "timezone": "Europe/Paris\u0000"})
    assert (await comm.receive_json_from())["code"] == "bad_text"
    assert await stored_zone(conversation) == ""
    await comm.disconnect()


async def test_an_unknown_zone_on_a_new_conversation_leaves_the_desk_s(started):
    conversation, token = started
    comm, joined = await joined_socket(conversation, token, timezone="Nowhere/Special")
    assert joined["timezone"] == "" and await stored_zone(conversation) == ""
    await comm.disconnect()


async def test_a_wrong_token_is_an_error_and_joins_nothing(started):
    conversation, _ = started
    comm, _, _ = await open_socket()
    await comm.send_json_to(
        {"type": "join", "conversation_id": str(conversation.public_id), "token": "guess",
         "after_seq": 0}
    )
    assert (await comm.receive_json_from())["code"] == "bad_token"
    await comm.send_json_to(message())
    assert (await comm.receive_json_from())["code"] == "not_joined"
    assert await count_messages() == 0
    await comm.disconnect()


async def test_join_from_an_origin_this_widget_does_not_allow(started):
    await database_sync_to_async(Widget.objects.create)(
        public_key="other", name="Other", allowed_origins=["https://other.example"]
    )
    conversation, token = started
    comm, connected, _ = await open_socket(b"https://other.example")
    assert connected  # some widget allows the origin, just not this conversation's
    await comm.send_json_to(
        {"type": "join", "conversation_id": str(conversation.public_id), "token": token,
         "after_seq": 0}
    )
    assert (await comm.receive_json_from())["code"] == "origin_not_allowed"
    await comm.disconnect()


@pytest.mark.parametrize("kind", ["internal id", "internal id as text", "not a uuid"])
async def test_a_join_by_the_internal_id_is_refused(started, kind):
    """Issue 15, item 11: customers know a conversation by its random public id only."""
    conversation, token = started
    value = {"internal id": conversation.pk, "internal id as text": str(conversation.pk),
             "not a uuid": "12345678-1234"}[kind]
    comm, _, _ = await open_socket()
    await comm.send_json_to({"type": "join", "conversation_id": value, "token": token})
    assert (await comm.receive_json_from())["code"] == "missing_field"
    await comm.send_json_to(message())
    assert (await comm.receive_json_from())["code"] == "not_joined"
    await comm.disconnect()


async def test_frames_to_the_customer_carry_the_public_id(started, agent):
    conversation, token = started
    comm, joined = await joined_socket(conversation, token)
    assert joined["conversation_id"] == str(conversation.public_id)
    await database_sync_to_async(services.conversation_claim)(conversation=conversation,
                                                              agent=agent)
    frame = (await receive_until(comm, lambda f: f["type"] == "conversation"))[-1]
    assert frame["conversation_id"] == str(conversation.public_id)
    await comm.disconnect()


async def test_joining_twice_is_an_error(started):
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to(
        {"type": "join", "conversation_id": str(conversation.public_id), "token": token}
    )
    assert (await comm.receive_json_from())["code"] == "already_joined"
    await comm.disconnect()


# --- Bad frames --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        (json.dumps({"type": "shout"}), "unknown_type"),
        (json.dumps({"text": "no type"}), "unknown_type"),
        (json.dumps({"type": ["message"]}), "unknown_type"),
        ("[" * 5000 + "]" * 5000, "bad_json"),
        (json.dumps({"type": "message", "text": "no id"}), "missing_field"),
        (json.dumps({"type": "message", "client_id": "nope", "text": "x"}), "missing_field"),
        (
            json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": 5}),
            "missing_field",
        ),
        (
            json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": "  "}),
            "empty_text",
        ),
        (
            json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": "x" * 2001}),
            "text_too_long",
        ),
        # Invisible-only text is refused like empty text: format characters (zero-width
        # space, joiners, BOM, soft hyphen, bidi marks, word joiner) and fillers (Hangul
        # fillers, braille blank), alone, mixed with whitespace, or many of them.
        *(
            (
                json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": text}),
                "empty_text",
            )
            for text in (
                "\u200b\u200b",
                "\u200c\u200d\ufeff",
                " \u00ad \u200e\u200f ",
                "\u2060" * 300,
                "\u3164\u115f\u1160",
                "\u2800\n\u2800",
                "\u202a\u202c\u2066\u2069\u180e",
                "\uffa0\ufe0f\u034f\t\u3000",
            )
        ),
        ("x" * 40000, "frame_too_large"),
        # Decoded, the frame's strings are over the limit however few escapes they used.
        (
            json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": "x" * 2000,
                        "pad": "y" * 2000}),
            "frame_too_large",
        ),
        # Issue 15, item 8: NUL and lone surrogate halves (half an emoji at the end), in the
        # text or anywhere else in the frame, are refused as bad_text.
        *(
            (
                '{"type": "message", "client_id": "' + str(uuid.uuid4()) + '", "text": "'
                + text + '"}',
                "bad_text",
            )
            for text in ("nul \\u0000 inside", "half an emoji \\ud83d", "\\ude00 tail first",
                         "\\udfff\\ud800")
        ),
        ('{"type": "contact", "email": "a\\u0000@example.com"}', "bad_text"),
        ('{"type": "rating", "score": 5, "comment": "\\ud800"}', "bad_text"),
        # Item 5: huge integers, NaN and nesting are bad JSON before any handler sees them.
        ('{"type": "feedback", "helpful": true, "seq": 1' + "0" * 4000 + "}", "bad_json"),
        ('{"type": "feedback", "helpful": true, "seq": 99999999999999999999}', "bad_json"),
        ('{"type": "feedback", "helpful": true, "seq": NaN}', "bad_json"),
        ('{"type": "rating", "score": -Infinity}', "bad_json"),
        ('{"type": "message", "text": [[["deep"]]]}', "bad_json"),
        (json.dumps({"type": "typing", "is_typing": "yes"}), "missing_field"),
        (json.dumps({"type": "rating", "score": 9}), "bad_rating"),
        (json.dumps({"type": "rating", "score": True}), "bad_rating"),
        (json.dumps({"type": "feedback", "helpful": True}), "missing_field"),
        (json.dumps({"type": "contact", "email": "nobody"}), "bad_email"),
    ],
)
async def test_bad_frames_get_an_error_and_change_nothing(started, raw, code, caplog):
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    await comm.send_to(text_data=raw)
    frame = await comm.receive_json_from(timeout=TIMEOUT)
    assert frame["type"] == "error" and frame["code"] == code and frame["message"]
    assert not [r for r in caplog.records if r.exc_info], "bad input is answered, not logged"
    if code in {"empty_text", "text_too_long"}:
        # Refused for good: the frame names the message, so the client drops it.
        assert frame["client_id"] == json.loads(raw)["client_id"]
    else:
        assert "client_id" not in frame
    assert await count_messages() == 0
    assert not await database_sync_to_async(Contact.objects.exists)()
    await comm.send_json_to(message("still works"))  # the connection stays usable
    frames = await receive_until(comm, lambda f: f["type"] == "message")
    assert frames[-1]["text"] == "still works"
    await comm.disconnect()


@pytest.mark.parametrize("char", ["\U0001F600", "é", "\u4e2d", "\n"])
async def test_a_message_at_the_limit_fits_however_it_is_escaped(started, char):
    """Issue 15, item 9: 1,500 emoji sent escaped were refused as frame_too_large."""
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    text = "a" + char * 1998 + "z"  # 2,000 characters: the limit
    client_id = str(uuid.uuid4())
    raw = json.dumps({"type": "message", "client_id": client_id, "text": text}, ensure_ascii=True)
    assert len(raw) > 6 * 2000 + 1024 or char in "é\n\u4e2d"
    await comm.send_to(text_data=raw)
    frames = await receive_until(comm, lambda f: f["type"] in ("message", "error"))
    assert frames[-1]["type"] == "message" and frames[-1]["client_id"] == client_id
    stored = await database_sync_to_async(
        lambda: Message.objects.get(conversation=conversation, author="customer").text
    )()
    assert stored == text
    await comm.disconnect()


async def test_invisible_characters_inside_a_message_are_stored_as_sent(started):
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    text = "hu\u200bman ple\u00adase \u3164"
    await comm.send_json_to(message(text))
    frames = await receive_until(comm, lambda f: f["type"] == "message")
    assert frames[-1]["text"] == text
    stored = await database_sync_to_async(
        lambda: Message.objects.get(conversation=conversation, author="customer").text
    )()
    assert stored == text
    await comm.disconnect()


async def test_a_message_before_join_is_refused(started):
    comm, _, _ = await open_socket()
    await comm.send_json_to(message())
    assert (await comm.receive_json_from())["code"] == "not_joined"
    assert await count_messages() == 0
    await comm.disconnect()


async def test_too_many_messages_too_fast(started, settings):
    settings.CHAT_RATE_LIMIT_MESSAGES = 2
    settings.CHAT_RATE_LIMIT_SECONDS = 60
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    for text in ("one", "two"):
        await comm.send_json_to(message(text))
        await receive_until(comm, lambda f, t=text: f.get("text") == t)
    await comm.send_json_to(message("three"))
    frame = await comm.receive_json_from()
    assert frame["code"] == "rate_limited"
    assert await count_messages(author="customer") == 2
    await comm.disconnect()


# --- Messages, bot replies, handoff --------------------------------------------------------------


async def test_message_is_stored_echoed_and_answered_by_the_bot(started, fake_bot):
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    client_id = str(uuid.uuid4())
    await comm.send_json_to(message("where is my order?", client_id))
    frames = await receive_until(comm, is_bot_message)
    echo = next(f for f in frames if f["type"] == "message")
    assert echo["author"] == "customer"
    assert echo["seq"] == 1 and echo["client_id"] == client_id and echo["created_at"]
    assert {"type": "typing", "author": "bot", "is_typing": True} in frames
    reply = frames[-1]
    assert reply["seq"] == 2 and reply["reply_to"] == 1
    assert reply["text"] == "Your order is on its way."
    assert await count_messages(conversation=conversation) == 2
    await comm.disconnect()


async def test_a_resend_is_acknowledged_again_and_stored_once(started, fake_bot):
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    frame = message("where is my order?")
    await comm.send_json_to(frame)
    await receive_until(comm, is_bot_message)
    await comm.send_json_to(frame)
    ack = await comm.receive_json_from()
    assert ack["type"] == "message" and ack["seq"] == 1 and ack["client_id"] == frame["client_id"]
    assert await comm.receive_nothing()
    assert await count_messages(author="customer") == 1
    assert fake_bot.calls == ["where is my order?"]
    await comm.disconnect()


async def test_reconnect_receives_what_it_missed(started, fake_bot):
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to(message("first"))
    await receive_until(comm, is_bot_message)
    await comm.disconnect()

    again, joined = await joined_socket(conversation, token, after_seq=1)
    assert joined["last_seq"] == 2
    missed = await again.receive_json_from()
    assert missed["seq"] == 2 and missed["author"] == "bot"
    assert await again.receive_nothing()
    await again.disconnect()

    fresh, _ = await joined_socket(conversation, token, after_seq=0)
    assert [(await fresh.receive_json_from())["seq"] for _ in range(2)] == [1, 2]
    await fresh.disconnect()


async def test_handoff_frame_and_system_message(started, fake_bot):
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to(message("I will call my lawyer"))
    frames = await receive_until(comm, lambda f: f.get("author") == "system")
    handoff = next(f for f in frames if f["type"] == "handoff")
    assert handoff["category"] == "legal" and handoff["reason"] == "legal threat"
    assert handoff["agents_online"] == 0 and handoff["expected_wait_seconds"] is None
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert conversation.status == "waiting"
    await comm.send_json_to(message("hello?"))  # the bot stays quiet while waiting
    await receive_until(comm, lambda f: f.get("text") == "hello?")
    assert await comm.receive_nothing()
    assert fake_bot.calls == ["I will call my lawyer"]
    await comm.disconnect()


async def test_streamed_reply_arrives_as_deltas_first(started, fake_bot):
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to(message("please stream it"))
    frames = await receive_until(comm, is_bot_message)
    deltas = [f for f in frames if f["type"] == "message.delta"]
    assert deltas == [{"type": "message.delta", "reply_to": 1, "text": "Streaming"}]
    await comm.disconnect()


async def test_agent_messages_reach_the_customer(started, agent):
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    await database_sync_to_async(services.agent_message_create)(
        conversation=conversation, agent=agent, text="Hi, I can help"
    )
    frames = await receive_until(comm, lambda f: f.get("author") == "agent")
    assert frames[-1]["sender_name"] == "Support team" and frames[-1]["text"] == "Hi, I can help"
    changed = [f for f in frames if f["type"] == "conversation" and f["status"] == "agent"]
    assert changed and changed[-1]["assignee_name"] == "Support team"
    names = {agent.get_username(), agent.first_name}
    assert not any(name in json.dumps(f) for f in frames for name in names)
    await comm.disconnect()


# --- Typing, feedback, rating, contact --------------------------------------------------------


async def test_customer_typing_goes_to_the_conversation_group(started):
    conversation, token = started
    layer = get_channel_layer()
    listener = await layer.new_channel()
    await layer.group_add(realtime.conversation_group(conversation.pk), listener)
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to({"type": "typing", "is_typing": True})
    event = await layer.receive(listener)
    assert event["type"] == "chat.typing"
    assert event["frame"] == {"type": "typing", "author": "customer", "is_typing": True}
    assert await comm.receive_nothing()  # a customer's own typing is not echoed back
    await comm.disconnect()


async def test_helpful_feedback_resolves_the_conversation(started, fake_bot):
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to(message("where is my order?"))
    await receive_until(comm, is_bot_message)
    await comm.send_json_to({"type": "feedback", "helpful": True, "seq": 1})
    assert (await comm.receive_json_from())["code"] == "bad_feedback"  # seq 1 is not the bot's
    await comm.send_json_to({"type": "feedback", "helpful": True, "seq": 2})
    frames = await receive_until(comm, lambda f: f["type"] == "conversation")
    assert frames[-1]["status"] == "resolved" and frames[-1]["resolution"] == "bot_confirmed"
    assert {"type": "ack", "of": "feedback"} in frames
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert conversation.resolution == "bot_confirmed"
    await comm.disconnect()


async def test_rating_after_resolution_only_once(started):
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to({"type": "rating", "score": 5, "comment": "great"})
    assert (await comm.receive_json_from())["code"] == "not_resolved"
    await database_sync_to_async(services.conversation_resolve)(
        conversation=conversation, resolution="bot_confirmed"
    )
    await receive_until(comm, lambda f: f["type"] == "conversation")
    await comm.send_json_to({"type": "rating", "score": 5, "comment": "great"})
    frames = await receive_until(comm, lambda f: f["type"] == "ack")
    assert frames[-1] == {"type": "ack", "of": "rating"}
    await comm.send_json_to({"type": "rating", "score": 1})
    frames = await receive_until(comm, lambda f: f["type"] == "error")
    assert frames[-1]["code"] == "already_rated"
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert (conversation.rating, conversation.rating_comment) == (5, "great")
    await comm.disconnect()


async def test_a_rating_comment_is_counted_after_stripping_as_a_message_is(started, settings):
    conversation, token = started
    limit = settings.CHAT_MAX_MESSAGE_CHARS
    await database_sync_to_async(services.conversation_resolve)(
        conversation=conversation, resolution="bot_confirmed"
    )
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to({"type": "rating", "score": 2, "comment": "ü" * (limit + 1)})
    frames = await receive_until(comm, lambda f: f["type"] == "error")
    assert frames[-1]["code"] == "text_too_long"
    assert str(limit) in frames[-1]["message"]
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert conversation.rating is None  # refused whole: nothing stored
    comment = "\n  " + "ü" * limit + "  \n"
    await comm.send_json_to({"type": "rating", "score": 2, "comment": comment})
    frames = await receive_until(comm, lambda f: f["type"] in ("ack", "error"))
    assert frames[-1] == {"type": "ack", "of": "rating"}
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert (conversation.rating, conversation.rating_comment) == (2, "ü" * limit)
    await comm.disconnect()


async def test_contact_frame_stores_the_address(started):
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to({"type": "contact", "email": "kim@example.com"})
    assert await comm.receive_json_from() == {"type": "ack", "of": "contact"}
    contact = await database_sync_to_async(Contact.objects.get)()
    assert contact.email == "kim@example.com"
    await comm.disconnect()


async def test_a_failing_bot_does_not_fail_the_customers_message(started, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("pipeline down")

    monkeypatch.setattr("chat.tasks.answer_turn", broken)
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to(message("hello"))
    frames = await receive_until(
        comm, lambda f: f["type"] == "message" and f["author"] == "system"
    )
    assert any(f["type"] == "message" and f["text"] == "hello" for f in frames)
    assert not any(f["type"] == "error" for f in frames)
    # A person takes over instead of the customer waiting for nothing.
    assert any(f["type"] == "handoff" and f["category"] == "error" for f in frames)
    assert "something went wrong on my side" in frames[-1]["text"]
    assert await count_messages(author="customer") == 1
    await comm.disconnect()


# --- Rendered bot replies ----------------------------------------------------------------------


async def test_bot_frames_carry_sanitised_html_and_customer_frames_only_text(
    started, fake_bot, monkeypatch
):
    from tests.chat.conftest import turn_result

    reply = (
        "Here's what our help article \"Fees\" says:\n\n| plan | fee |\n| --- | --- |\n"
        "| Basic | `FREE_TIER` |\n\n<script>alert(1)</script> [x](javascript:alert(1))\n\n"
        "[Read the whole article](/help/articles/4-fees/)"
    )
    monkeypatch.setattr("chat.tasks.answer_turn", lambda **kw: turn_result(reply_text=reply))
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    hostile = "**bold?** <img src=x onerror=alert(1)> [y](https://a.example/)"
    await comm.send_json_to(message(hostile))
    frames = await receive_until(comm, is_bot_message)
    echo = next(f for f in frames if f["type"] == "message" and f["author"] == "customer")
    assert echo["text"] == hostile and "html" not in echo
    bot = frames[-1]
    assert bot["text"] == reply
    html = bot["html"]
    assert "<table>" in html and "<code>FREE_TIER</code>" in html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert '<a href="/help/articles/4-fees/" target="_blank" rel="noopener' in html
    await comm.disconnect()

    # A rejoin replays the same frames, html included.
    again, _ = await joined_socket(conversation, token, after_seq=0)
    replay = [await again.receive_json_from() for _ in range(2)]
    assert "html" not in replay[0] and replay[1]["html"] == html
    await again.disconnect()


async def test_system_messages_carry_html_too(started, fake_bot):
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to(message("I will call my lawyer"))
    frames = await receive_until(comm, lambda f: f.get("author") == "system")
    notice = frames[-1]
    assert notice["html"].startswith("<p>") and notice["text"] in notice["html"]
    await comm.disconnect()


# --- E-mail: the socket counts and the transcript frame (chat.mail) ----------------------------


@database_sync_to_async
def socket_counts(conversation) -> tuple[int, bool, bool]:
    conversation.refresh_from_db()
    return (conversation.customer_sockets, conversation.customer_joined_at is not None,
            conversation.customer_left_at is not None)


async def test_joins_and_leaves_are_counted_for_the_e_mail_replies(started):
    conversation, token = started
    assert await socket_counts(conversation) == (0, False, False)
    first, _ = await joined_socket(conversation, token)
    second, _ = await joined_socket(conversation, token)
    assert await socket_counts(conversation) == (2, True, False)
    await first.disconnect()
    assert await socket_counts(conversation) == (1, True, True)
    await second.send_json_to(message("hello"))  # a message writes no count
    await receive_until(second, lambda f: f["type"] == "message")
    assert await socket_counts(conversation) == (1, True, True)
    await second.disconnect()
    assert await socket_counts(conversation) == (0, True, True)


async def test_a_socket_that_never_joined_counts_nothing(started):
    conversation, _ = started
    comm, connected, _ = await open_socket()
    assert connected
    await comm.disconnect()
    assert await socket_counts(conversation) == (0, False, False)


async def test_the_transcript_frame_refuses_a_bad_address_and_is_rate_limited(
    started, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CHAT_RATE_TRANSCRIPT = (2, 3600.0)
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    # Mistyped addresses spend nothing; no address at all (none was left) spends one.
    for bad in ({"email": "not-an-address"}, {"email": 7}, {"email": "x" * 300},
                {"email": "user@localhost"}, {"email": "x@[127.0.0.1]"}, {}):
        await comm.send_json_to({"type": "transcript", **bad})
        frame = await comm.receive_json_from(timeout=TIMEOUT)
        assert (frame["type"], frame["code"]) == ("error", "bad_email"), frame
    assert not await database_sync_to_async(OwedEmail.objects.exists)()
    await comm.send_json_to({"type": "transcript", "email": "kim@customer.example"})
    frame = await comm.receive_json_from(timeout=TIMEOUT)
    assert frame == {"type": "ack", "of": "transcript"}
    owed = await database_sync_to_async(OwedEmail.objects.get)()
    assert (owed.kind, owed.to) == ("transcript", "kim@customer.example")
    await comm.send_json_to({"type": "transcript", "email": "kim@customer.example"})
    frame = await comm.receive_json_from(timeout=TIMEOUT)
    assert frame["code"] == "transcript_limited" and frame["retry_after"] > 0
    await comm.disconnect()


async def test_transcripts_to_one_inbox_are_limited_across_conversations(widget, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CHAT_RATE_TRANSCRIPT = (1, 3600.0)
    codes = []
    for _ in range(2):
        conversation, token = await database_sync_to_async(services.conversation_start)(
            widget=widget
        )
        comm, _ = await joined_socket(conversation, token)
        await comm.send_json_to({"type": "transcript", "email": "victim@customer.example"})
        frame = await comm.receive_json_from(timeout=TIMEOUT)
        codes.append(frame.get("of") or frame.get("code"))
        await comm.disconnect()
    assert codes == ["transcript", "transcript_limited"]
    assert await database_sync_to_async(OwedEmail.objects.count)() == 1
