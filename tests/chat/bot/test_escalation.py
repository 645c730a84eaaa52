import pytest

from chat.bot.escalation import (
    CATEGORIES,
    HANDOFF_MESSAGES,
    OFFLINE_ENDING,
    decide,
    handoff_message,
)


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
         "policy"),
        ({"intent": "gift_card_fraud", "intent_name": "Gift card", "policy": "always"}, "policy"),
        ({"signals": [{"phrase": "furious", "category": "anger"}]}, "anger"),
        ({"intent": "complaint", "intent_name": "Complaint", "sentiment": "angry"}, "anger"),
        ({"intent": "complaint", "intent_name": "Complaint", "policy": "negative",
          "sentiment": "negative"}, "policy"),
        ({"intent": "refund", "intent_name": "Refund", "policy": "angry", "sentiment": "angry"},
         "anger"),
        ({"urgency": "critical"}, "urgency"),
        ({"signals": [{"phrase": "injured", "category": "other"}]}, "other"),
        ({"turns": 9}, "turns"),
        ({"fallbacks": 2}, "fallbacks"),
        ({"fallbacks": 2, "language": "ar"}, "language"),
        ({"fallbacks": 3, "language": "Cyrillic"}, "language"),
    ],
)
def test_each_rule_hands_off_with_its_category(overrides, category):
    result = run(**overrides)
    assert result.handoff is True
    assert result.category == category
    assert result.category in CATEGORIES
    assert result.reason


def test_categories_are_named_as_the_issue_lists_them():
    assert set(CATEGORIES) >= {"legal", "fraud", "anger", "human_request", "policy", "turns",
                               "fallbacks", "language", "urgency", "quality", "error", "other"}
    assert "billing" not in CATEGORIES and "long_conversation" not in CATEGORIES


def test_eight_turns_are_fine_the_ninth_is_too_many():
    assert run(turns=8).handoff is False
    assert run(turns=9).category == "turns"


def test_one_fallback_is_not_enough():
    assert run(fallbacks=1).handoff is False
    assert run(fallbacks=1, language="zh").handoff is False


def test_an_angry_customer_outside_a_complaint_is_not_escalated_for_anger_alone():
    assert run(sentiment="angry", urgency="high").handoff is False


@pytest.mark.parametrize("sentiment", ["positive", "neutral", "negative"])
def test_the_when_angry_policy_answers_a_message_that_is_not_angry(sentiment):
    assert run(intent="refund", intent_name="Refund", policy="angry",
               sentiment=sentiment).handoff is False


@pytest.mark.parametrize("sentiment", ["negative", "angry"])
def test_the_when_negative_policy_hands_over_negative_and_angry(sentiment):
    assert run(intent="refund", intent_name="Refund", policy="negative",
               sentiment=sentiment).handoff is True


def test_handoff_messages_fit_the_reason():
    assert "sorry" in handoff_message("anger").lower()
    assert "quickly enough" in handoff_message("turns")
    assert "language" in handoff_message("language")
    assert handoff_message("urgency") == handoff_message("other")
    assert len({handoff_message(c) for c in ("human_request", "anger", "turns", "language",
                                             "other")}) == 5


@pytest.mark.parametrize("intent", ["billing_dispute", "payment_failed", "billing"])
def test_a_policy_handoff_of_a_billing_intent_gets_the_billing_message(intent):
    assert "billing" in handoff_message("policy", intent).lower()
    assert handoff_message("policy", intent) == HANDOFF_MESSAGES["billing"]


@pytest.mark.parametrize("intent", ["gift_card", "warranty_claim", ""])
def test_a_policy_handoff_of_another_intent_gets_the_general_message(intent):
    assert "billing" not in handoff_message("policy", intent).lower()


def test_old_category_names_stay_readable():
    assert handoff_message("billing") == HANDOFF_MESSAGES["billing"]
    assert handoff_message("long_conversation") == handoff_message("turns")


def test_a_withdrawn_concern_keeps_an_always_policy_intent_with_the_bot():
    billing = dict(intent="billing_dispute", intent_name="Billing dispute", policy="always")
    assert run(**billing, withdrawn="never mind").handoff is False
    assert run(**billing).handoff is True
    # signals still hand off
    assert run(**billing, withdrawn="never mind",
               signals=[{"phrase": "fraud", "category": "fraud"}]).category == "fraud"


@pytest.mark.parametrize("category", [*CATEGORIES, "billing", "long_conversation", "unknown"])
def test_with_no_agent_online_one_message_says_so_and_asks_for_an_email(category):
    text = handoff_message(category, agents_online=False)
    assert text.endswith(OFFLINE_ENDING)
    assert "no one is online" in text and "e-mail address" in text
    # Never the promise that someone will reply here, which the online message makes.
    assert "reply here" not in text and "connecting you" not in text
    assert text != handoff_message(category)


def test_the_offline_message_keeps_the_reason_s_lead():
    assert handoff_message("anger", agents_online=False).startswith("I'm really sorry")
    assert handoff_message("language", agents_online=False).startswith(
        "I'm sorry that I can't help you in your language."
    )
    billing = handoff_message("policy", "billing_dispute", agents_online=False)
    assert billing.startswith("I'm sorry about the trouble with your payment.")
    assert handoff_message("billing", agents_online=False) == billing
    # A request for a person needs no lead: the ending alone.
    assert handoff_message("human_request", agents_online=False) == OFFLINE_ENDING
