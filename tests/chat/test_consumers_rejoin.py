"""The gap fill on rejoin (``missing_seqs`` on the join frame) through the real ASGI application."""

from __future__ import annotations

import uuid

import pytest

from chat import services
from chat.models import Message
from tests.chat.test_consumers import TIMEOUT, joined_socket, message, open_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def transcript(widget, fake_bot):
    """A conversation with three questions, each answered by the (fake) bot: seqs 1 to 6."""
    conversation, token = services.conversation_start(widget=widget)
    for text in ("first", "second", "third"):
        services.message_create_incoming(
            conversation=conversation, text=text, client_id=uuid.uuid4()
        )
    assert list(
        Message.objects.filter(conversation=conversation).order_by("seq").values_list(
            "seq", "author"
        )
    ) == [(1, "customer"), (2, "bot"), (3, "customer"), (4, "bot"), (5, "customer"), (6, "bot")]
    return conversation, token


async def received_seqs(comm) -> list[int]:
    seqs = []
    while not await comm.receive_nothing(timeout=0.2):
        frame = await comm.receive_json_from(timeout=TIMEOUT)
        assert frame["type"] == "message", frame
        seqs.append(frame["seq"])
    return seqs


@pytest.mark.parametrize(
    ("after_seq", "missing_seqs", "expected"),
    [
        (6, [2], [2]),              # one reply the client never received
        (4, [1, 3], [1, 3, 5, 6]),  # gaps below, then everything after after_seq
        (5, [4, 4, 2], [2, 4, 6]),  # repeated and unordered: each once, in seq order
        (6, [], []),                # nothing missing, nothing new
    ],
)
async def test_a_rejoin_receives_the_messages_it_never_received(
    transcript, after_seq, missing_seqs, expected
):
    conversation, token = transcript
    comm, joined = await joined_socket(
        conversation, token, after_seq=after_seq, missing_seqs=missing_seqs
    )
    assert joined["last_seq"] == 6
    assert await received_seqs(comm) == expected
    await comm.disconnect()


async def test_a_missing_seq_that_names_no_message_is_skipped(widget, fake_bot):
    conversation, token = await _started(widget)
    comm, joined = await joined_socket(conversation, token, after_seq=0, missing_seqs=[])
    assert joined["last_seq"] == 0
    assert await received_seqs(comm) == []
    await comm.disconnect()
    # A client that saw seqs the database does not have (a reply lost in a crash) asks for them:
    # nothing comes, and the new messages that take those seqs still reach it live.
    comm, _ = await joined_socket(conversation, token, after_seq=3, missing_seqs=[1, 2])
    assert await received_seqs(comm) == []
    await comm.send_json_to(message("hello"))
    seqs = []
    while len(seqs) < 2:
        frame = await comm.receive_json_from(timeout=TIMEOUT)
        if frame["type"] == "message":
            seqs.append(frame["seq"])
    assert seqs == [1, 2]
    await comm.disconnect()


async def _started(widget):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(services.conversation_start)(widget=widget)


@pytest.mark.parametrize(
    "missing_seqs",
    [
        "2",                      # not a list
        [True],                   # a bool is not a seq
        [2.0],                    # nor a float
        [0],                      # seqs start at 1
        [7],                      # above after_seq: that is what after_seq fetches
        list(range(1, 102)),      # more than 100
        None,
    ],
)
async def test_a_malformed_missing_seqs_is_refused_and_does_not_join(transcript, missing_seqs):
    conversation, token = transcript
    comm, connected, _ = await open_socket()
    assert connected
    await comm.send_json_to(
        {"type": "join", "conversation_id": str(conversation.public_id), "token": token,
         "after_seq": 6, "missing_seqs": missing_seqs}
    )
    frame = await comm.receive_json_from(timeout=TIMEOUT)
    assert frame["type"] == "error" and frame["code"] == "missing_field"
    assert "missing_seqs" in frame["message"]
    await comm.send_json_to(message("are you there?"))
    assert (await comm.receive_json_from(timeout=TIMEOUT))["code"] == "not_joined"
    await comm.disconnect()
