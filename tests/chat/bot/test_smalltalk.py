import pytest

from chat.bot import dialog, smalltalk
from chat.bot.pipeline import run_turn
from chat.bot.smalltalk import OFF_TOPIC_REPLY, off_topic
from chat.bot.taxonomy import IntentInfo, taxonomy_from_data
from chat.bot.text import normalize
from chat.bot.types import TurnContext

from .conftest import ARTICLES, INTENTS, SIGNALS, TODAY
from .test_pipeline import Conversation


@pytest.mark.parametrize(("text", "kind"), [
    ("Hey!", "greeting"),
    ("good afternoon, team", "greeting"),
    ("hi there, can you help me please?", "greeting"),
    ("Many thanks!!", "thanks"),
    ("ok great, cheers", "thanks"),
    ("that was helpful, thank you", "thanks"),
    ("thanks, that's all", "goodbye"),
    ("bye for now", "goodbye"),
    ("good night", "goodbye"),
])
def test_pleasantries_are_recognised(text, kind):
    assert smalltalk.kind(text) == kind


@pytest.mark.parametrize("text", [
    "hi, my parcel never came",
    "thanks but the refund is still missing",
    "ok",  # may accept the bot's offer of a person
    "yes",
    "",
    "hello " * 9,  # too long to be only a pleasantry
])
def test_a_message_with_more_in_it_is_not_small_talk(text):
    assert smalltalk.kind(text) is None


def test_a_taxonomy_intent_for_the_kind_takes_it_over():
    assert smalltalk.kind("hello", intents={"greeting", "refund"}) is None
    assert smalltalk.kind("thanks", intents={"greeting"}) == "thanks"


def test_a_pleasantry_keeps_the_topic_and_the_fallback_count():
    state = {"turns": 3, "fallbacks": 1, "last_intent": "order_status", "details": {"x": 1},
             "pending": {"intent": "order_status", "detail": "order_number",
                         "question": "What is your order number?"}}
    outcome = dialog.pleasantry(state, kind="greeting", fallback_intent="general_inquiry")
    assert (outcome.intent, outcome.is_fallback, outcome.action) == (
        "order_status", False, "smalltalk")
    assert outcome.question == "What is your order number?"
    assert outcome.state == {**state, "turns": 4}

    fresh = dialog.pleasantry({}, kind="greeting", fallback_intent="general_inquiry")
    assert fresh.intent == "general_inquiry"
    assert fresh.state["awaiting"] == "request"  # left after a greeting: not resolved
    thanked = dialog.pleasantry({}, kind="thanks", fallback_intent="general_inquiry")
    assert "awaiting" not in thanked.state


def test_the_bot_answers_a_greeting_in_kind_and_then_the_question(taxonomy):
    chat = Conversation(taxonomy)
    hello = chat.say("good morning!")
    assert hello.decision == "reply"
    assert hello.reply_text == smalltalk.REPLIES["greeting"]
    assert hello.intent == "general_inquiry" and hello.is_fallback is False
    assert hello.articles == []
    assert hello.trace["response"] == {"source": "smalltalk", "kind": "greeting"}
    assert hello.trace["dialog"]["smalltalk"] == "greeting"

    asked = chat.say("where is my order?")
    assert asked.reply_text == "What is your order number?"
    # A pleasantry while a detail is awaited asks for it again and keeps it awaited.
    thanks = chat.say("ok thanks")
    assert thanks.reply_text == "You're welcome! What is your order number?"
    assert thanks.intent == "order_status"
    answered = chat.say("it's 55102")
    assert answered.trace["dialog"]["resumed"] is True and "55102" in answered.reply_text
    bye = chat.say("thanks, bye")
    assert bye.reply_text == smalltalk.REPLIES["goodbye"]
    assert bye.intent == "order_status"  # the conversation's topic stays


def test_pleasantries_do_not_reset_the_fallback_count(taxonomy):
    chat = Conversation(taxonomy)
    chat.say("zxqv blorp")
    assert chat.state["fallbacks"] == 1
    chat.say("hello")
    assert chat.state["fallbacks"] == 1
    assert chat.say("qwzx vbnm").decision == "handoff"  # the second fallback in a row


def test_a_taxonomy_with_its_own_greeting_intent_leaves_greetings_to_the_classifier(trained):
    intents = [*INTENTS, IntentInfo("greeting", "Greeting")]
    taxonomy = taxonomy_from_data(
        intents=intents, signals=SIGNALS, articles=ARTICLES, classifier=trained[0],
        fallback_intent="general_inquiry",
    )
    result = run_turn(taxonomy, text="hello", context=TurnContext(), use_claude=False,
                      today=TODAY)
    assert result.trace["dialog"]["smalltalk"] == ""
    assert result.trace["response"]["source"] != "smalltalk"


def test_a_pleasantry_does_not_trigger_the_last_intents_policy(taxonomy):
    # billing_dispute always goes to a person; a "thank you" after an agent handed the
    # conversation back to the bot does not, while words that escalate still do.
    state = {"turns": 2, "fallbacks": 0, "last_intent": "billing_dispute", "details": {}}
    thanks = run_turn(taxonomy, text="thank you!", context=TurnContext(dialog_state=state),
                      use_claude=False, today=TODAY)
    assert thanks.decision == "reply" and thanks.intent == "billing_dispute"
    person = run_turn(taxonomy, text="hello, can I talk to a human",
                      context=TurnContext(dialog_state=state), use_claude=False, today=TODAY)
    assert person.decision == "handoff"


@pytest.mark.parametrize("text", [
    "tell me a joke", "Tell me a funny joke please", "can you sing me a song?",
    "write me a poem about tents", "what's the weather like in Denver tomorrow",
    "what is the capital of Peru", "who won the super bowl", "what is 17 * 3",
    "let's play a game", "will you marry me", "can you do my homework",
    "give us a riddle", "know any good jokes?",
])
def test_requests_no_desk_answers_are_off_topic(text):
    assert off_topic(normalize(text))


@pytest.mark.parametrize("text", [
    "my order is a joke, where is it", "the joke of a courier left my parcel in the rain",
    "do you sell a song book", "I need a story book for my daughter, is it in stock",
    "what is the weatherproof rating of the Summit jacket", "where is my order",
    "I was told a joke by your agent and I want a refund for the rude service, this is "
    "the third time I have written about my order",
])
def test_questions_with_such_words_are_not_off_topic(text):
    assert off_topic(normalize(text)) == ""


def test_an_off_topic_request_is_not_understood_and_counts_toward_the_handoff(taxonomy):
    first = run_turn(taxonomy, text="tell me a joke", context=TurnContext(),
                     use_claude=False, today=TODAY)
    assert first.decision == "reply" and first.is_fallback
    assert first.intent == taxonomy.fallback_intent
    assert first.reply_text == OFF_TOPIC_REPLY and first.articles == []
    assert first.trace["off_topic"] == "tell me a joke"
    second = run_turn(taxonomy, text="ok then what's the weather tomorrow",
                      context=TurnContext(dialog_state=first.dialog_state),
                      use_claude=False, today=TODAY)
    assert second.decision == "handoff" and second.handoff_category == "fallbacks"


def test_a_taxonomy_with_an_intent_for_the_topic_keeps_it():
    from chat.bot.classifier import train

    intents = [
        IntentInfo(slug="tell_joke", name="Tell a joke", description="", escalation_policy="never"),
        IntentInfo(slug="order_status", name="Order status", description="",
                   escalation_policy="never"),
        IntentInfo(slug="billing", name="Billing", description="", escalation_policy="never"),
        IntentInfo(slug="general_inquiry", name="General", description="",
                   escalation_policy="never"),
    ]
    phrases = {
        "tell_joke": ["tell me a joke", "make me laugh with a joke", "I want to hear a joke",
                      "say something funny", "got any jokes", "tell me a funny joke",
                      "know a good joke", "joke please"],
        "order_status": ["where is my order", "track my parcel", "has my order shipped",
                         "order status please", "when will my package come",
                         "my delivery is late", "where is my stuff", "track order 123"],
        "billing": ["I was charged twice", "refund my payment", "wrong amount on my card",
                    "my invoice is wrong", "billing problem", "charged too much",
                    "payment failed", "update my card"],
        "general_inquiry": ["what are your hours", "how do I contact you", "do you have a shop",
                            "question about your company", "where are you based",
                            "do you sell gift cards", "what is your phone number",
                            "are you open on sunday"],
    }
    texts = [p for slug in phrases for p in phrases[slug]]
    labels = [slug for slug in phrases for _ in phrases[slug]]
    model, _ = train(texts, labels)
    jokes = taxonomy_from_data(intents=intents, signals=[], articles=[], classifier=model,
                               fallback_intent="general_inquiry")
    result = run_turn(jokes, text="tell me a joke", context=TurnContext(), use_claude=False,
                      today=TODAY, respond=False)
    assert result.confidence >= 0.9
    assert result.intent == "tell_joke" and not result.is_fallback
    assert "off_topic" not in result.trace


@pytest.mark.parametrize(("text", "expected"), [
    ("ok thanks anyway", smalltalk.THANKS), ("no worries, thanks though", smalltalk.THANKS),
    ("never mind, bye", smalltalk.GOODBYE), ("no problem, thank you", smalltalk.THANKS),
])
def test_leaving_words_are_pleasantries_not_questions_the_bot_failed(text, expected):
    # A customer who gives up after a question the bot could not answer is leaving, not
    # asking again: it must not count toward the not-understood handoff.
    assert smalltalk.kind(normalize(text)) == expected
