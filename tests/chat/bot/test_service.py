import pytest

from chat.bot import TurnContext, answer_turn, playground_turn
from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db


def test_answer_turn_runs_the_pipeline_on_the_stored_taxonomy(db_taxonomy):
    result = answer_turn(text="where is my order #88213", context=TurnContext())
    assert result.decision == "reply"
    assert result.intent == "order_status"
    assert result.backend == "offline"
    assert result.trace["classification"]["classifier_version"] == 1
    assert result.articles[0]["title"] == "Tracking your order"


def test_answer_turn_continues_a_dialog(db_taxonomy):
    first = answer_turn(text="where is my order?", context=TurnContext())
    second = answer_turn(
        text="it's 55102",
        context=TurnContext(history=[("customer", "where is my order?"),
                                     ("bot", first.reply_text)],
                            dialog_state=first.dialog_state,
                            customer_texts=["where is my order?"]),
    )
    assert second.intent == "order_status" and "55102" in second.reply_text


def test_playground_replays_history_and_stores_nothing(db_taxonomy):
    result = playground_turn(text="it's 55102", history=["where is my order?"])
    assert result.intent == "order_status"
    assert result.trace["dialog"]["resumed"] is True
    assert "55102" in result.reply_text
    assert Conversation.objects.count() == 0
    assert Message.objects.count() == 0


def test_playground_with_an_explicit_dialog_state(db_taxonomy):
    state = {"turns": 8, "fallbacks": 0, "pending": None, "details": {}, "last_intent": ""}
    result = playground_turn(text="is the tent waterproof", dialog_state=state)
    assert result.decision == "handoff"
    assert result.handoff_category == "turns"
