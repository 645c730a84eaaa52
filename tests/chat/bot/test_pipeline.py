import json

import pytest

from chat.bot.escalation import handoff_message
from chat.bot.pipeline import run_turn
from chat.bot.types import TurnContext

from .conftest import TODAY


class Conversation:
    """Plays a conversation through the pipeline the way the chat task does."""

    def __init__(self, taxonomy):
        self.taxonomy = taxonomy
        self.state: dict = {}
        self.history: list[tuple[str, str]] = []

    def say(self, text, **kwargs):
        context = TurnContext(
            history=list(self.history[-10:]), dialog_state=self.state,
            customer_texts=[t for author, t in self.history if author == "customer"],
        )
        result = run_turn(self.taxonomy, text=text, context=context, use_claude=False,
                          today=TODAY, **kwargs)
        self.state = result.dialog_state
        self.history += [("customer", text), ("bot", result.reply_text)]
        return result


def test_slot_filling_across_two_turns(taxonomy):
    chat = Conversation(taxonomy)
    first = chat.say("where is my order?")
    assert first.decision == "reply"
    assert first.intent == "order_status"
    assert first.reply_text == "What is your order number?"
    assert first.dialog_state["pending"]["detail"] == "order_number"

    second = chat.say("it's 55102")
    assert second.decision == "reply"
    assert second.intent == "order_status"
    assert second.is_fallback is False
    assert second.entities["order_number"] == "55102"
    assert "55102" in second.reply_text
    assert second.articles and second.articles[0]["title"] == "Tracking your order"
    assert second.trace["dialog"]["resumed"] is True
    assert second.dialog_state["pending"] is None


def test_order_number_given_up_front_is_answered_at_once(taxonomy):
    result = Conversation(taxonomy).say("where is my order #88213")
    assert result.intent == "order_status"
    assert result.articles[0]["id"] == 1
    assert "88213" in result.reply_text


def test_turn_limit_hands_off_on_the_ninth_turn(taxonomy):
    chat = Conversation(taxonomy)
    questions = ["is the tent waterproof", "how heavy is the tent", "what colours are available",
                 "what size should I buy", "can I wash the down jacket",
                 "how warm is the sleeping bag", "do you have this in blue",
                 "are the boots good for hiking"]
    for question in questions:
        assert chat.say(question).decision == "reply"
    ninth = chat.say("does the backpack have a laptop sleeve")
    assert ninth.decision == "handoff"
    assert ninth.handoff_category == "long_conversation"
    assert ninth.reply_text == handoff_message("long_conversation")
    assert ninth.dialog_state["turns"] == 9


def test_two_consecutive_fallbacks_hand_off(taxonomy):
    chat = Conversation(taxonomy)
    first = chat.say("zxq vvbn plorf")
    assert first.is_fallback and first.intent == "general_inquiry"
    assert first.decision == "reply"
    second = chat.say("qwop blarg snee")
    assert second.decision == "handoff"
    assert second.handoff_category == "fallbacks"


@pytest.mark.parametrize("text", ["Is this chair good for managers?", "Is the legal pad yellow?"])
def test_words_out_of_context_do_not_escalate(taxonomy, text):
    result = Conversation(taxonomy).say(text)
    assert result.decision == "reply"
    assert result.signals == []


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I want to speak to a supervisor", "human_request"),
        ("can I talk to a real person please", "human_request"),
        ("I was charged twice for my order", "billing"),
        ("This is ridiculous, your service is terrible!!", "anger"),
        ("I'm going to sue you over this", "legal"),
        ("there is an unauthorized charge, this is fraud", "fraud"),
    ],
)
def test_escalations(taxonomy, text, category):
    result = Conversation(taxonomy).say(text)
    assert result.decision == "handoff"
    assert result.handoff_category == category
    assert result.handoff_reason
    assert result.reply_text == handoff_message(category)
    assert result.articles == []


def test_a_reply_carries_its_articles_and_a_passing_quality_check(taxonomy):
    result = Conversation(taxonomy).say("how long does a refund take")
    assert result.decision == "reply"
    assert result.intent == "return_request"
    assert result.articles[0]["title"] == "Returns and refunds"
    assert result.trace["quality"]["ok"] is True
    assert result.handoff_category == "" and result.handoff_reason == ""


def test_the_trace_has_every_stage_and_is_json(taxonomy):
    result = Conversation(taxonomy).say("how long does a refund take")
    trace = result.trace
    for stage in ("classification", "entities", "sentiment", "signals", "dialog", "escalation",
                  "retrieval", "response", "quality", "timings_ms"):
        assert stage in trace, stage
    assert trace["backend"] == "offline"
    assert trace["classification"]["top_intents"][0][0] == "return_request"
    assert set(trace["timings_ms"]) >= {"classification", "entities", "dialog", "escalation"}
    json.dumps(trace)
    json.dumps(result.to_dict())


def test_decision_only_skips_the_reply(taxonomy):
    result = run_turn(taxonomy, text="how long does a refund take", context=TurnContext(),
                      use_claude=False, respond=False)
    assert result.decision == "reply"
    assert result.reply_text == ""
    assert "quality" not in result.trace


def test_without_a_classifier_every_message_is_the_fallback(taxonomy):
    from chat.bot.taxonomy import taxonomy_from_data

    from .conftest import ARTICLES, INTENTS

    bare = taxonomy_from_data(intents=INTENTS, articles=ARTICLES)
    result = run_turn(bare, text="where is my order", context=TurnContext(), use_claude=False)
    assert result.is_fallback and result.intent == "general_inquiry"
    assert "classification: no active classifier" in result.trace["errors"]


def test_a_confident_intent_with_several_articles_quotes_the_best_of_them(trained):
    # A confident intent is always answered from one of its articles: the best by text,
    # else its first (no "I'm not sure" while the intent has published articles).
    from chat.bot.responder import NO_ARTICLE_REPLY
    from chat.bot.retrieval import ArticleDoc
    from chat.bot.taxonomy import taxonomy_from_data

    from .conftest import ARTICLES, INTENTS

    extra = ArticleDoc(6, "Trail 40 Backpack: fit", "The Trail 40 Backpack has a laptop sleeve.",
                       ("product_question",))
    taxonomy = taxonomy_from_data(intents=INTENTS, articles=[*ARTICLES, extra],
                                  classifier=trained[0])
    chat = Conversation(taxonomy)
    vague = chat.say("what colours are available for this chair")
    assert vague.intent == "product_question"
    assert vague.reply_text != NO_ARTICLE_REPLY
    assert vague.articles[0]["id"] in {3, 6}
    clear = chat.say("does the backpack have a laptop sleeve")
    assert clear.articles[0]["title"] == "Trail 40 Backpack: fit"
    tent = chat.say("how heavy is the tent")
    assert tent.articles[0]["title"] == "Peak 2 Tent: specs and care"


def test_the_fallback_intent_is_answered_only_from_an_article_that_matches(taxonomy):
    # "Anything else" is not answered from its first article whatever the message says.
    from chat.bot.responder import NO_ARTICLE_REPLY

    rewards = Conversation(taxonomy).say("do you have a rewards program")
    assert rewards.intent == "general_inquiry" and not rewards.is_fallback
    assert rewards.reply_text == NO_ARTICLE_REPLY and rewards.articles == []
    contact = Conversation(taxonomy).say("how can I contact you, is there a phone number")
    assert contact.articles[0]["title"] == "Contact us"
