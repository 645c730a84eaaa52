"""Feedback "yes" confirms the bot's resolution only under an answer quoted from a source."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chat import services
from chat.models import Conversation
from tests.chat.conftest import turn_result
from tests.chat.test_consumers import is_bot_message, joined_socket, message, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def started(widget):
    return services.conversation_start(widget=widget)

UNSOURCED = {
    "a question": turn_result(reply_text="What is your order number?", articles=[]),
    "a greeting": turn_result(reply_text="Hello! How can I help?", articles=[], intent="greeting"),
    "the safe reply": turn_result(reply_text="I am not sure; shall I get a person?", articles=[]),
}


@pytest.mark.parametrize("case", list(UNSOURCED))
async def test_yes_under_a_reply_from_no_source_resolves_nothing(started, fake_bot, monkeypatch,
                                                                  case):
    monkeypatch.setattr(type(fake_bot), "__call__", lambda self, **kw: UNSOURCED[case])
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to(message("hello"))
    [reply] = [f for f in await receive_until(comm, is_bot_message) if is_bot_message(f)]
    await comm.send_json_to({"type": "feedback", "helpful": True, "seq": reply["seq"]})
    assert (await comm.receive_json_from())["code"] == "bad_feedback"
    stored = await database_sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert stored.status == "bot" and stored.resolution == ""
    await comm.disconnect()


async def test_yes_under_an_answer_from_an_article_confirms_it(started, fake_bot):
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to(message("where is my order?"))
    [reply] = [f for f in await receive_until(comm, is_bot_message) if is_bot_message(f)]
    assert reply["articles"]
    await comm.send_json_to({"type": "feedback", "helpful": True, "seq": reply["seq"]})
    frames = await receive_until(comm, lambda f: f["type"] == "conversation")
    assert frames[-1]["resolution"] == "bot_confirmed"
    await comm.disconnect()


CONNECTOR_TRACE = {
    "stages": [],
    "connector": {"connector": "Order status", "connector_id": 5, "ok": True, "reason": ""},
    "response": {"source": "connector", "connector": "Order status"},
    "quality": {"ok": True, "problems": [], "ungrounded": []},
}


async def test_yes_under_an_answer_from_a_connector_confirms_it(started, fake_bot, monkeypatch):
    """A reply from a connector's data lists the connector among its sources, so the widget
    asks "Did this help?" and the server takes the "yes"."""
    answered = turn_result(reply_text="Order 10023 shipped with UPS.", articles=[],
                           trace=CONNECTOR_TRACE)
    monkeypatch.setattr(type(fake_bot), "__call__", lambda self, **kw: answered)
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to(message("where is order 10023?"))
    [reply] = [f for f in await receive_until(comm, is_bot_message) if is_bot_message(f)]
    assert reply["articles"] == [{"connector": 5, "name": "Order status"}]
    await comm.send_json_to({"type": "feedback", "helpful": True, "seq": reply["seq"]})
    frames = await receive_until(comm, lambda f: f["type"] == "conversation")
    assert frames[-1]["resolution"] == "bot_confirmed"
    await comm.disconnect()


async def test_yes_under_a_not_found_lookup_resolves_nothing(started, fake_bot, monkeypatch):
    trace = {**CONNECTOR_TRACE,
             "connector": {"connector": "Order status", "connector_id": 5, "ok": False,
                           "reason": "http_404", "not_found": True},
             "response": {"source": "connector", "connector": "Order status", "fallback": True}}
    not_found = turn_result(reply_text="I couldn't find that order.", articles=[], trace=trace)
    monkeypatch.setattr(type(fake_bot), "__call__", lambda self, **kw: not_found)
    conversation, token = started
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to(message("where is order 10023?"))
    [reply] = [f for f in await receive_until(comm, is_bot_message) if is_bot_message(f)]
    assert reply["articles"] == []
    await comm.send_json_to({"type": "feedback", "helpful": True, "seq": reply["seq"]})
    assert (await comm.receive_json_from())["code"] == "bad_feedback"
    await comm.disconnect()
