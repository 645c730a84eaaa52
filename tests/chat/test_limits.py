"""Budgets shared by every socket (chat/limits.py), through the customer's real socket.

Each test sets its own small limits; the autouse fixture in tests/conftest.py starts every
test with full budgets. With REDIS_URL set (the services pass) the counts live in Redis.
"""

from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat import limits, services
from chat.models import Contact, Message
from supportdesk.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

SHOP = b"https://shop.example"
TIMEOUT = 5


async def open_from(address: str = "203.0.113.7") -> tuple[WebsocketCommunicator, bool]:
    comm = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"host", b"testserver"), (b"origin", SHOP)]
    )
    comm.scope["client"] = (address, 50000)  # what Daphne puts in the scope
    connected, _ = await comm.connect(timeout=TIMEOUT)
    return comm, connected


async def join(conversation, token, address: str = "203.0.113.7") -> WebsocketCommunicator:
    comm, connected = await open_from(address)
    assert connected
    await comm.send_json_to(
        {"type": "join", "conversation_id": str(conversation.public_id), "token": token}
    )
    frame = await comm.receive_json_from(timeout=TIMEOUT)
    assert frame["type"] == "joined", frame
    return comm


def message(text: str) -> dict:
    return {"type": "message", "client_id": str(uuid.uuid4()), "text": text}


async def answer(comm, sent: dict | None = None) -> dict:
    """The frame that answers a sent frame: its echo (same client id), an ack or an error;
    other sockets' messages and bot replies on the way are skipped."""
    while True:
        frame = await comm.receive_json_from(timeout=TIMEOUT)
        if frame["type"] in ("ack", "error"):
            return frame
        if frame["type"] == "message" and (
            sent is None or frame["client_id"] == sent.get("client_id")
        ):
            return frame


async def send(comm, frame: dict) -> dict:
    await comm.send_json_to(frame)
    return await answer(comm, frame)


def assert_rate_limited(frame: dict, window: float) -> None:
    assert frame["type"] == "error" and frame["code"] == "rate_limited", frame
    assert 0 <= frame["retry_after"] <= window


@database_sync_to_async
def stored(**filters) -> int:
    return Message.objects.filter(author="customer", **filters).count()


@pytest.fixture
def started(widget):
    return services.conversation_start(widget=widget)


async def test_messages_of_a_conversation_share_one_budget_across_sockets(started, settings):
    """Issue 15, item 2: ten sockets on one conversation each had a budget of their own."""
    settings.CHAT_RATE_LIMIT_MESSAGES = 4
    settings.CHAT_RATE_LIMIT_SECONDS = 600
    conversation, token = started
    sockets = [await join(conversation, token, f"198.51.100.{i}") for i in range(3)]
    answers = []
    for round_ in range(3):
        for i, comm in enumerate(sockets):
            answers.append(await send(comm, message(f"hello {round_} {i}")))
    accepted = [a for a in answers if a["type"] == "message"]
    refused = [a for a in answers if a["type"] == "error"]
    assert len(accepted) == 4 and len(refused) == 5
    for frame in refused:
        assert_rate_limited(frame, 600)
    # Reconnecting does not reset it.
    for comm in sockets:
        await comm.disconnect()
    again = await join(conversation, token, "198.51.100.99")
    assert_rate_limited(await send(again, message("after reconnecting")), 600)
    assert await stored(conversation=conversation) == 4
    await again.disconnect()


async def test_messages_from_one_address_share_one_budget_across_conversations(widget, settings):
    settings.CHAT_RATE_ADDRESS_MESSAGES = (3, 600)
    sockets = []
    for _ in range(2):
        conversation, token = await database_sync_to_async(services.conversation_start)(
            widget=widget
        )
        sockets.append(await join(conversation, token, "192.0.2.10"))
    results = []
    for comm in sockets * 2:
        results.append(await send(comm, message("hi")))
    assert [r["type"] for r in results] == ["message", "message", "message", "error"]
    assert_rate_limited(results[-1], 600)
    # Another address has its own budget.
    conversation, token = await database_sync_to_async(services.conversation_start)(
        widget=widget
    )
    other = await join(conversation, token, "192.0.2.11")
    assert (await send(other, message("hi from elsewhere")))["type"] == "message"
    assert await stored() == 4
    for comm in [*sockets, other]:
        await comm.disconnect()


@pytest.mark.parametrize(
    ("kind", "setting", "frame"),
    [
        ("contact", "CHAT_RATE_CONTACT", {"type": "contact", "email": "ann@example.com"}),
        ("typing", "CHAT_RATE_TYPING", {"type": "typing", "is_typing": True}),
        ("feedback", "CHAT_RATE_FEEDBACK", {"type": "feedback", "helpful": False, "seq": 999}),
    ],
)
async def test_contact_typing_and_feedback_frames_have_budgets_of_their_own(
    started, settings, kind, setting, frame
):
    setattr(settings, setting, (2, 600))
    conversation, token = started
    first = await join(conversation, token, "192.0.2.20")
    second = await join(conversation, token, "192.0.2.21")
    for comm in (first, second):
        await comm.send_json_to(frame)
        if kind != "typing":  # typing is not acknowledged
            reply = await answer(comm)
            assert reply.get("code") != "rate_limited", reply
    await first.send_json_to(frame)
    refusal = await answer(first)
    if kind == "contact":
        # Not rate_limited (the widget would wait to send its messages again): the address
        # is refused by name, and the customer sends it again.
        assert refusal["code"] == "contact_limited", refusal
        assert 0 <= refusal["retry_after"] <= 600
    else:
        assert_rate_limited(refusal, 600)
    # Messages keep their own budget.
    assert (await send(first, message("still here")))["type"] == "message"
    for comm in (first, second):
        await comm.disconnect()


async def test_the_same_address_again_makes_no_second_contact_row(started, settings):
    """Issue 15, item 2: 300 contact frames made 300 contact rows."""
    settings.CHAT_RATE_CONTACT = (10, 600)
    conversation, token = started
    comm = await join(conversation, token)
    for email in ("ann@example.com", "ann@example.com", "ANN@example.com"):
        await comm.send_json_to({"type": "contact", "email": email})
        assert await answer(comm) == {"type": "ack", "of": "contact"}
    assert await Contact.objects.acount() == 1
    await comm.send_json_to({"type": "contact", "email": "bob@example.com"})
    assert await answer(comm) == {"type": "ack", "of": "contact"}
    assert await Contact.objects.acount() == 2
    await comm.disconnect()


@pytest.mark.parametrize(
    "mistyped", ["ann@", "ann example.com", "@example.com", "ann@@example.com", " ", "a" * 300]
)
async def test_mistyped_addresses_spend_no_contact_budget(started, settings, mistyped):
    """Newcomer n59: three mistyped addresses spent the contact budget, and the right one
    typed next was refused (and never sent again), so no reply could go by e-mail."""
    settings.CHAT_RATE_CONTACT = (3, 600)
    conversation, token = started
    comm = await join(conversation, token)
    for _ in range(5):
        await comm.send_json_to({"type": "contact", "email": mistyped})
        refusal = await answer(comm)
        assert refusal["type"] == "error" and refusal["code"] == "bad_email", refusal
    assert await Contact.objects.acount() == 0
    await comm.send_json_to({"type": "contact", "email": "  ann@example.com "})
    assert await answer(comm) == {"type": "ack", "of": "contact"}
    assert await Contact.objects.filter(email="ann@example.com").aexists()
    await comm.disconnect()


async def test_open_sockets_per_address_are_capped(widget, settings):
    """Issue 15, item 4: 1,000 sockets from one address held 1,000 file descriptors."""
    settings.CHAT_SOCKETS_PER_ADDRESS = 3
    held = []
    for _ in range(3):
        comm, connected = await open_from("192.0.2.30")
        assert connected
        held.append(comm)
    refused, connected = await open_from("192.0.2.30")
    frame = await refused.receive_json_from(timeout=TIMEOUT)
    assert_rate_limited(frame, settings.CHAT_JOIN_DEADLINE_SECONDS)
    assert (await refused.receive_output(timeout=TIMEOUT))["type"] == "websocket.close"
    # Another address is not affected, and a closed socket gives its place back.
    other, connected = await open_from("192.0.2.31")
    assert connected and await other.receive_nothing()
    await held.pop().disconnect()
    again, connected = await open_from("192.0.2.30")
    assert connected and await again.receive_nothing()
    for comm in [*held, other, again]:
        await comm.disconnect()


async def test_a_socket_that_never_joins_is_closed_at_the_deadline(started, settings):
    settings.CHAT_JOIN_DEADLINE_SECONDS = 0.2
    idle, connected = await open_from()
    assert connected
    assert (await idle.receive_json_from(timeout=TIMEOUT))["code"] == "join_timeout"
    close = await idle.receive_output(timeout=TIMEOUT)
    assert close == {"type": "websocket.close", "code": 4408}
    # A socket that joined in time stays open past the deadline.
    conversation, token = started
    joined = await join(conversation, token)
    assert await joined.receive_nothing(timeout=0.5)
    assert (await send(joined, message("still open")))["type"] == "message"
    await joined.disconnect()


async def test_failed_joins_from_an_address_are_counted_and_then_wait(started, settings):
    """Issue 15, item 11: token guesses were never noticed."""
    settings.CHAT_FAILED_JOINS = (3, 600)
    conversation, token = started
    wrong = {"type": "join", "conversation_id": str(conversation.public_id), "token": "guess"}
    for _ in range(2):  # over two sockets: the count is per address, not per socket
        comm, _ = await open_from("192.0.2.40")
        for _ in range(2):
            await comm.send_json_to(wrong)
            code = (await comm.receive_json_from(timeout=TIMEOUT))["code"]
            if code == "rate_limited":
                break
            assert code == "bad_token"
        await comm.disconnect()
    # Over the threshold even the right token waits: guessing learns nothing more.
    comm, _ = await open_from("192.0.2.40")
    await comm.send_json_to(
        {"type": "join", "conversation_id": str(conversation.public_id), "token": token}
    )
    assert_rate_limited(await comm.receive_json_from(timeout=TIMEOUT), 600)
    await comm.disconnect()
    other = await join(conversation, token, "192.0.2.41")
    await other.disconnect()


async def test_resends_of_stored_messages_spend_nothing(started, settings):
    """A widget that reconnects sends its unacknowledged messages again: those already stored
    change nothing and give their use back, so they never crowd out a new message."""
    settings.CHAT_RATE_LIMIT_MESSAGES = 3
    settings.CHAT_RATE_LIMIT_SECONDS = 600
    settings.CHAT_RATE_ADDRESS_MESSAGES = (3, 600)
    conversation, token = started
    comm = await join(conversation, token)
    first, second = message("first"), message("second")
    assert (await send(comm, first))["type"] == "message"
    assert (await send(comm, second))["type"] == "message"
    for _ in range(4):  # reconnect after reconnect, the same two again
        for frame in (first, second):
            echo = await send(comm, frame)
            assert echo["type"] == "message" and echo["client_id"] == frame["client_id"]
    assert (await send(comm, message("third")))["type"] == "message"
    assert_rate_limited(await send(comm, message("fourth")), 600)  # the budget still holds
    assert await stored(conversation=conversation) == 3
    await comm.disconnect()


def test_a_refund_gives_back_one_use_and_never_goes_below_nothing(settings):
    budget, other = limits.Budget("refund-probe", 1, 600), limits.Budget("refund-other", 5, 600)
    assert limits.spend((budget, "a")) is None
    assert limits.spend((budget, "a")) is not None  # over: 2 uses of 1
    limits.refund((budget, "a"))
    limits.refund((budget, "a"))
    limits.refund((budget, "a"))  # nothing left to give back
    assert limits.exhausted(budget, "a") is None
    assert limits.spend((budget, "a")) is None  # one use again, not two or three
    assert limits.spend((budget, "a")) is not None
    limits.refund((other, "never-spent"))  # creates no count
    assert limits.spend((other, "never-spent")) is None
    for _ in range(4):
        assert limits.spend((other, "never-spent")) is None
    assert limits.spend((other, "never-spent")) is not None  # the sixth of five


def test_budgets_count_in_fixed_windows_and_answer_the_wait(settings):
    budget = limits.Budget("probe", 2, 600)
    assert limits.spend((budget, "a")) is None
    assert limits.exhausted(budget, "a") is None
    assert limits.spend((budget, "a")) is None
    assert limits.exhausted(budget, "a") is not None
    wait = limits.spend((budget, "a"))
    assert wait is not None and 0 <= wait <= 600
    assert limits.spend((budget, "b")) is None  # per subject
    assert limits.once_per("probe", 1, 600) is True
    assert limits.once_per("probe", 1, 600) is False
    assert limits.once_per("probe", 2, 600) is True
    json.dumps({"retry_after": wait})  # a plain number in a frame


async def test_a_socket_that_dies_of_an_error_gives_its_place_back(started, settings,
                                                                   monkeypatch, agent):
    from chat.consumers import ChatConsumer

    settings.CHAT_SOCKETS_PER_ADDRESS = 1

    async def broken(self, event):
        raise RuntimeError("a bug in an event handler")

    monkeypatch.setattr(ChatConsumer, "chat_conversation", broken)
    conversation, token = started
    comm = await join(conversation, token, "192.0.2.50")
    await database_sync_to_async(services.conversation_claim)(conversation=conversation,
                                                              agent=agent)
    with pytest.raises(RuntimeError):
        while True:
            await comm.receive_output(timeout=TIMEOUT)
    again, connected = await open_from("192.0.2.50")
    assert connected and await again.receive_nothing()
    await again.disconnect()
