import pytest

from chat.bot.escalation import decide, handoff_message


def run(**overrides):
    values = dict(intent="order_status", intent_name="Order status", policy="never",
                  sentiment="neutral", urgency="low", signals=[], human_request="", turns=1,
                  fallbacks=0, max_turns=8, max_fallbacks=2)
    values.update(overrides)
    return decide(**values)


def test_a_plain_message_is_not_escalated():
    assert run().handoff is False


@pytest.mark.parametrize(
    ("overrides", "category"),
    [
        ({"signals": [{"phrase": "lawyer", "category": "legal"}]}, "legal"),
        ({"signals": [{"phrase": "fraud", "category": "fraud"}]}, "fraud"),
        ({"human_request": "speak to a human"}, "human_request"),
        ({"signals": [{"phrase": "supervisor", "category": "human_request"}]}, "human_request"),
        ({"intent": "billing_dispute", "intent_name": "Billing dispute", "policy": "always"},
         "billing"),
        ({"intent": "gift_card_fraud", "intent_name": "Gift card", "policy": "always"}, "policy"),
        ({"signals": [{"phrase": "furious", "category": "anger"}]}, "anger"),
        ({"intent": "complaint", "intent_name": "Complaint", "sentiment": "angry"}, "anger"),
        ({"intent": "complaint", "intent_name": "Complaint", "policy": "negative",
          "sentiment": "negative"}, "policy"),
        ({"urgency": "critical"}, "urgency"),
        ({"signals": [{"phrase": "injured", "category": "other"}]}, "other"),
        ({"turns": 9}, "long_conversation"),
        ({"fallbacks": 2}, "fallbacks"),
    ],
)
def test_each_rule_hands_off_with_its_category(overrides, category):
    result = run(**overrides)
    assert result.handoff is True
    assert result.category == category
    assert result.reason


def test_eight_turns_are_fine_the_ninth_is_too_many():
    assert run(turns=8).handoff is False
    assert run(turns=9).category == "long_conversation"


def test_one_fallback_is_not_enough():
    assert run(fallbacks=1).handoff is False


def test_an_angry_customer_outside_a_complaint_is_not_escalated_for_anger_alone():
    assert run(sentiment="angry", urgency="high").handoff is False


def test_handoff_messages_fit_the_reason():
    assert "billing" in handoff_message("billing").lower()
    assert "sorry" in handoff_message("anger").lower()
    assert "quickly enough" in handoff_message("long_conversation")
    assert handoff_message("urgency") == handoff_message("other")
    assert len({handoff_message(c) for c in ("billing", "anger", "long_conversation",
                                             "other")}) == 4
