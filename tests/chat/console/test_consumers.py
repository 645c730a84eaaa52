"""ConsoleConsumer (chat/console/consumers.py) through the real ASGI application."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from chat.models import AgentPresence, ConversationStatus, PresenceStatus
from chat.selectors import agents_online_count
from supportdesk.asgi import application

from .conftest import handed_over, make_user

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://testserver")
HOST = (b"host", b"testserver")


def _headers(user=None, origin=ORIGIN, host=HOST) -> list[tuple[bytes, bytes]]:
    headers = [h for h in (host, origin) if h]
    if user is not None:
        client = Client()
        client.force_login(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers


async def _connect(headers) -> tuple[WebsocketCommunicator, bool, int | None]:
    communicator = WebsocketCommunicator(application, "/ws/console/", headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def _refused(headers) -> bool:
    """Whether the handshake is refused; the consumer is then ended, as a browser would."""
    communicator, connected, _ = await _connect(headers)
    await communicator.disconnect()
    return not connected


async def _agent_socket(user) -> WebsocketCommunicator:
    return await _agent_socket_with(user)


async def _agent_socket_with(user, origin=ORIGIN, host=HOST) -> WebsocketCommunicator:
    headers = await sync_to_async(_headers)(user, origin, host)
    communicator, connected, _ = await _connect(headers)
    assert connected
    assert await communicator.receive_json_from() == {"type": "ready"}
    return communicator


async def _receive_until(socket: WebsocketCommunicator, frame_type: str) -> dict:
    """Skips frames (queue summaries arrive beside conversation frames) until one of a type."""
    frame = await socket.receive_json_from(timeout=5)
    while frame["type"] != frame_type:
        frame = await socket.receive_json_from(timeout=5)
    return frame


async def test_anonymous_is_refused():
    assert await _refused(_headers())


@pytest.mark.parametrize("role", ["admins", "managers", None])
async def test_non_agents_are_refused(role):
    user = await sync_to_async(make_user)(role)
    headers = await sync_to_async(_headers)(user)
    assert await _refused(headers)
    assert not await AgentPresence.objects.filter(user=user).aexists()


@pytest.mark.parametrize(
    "origin",
    [
        (b"origin", b"https://evil.example"),
        None,
        (b"origin", b"null"),
        # The host name is allowed, but scheme or port differ: another origin (issue 15, 1).
        (b"origin", b"http://testserver:9999"),
        (b"origin", b"https://testserver"),
        (b"origin", b"http://testserver.evil.example"),
        (b"origin", b"http://testserver/path"),
        (b"origin", b"ftp://testserver"),
    ],
)
async def test_foreign_or_missing_origin_is_refused(origin):
    user = await sync_to_async(make_user)("agents")
    headers = await sync_to_async(_headers)(user, origin)
    assert await _refused(headers)
    assert not await AgentPresence.objects.filter(user=user).aexists()


@pytest.mark.parametrize(
    "origin", [b"http://testserver", b"http://testserver:80", b"HTTP://TestServer/"]
)
async def test_the_same_origin_spelled_any_way_is_accepted(origin):
    user = await sync_to_async(make_user)("agents")
    socket = await _agent_socket_with(user, origin=(b"origin", origin))
    await socket.disconnect()


async def test_a_subdomain_allowed_by_a_host_pattern_is_still_another_origin(settings):
    settings.ALLOWED_HOSTS = [".example.com"]
    user = await sync_to_async(make_user)("agents")
    host = (b"host", b"desk.example.com")
    for origin in (b"http://evil.example.com", b"http://desk.example.com:8080"):
        headers = await sync_to_async(_headers)(user, (b"origin", origin), host)
        assert await _refused(headers)
    socket = await _agent_socket_with(user, origin=(b"origin", b"http://desk.example.com"),
                                      host=host)
    await socket.disconnect()


@pytest.mark.parametrize("host", [(b"host", b"evil.example"), None, (b"host", b"bad host")])
async def test_a_host_outside_allowed_hosts_is_refused(host):
    user = await sync_to_async(make_user)("agents")
    origin = (b"origin", b"http://" + (host[1] if host else b"testserver"))
    headers = await sync_to_async(_headers)(user, origin, host)
    assert await _refused(headers)
    assert not await AgentPresence.objects.filter(user=user).aexists()


async def test_agent_hears_a_handoff_in_the_queue_and_presence_counts_sockets(widget):
    agent = await sync_to_async(make_user)("agents")
    first = await _agent_socket(agent)
    second = await _agent_socket(agent)
    presence = await AgentPresence.objects.aget(user=agent)
    assert presence.connections == 2 and presence.status == PresenceStatus.ONLINE

    conversation = await sync_to_async(handed_over)(widget)
    frame = await _receive_until(first, "queue.changed")
    assert frame["conversation"]["conversation_id"] == conversation.pk
    assert frame["conversation"]["status"] == ConversationStatus.WAITING
    assert frame["conversation"]["handoff_reason"] == "The customer mentions a lawyer"
    assert frame["change"] == "handoff"

    await first.disconnect()
    presence = await AgentPresence.objects.aget(user=agent)
    assert presence.connections == 1 and presence.status == PresenceStatus.ONLINE
    await second.disconnect()
    presence = await AgentPresence.objects.aget(user=agent)
    assert presence.connections == 0 and presence.status == PresenceStatus.OFFLINE


async def test_watching_a_conversation_forwards_its_messages_and_typing(widget):
    from chat import realtime, services

    agent = await sync_to_async(make_user)("agents")
    conversation = await sync_to_async(handed_over)(widget)
    socket = await _agent_socket(agent)
    await socket.send_json_to({"type": "watch", "conversation_id": conversation.pk})
    assert await socket.receive_json_from() == {
        "type": "watching",
        "conversation_id": conversation.pk,
    }

    await sync_to_async(services.conversation_claim)(conversation=conversation, agent=agent)
    await sync_to_async(services.agent_message_create)(
        conversation=conversation, agent=agent, text="Hello from Ann"
    )
    seen = []
    while not any(f.get("author") == "agent" and f["type"] == "message" for f in seen):
        seen.append(await socket.receive_json_from(timeout=5))
    agent_frame = next(f for f in seen if f["type"] == "message" and f["author"] == "agent")
    assert agent_frame["text"] == "Hello from Ann"
    assert agent_frame["conversation_id"] == conversation.pk
    assert any(f["type"] == "conversation" and f["status"] == "agent" for f in seen)

    await realtime.abroadcast_typing(conversation.pk, "customer", True)
    frame = await _receive_until(socket, "typing")
    assert frame == {
        "type": "typing",
        "author": "customer",
        "is_typing": True,
        "conversation_id": conversation.pk,
    }
    await socket.disconnect()


async def test_agent_typing_reaches_the_conversation_group(widget):
    from channels.layers import get_channel_layer

    from chat.realtime import conversation_group

    agent = await sync_to_async(make_user)("agents")
    conversation = await sync_to_async(handed_over)(widget)
    layer = get_channel_layer()
    listener = await layer.new_channel()
    await layer.group_add(conversation_group(conversation.pk), listener)

    socket = await _agent_socket(agent)
    await socket.send_json_to({"type": "watch", "conversation_id": conversation.pk})
    await socket.receive_json_from()
    await socket.send_json_to({"type": "typing", "is_typing": True})
    event = await layer.receive(listener)
    assert event["type"] == "chat.typing"
    assert event["frame"] == {"type": "typing", "author": "agent", "is_typing": True}
    await socket.disconnect()


async def test_switching_conversations_stops_the_old_one(widget):
    from chat import realtime

    agent = await sync_to_async(make_user)("agents")
    one = await sync_to_async(handed_over)(widget)
    two = await sync_to_async(handed_over)(widget)
    socket = await _agent_socket(agent)
    for pk in (one.pk, two.pk):
        await socket.send_json_to({"type": "watch", "conversation_id": pk})
        assert (await socket.receive_json_from())["conversation_id"] == pk
    await realtime.abroadcast_typing(one.pk, "customer", True)
    await realtime.abroadcast_typing(two.pk, "customer", True)
    frame = await socket.receive_json_from(timeout=5)
    assert frame["conversation_id"] == two.pk
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "watch", "conversation_id": "7"}', "bad_frame"),
        ('{"type": "watch", "conversation_id": 987654}', "not_found"),
        ('{"type": "typing", "is_typing": true}', "bad_frame"),
        ('{"type": "watch", "conversation_id": 1, "pad": "' + "x" * 5000 + '"}',
         "frame_too_large"),
        # Issue 15, items 5 and 8: deep nesting, huge numbers, NUL and half an emoji.
        ("[" * 2000, "bad_json"),
        ('{"type": "watch", "conversation_id": ' + "[" * 900 + "]" * 900 + "}", "bad_json"),
        ('{"type": "watch", "conversation_id": {"a": {"b": {"c": 1}}}}', "bad_json"),
        ('{"type": "watch", "conversation_id": 1' + "0" * 4000 + "}", "bad_json"),
        ('{"type": "watch", "conversation_id": 9223372036854775808}', "bad_json"),
        ('{"type": "watch", "conversation_id": NaN}', "bad_json"),
        ('{"type": "watch", "conversation_id": 1e999}', "bad_json"),
        ('{"type": "wat\\u0000ch"}', "bad_text"),
        ('{"type": "watch", "note": "\\ud83d"}', "bad_text"),
        ('{"type": "watch", "\\udc00": null}', "bad_text"),
    ],
)
async def test_bad_frames_get_an_error_and_change_nothing(raw, code, caplog):
    agent = await sync_to_async(make_user)("agents")
    socket = await _agent_socket(agent)
    await socket.send_to(text_data=raw)
    frame = await socket.receive_json_from()
    assert frame["type"] == "error" and frame["code"] == code and frame["message"]
    assert not [r for r in caplog.records if r.exc_info], "bad input is answered, not logged"
    presence = await AgentPresence.objects.aget(user=agent)
    assert presence.connections == 1
    # The socket still works afterwards.
    await socket.send_json_to({"type": "watch", "conversation_id": None})
    assert await socket.receive_json_from() == {"type": "watching", "conversation_id": None}
    await socket.disconnect()


async def test_the_socket_keeps_its_presence_fresh_with_a_heartbeat(settings):
    settings.CONSOLE_PRESENCE_HEARTBEAT_SECONDS = 0.05
    agent = await sync_to_async(make_user)("agents")
    socket = await _agent_socket(agent)
    long_ago = timezone.now() - timedelta(hours=1)
    await AgentPresence.objects.filter(user=agent).aupdate(last_seen=long_ago)
    assert await sync_to_async(agents_online_count)() == 0
    for _ in range(50):
        await asyncio.sleep(0.05)
        if (await AgentPresence.objects.aget(user=agent)).last_seen > long_ago:
            break
    assert await sync_to_async(agents_online_count)() == 1
    await socket.disconnect()
    assert await sync_to_async(agents_online_count)() == 0


async def test_presence_is_given_back_when_a_socket_dies_of_an_error(monkeypatch, settings):
    """Issue 15, item 5: a socket that died of an error left its agent counted online."""
    settings.CONSOLE_PRESENCE_HEARTBEAT_SECONDS = 0.05
    from chat.console.consumers import ConsoleConsumer

    async def broken_watch(self, conversation_id):
        raise RuntimeError("a bug in a handler")

    monkeypatch.setattr(ConsoleConsumer, "_watch", broken_watch)
    agent = await sync_to_async(make_user)("agents")
    for _ in range(3):
        socket = await _agent_socket(agent)
        await socket.send_json_to({"type": "watch", "conversation_id": None})
        with pytest.raises(RuntimeError):
            await socket.receive_json_from()
        presence = await AgentPresence.objects.aget(user=agent)
        assert presence.connections == 0 and presence.status == PresenceStatus.OFFLINE
    # Its heartbeat stopped too: nothing refreshes the presence of the dead sockets.
    long_ago = timezone.now() - timedelta(hours=1)
    await AgentPresence.objects.filter(user=agent).aupdate(last_seen=long_ago)
    await asyncio.sleep(0.3)
    assert (await AgentPresence.objects.aget(user=agent)).last_seen == long_ago


async def test_a_burst_of_messages_is_one_queue_update_per_conversation(widget, settings):
    """Issue 15, item 2: each message of a waiting conversation was pushed to every console."""
    import uuid

    from chat import limits, services

    settings.CONSOLE_QUEUE_UPDATE_SECONDS = 600
    agent = await sync_to_async(make_user)("agents")
    first = await sync_to_async(handed_over)(widget)
    second = await sync_to_async(handed_over)(widget)
    await sync_to_async(limits.reset)()  # the handoff notices were updates of their own
    socket = await _agent_socket(agent)
    for conversation in (first, second, first, second, first):
        await sync_to_async(services.message_create_incoming)(
            conversation=conversation, text="anyone there?", client_id=uuid.uuid4()
        )
    updates = []
    while not await socket.receive_nothing(timeout=0.3):
        frame = await socket.receive_json_from()
        if frame["type"] == "conversation.updated":
            updates.append(frame["conversation"]["conversation_id"])
    assert sorted(updates) == sorted([first.pk, second.pk])
    await socket.disconnect()


async def test_an_unassigned_conversation_is_back_in_the_queue_not_a_new_handoff(widget):
    """Issue 14: unassigning told every agent "a customer is waiting" as if newly handed off."""
    from chat import services

    agent = await sync_to_async(make_user)("agents")
    conversation = await sync_to_async(handed_over)(widget)
    await sync_to_async(services.conversation_claim)(conversation=conversation, agent=agent)
    socket = await _agent_socket(agent)
    await sync_to_async(services.conversation_unassign)(conversation=conversation, agent=agent)
    frame = await _receive_until(socket, "queue.changed")
    assert frame["change"] == "unassigned"
    assert frame["conversation"]["status"] == ConversationStatus.WAITING
    assert frame["conversation"]["assignee_id"] is None
    await socket.disconnect()
