import json

import pytest

from chat.bot.escalation import handoff_message
from chat.bot.pipeline import run_turn
from chat.bot.taxonomy import IntentInfo, taxonomy_from_data
from chat.bot.types import TurnContext

from .conftest import ARTICLES, INTENTS, SIGNALS, TODAY


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
    assert ninth.handoff_category == "turns"
    assert ninth.reply_text == handoff_message("turns")
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
        ("I was charged twice for my order", "policy"),
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
    assert result.reply_text == handoff_message(category, result.intent)
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


@pytest.mark.parametrize("phone_message", [
    "call me back on 5551234567",
    "please ring me at (555) 123-4567 later",
    "my number is +44 20 7946 0958",
    "you can reach me on 555 123 4567",
])
def test_a_phone_number_never_becomes_the_order_number(taxonomy, phone_message):
    chat = Conversation(taxonomy)
    first = chat.say(phone_message)
    assert "order_number" not in first.entities
    assert "order_number" not in first.dialog_state.get("details", {})
    second = chat.say("where is my order?")
    assert second.intent == "order_status"
    assert second.reply_text == "What is your order number?"
    assert "have your order number" not in second.reply_text


def test_a_bare_number_is_an_order_number_only_when_the_bot_asked_for_one(taxonomy):
    assert "order_number" not in Conversation(taxonomy).say("is 55102 in stock").entities
    chat = Conversation(taxonomy)
    chat.say("where is my order?")
    answered = chat.say("55102")
    assert answered.entities["order_number"] == "55102" and "55102" in answered.reply_text


def test_a_phone_number_given_when_the_order_number_is_awaited_is_not_taken(taxonomy):
    chat = Conversation(taxonomy)
    chat.say("where is my order?")
    result = chat.say("call me on 5551234567")
    assert "order_number" not in result.entities
    assert "order_number" not in result.dialog_state.get("details", {})


def test_relative_dates_count_from_the_message_s_time_in_the_customer_s_zone(taxonomy):
    import datetime as dt

    moment = dt.datetime(2026, 11, 28, 2, 30, tzinfo=dt.UTC)  # 21:30 on the 27th in New York
    def date_of(text, **context):
        result = run_turn(taxonomy, text=text, context=TurnContext(**context), use_claude=False,
                          respond=False)
        return result.entities["dates"][0]["date"]

    assert date_of("I ordered yesterday", now=moment, timezone="America/New_York") == (
        "2026-11-26"
    )
    assert date_of("I ordered yesterday", now=moment) == "2026-11-27"  # the desk's UTC
    assert date_of("it came this morning", now=moment, timezone="Asia/Tokyo") == "2026-11-28"
    assert date_of("I ordered yesterday", now=moment, timezone="Nowhere/Land") == "2026-11-27"


def test_the_desk_s_time_zone_setting_is_the_default(taxonomy, settings):
    import datetime as dt

    settings.TIME_ZONE = "Pacific/Auckland"
    moment = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)  # the 28th, 01:00 in Auckland
    result = run_turn(taxonomy, text="I ordered yesterday", use_claude=False, respond=False,
                      context=TurnContext(now=moment))
    assert result.entities["dates"][0]["date"] == "2026-11-27"


def test_a_phone_number_instead_of_the_order_number_asks_again_then_the_number_answers(
    taxonomy,
):
    chat = Conversation(taxonomy)
    chat.say("where is my order?")
    again = chat.say("just call me on 555-123-4567")
    assert again.intent == "order_status" and again.reply_text == "What is your order number?"
    answered = chat.say("it's 55102")
    assert answered.entities["order_number"] == "55102" and "55102" in answered.reply_text


@pytest.mark.parametrize("answer", [
    "call me on 5551234567", "my number is (415) 555-0199", "+49 30 1234567",
    "zip 90210", "postcode SW1A 1AA", "I paid $149.95", "it was 3000 yen", "€ 1.299,00",
    "I've been a customer since 2019", "in 2024 I think", "I ordered 1000 units",
])
def test_what_is_no_order_number_is_not_taken_when_one_is_awaited(taxonomy, answer):
    chat = Conversation(taxonomy)
    chat.say("where is my order?")
    result = chat.say(answer)
    assert "order_number" not in result.entities
    assert "order_number" not in result.dialog_state["details"]
    assert "have your order number" not in result.reply_text
# --- The entrance: one normalisation, messages the desk cannot read -----------------------




@pytest.mark.parametrize(
    "text",
    ["super\u200bvisor please", "SUPER\u00adVISOR PLEASE", "\uff53\uff55\uff50\uff45\uff52"
     "\uff56\uff49\uff53\uff4f\uff52 please", "I want a super-visor", "let me talk to a "
     "super visor"],
)
def test_invisible_and_width_variants_of_a_signal_word_hand_off(taxonomy, text):
    result = Conversation(taxonomy).say(text)
    assert result.decision == "handoff"
    assert result.handoff_category == "human_request"


def test_every_stage_sees_the_normalised_text(taxonomy):
    result = Conversation(taxonomy).say("WHERE\u200b IS MY \u00adORDER 55102?")
    assert result.intent == "order_status"
    assert result.entities.get("order_number") == "55102"


ARABIC = [
    "\u0623\u064a\u0646 \u0637\u0644\u0628\u064a\u061f",
    "\u0644\u0645 \u064a\u0635\u0644 \u0627\u0644\u0637\u0631\u062f \u0628\u0639\u062f",
    "\u0645\u062a\u0649 \u064a\u0635\u0644 \u0627\u0644\u0637\u0644\u0628",
]


def test_messages_in_an_unread_script_are_not_understood_then_go_to_a_person(taxonomy):
    chat = Conversation(taxonomy)
    first = chat.say(ARABIC[0])
    assert first.decision == "reply"
    assert first.is_fallback and first.intent == "general_inquiry"
    assert "English" in first.reply_text and "person" in first.reply_text
    assert first.trace["language"]["script"] == "Arabic"
    assert first.trace["language"]["language"] == "ar"
    assert first.articles == []
    second = chat.say(ARABIC[1])
    assert second.decision == "handoff"
    assert second.handoff_category == "language"
    assert second.reply_text == handoff_message("language")


def test_a_request_for_a_person_in_arabic_hands_off_at_once(taxonomy):
    result = Conversation(taxonomy).say("\u0645\u0648\u0638\u0641")
    assert result.decision == "handoff"
    assert result.handoff_category == "human_request"


@pytest.mark.parametrize(
    "text",
    ["quiero hablar con una persona", "je veux parler \u00e0 un conseiller",
     "ich m\u00f6chte mit einem Mitarbeiter sprechen", "quero falar com um atendente",
     "\u8f6c\u4eba\u5de5", "\u6211\u8981\u627e\u5ba2\u670d"],
)
def test_a_request_for_a_person_in_a_foreign_language_hands_off_at_once(taxonomy, text):
    result = Conversation(taxonomy).say(text)
    assert result.decision == "handoff"
    assert result.handoff_category == "human_request"


def test_latin_script_foreign_messages_count_toward_the_fallback_handoff(taxonomy):
    chat = Conversation(taxonomy)
    first = chat.say("\u00bfd\u00f3nde est\u00e1 mi pedido?")
    assert first.is_fallback and first.decision == "reply"
    assert first.trace["language"] == {**first.trace["language"], "language": "es",
                                       "supported": False, "reason": "language"}
    second = chat.say("mi paquete no ha llegado todav\u00eda")
    assert second.decision == "handoff" and second.handoff_category == "language"


def test_no_known_word_is_a_fallback_and_the_handoff_is_for_fallbacks(taxonomy):
    chat = Conversation(taxonomy)
    first = chat.say("vlorp snizzle")
    assert first.is_fallback and "didn't understand" in first.reply_text
    assert first.trace["language"]["reason"] == "unknown_words"
    second = chat.say("qwix blarn")
    assert second.handoff_category == "fallbacks"


def test_a_foreign_message_that_gives_the_awaited_detail_completes_the_request(taxonomy):
    chat = Conversation(taxonomy)
    chat.say("where is my order?")
    result = chat.say("mi pedido es el 55102")
    assert result.intent == "order_status" and not result.is_fallback
    assert "55102" in result.reply_text


def test_the_desk_languages_come_from_the_setting(taxonomy, settings):
    settings.BOT_LANGUAGES = ["en", "ar"]
    result = Conversation(taxonomy).say(ARABIC[0])
    assert result.trace["language"]["supported"] is True
    settings.BOT_LANGUAGES = ["en", "fr"]
    result = Conversation(taxonomy).say("\u0623\u064a\u0646 \u0637\u0644\u0628\u064a")
    assert "English and French" in result.reply_text


# --- Escalation in context, through the pipeline ------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["I don't want to talk to a human", "no need for a manager, the bot is fine",
     "I'm not going to sue, where is my order?", "this isn't fraud, I just forgot the charge",
     "I won't take legal action"],
)
def test_negated_signals_do_not_hand_off_and_the_trace_says_why(taxonomy, text):
    result = Conversation(taxonomy).say(text)
    assert result.handoff_category not in {"legal", "fraud", "human_request"}
    cancelled = result.trace["signals"]["cancelled"]
    assert cancelled or result.trace["signals"]["human_request"] == ""


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I don't want a bot, get me a human", "human_request"),
        ("not happy, I want a manager", "human_request"),
        ("made purchases I didn't authorize", "fraud"),
        ("I'll have my lawyers look at this", "legal"),
        ("get me a supervsor", "human_request"),
    ],
)
def test_signals_in_context_hand_off(taxonomy, text, category):
    result = Conversation(taxonomy).say(text)
    assert result.decision == "handoff"
    assert result.handoff_category == category


@pytest.fixture(scope="module")
def angry_policy_taxonomy(trained):
    intents = [IntentInfo(i.slug, i.name, i.description,
                          "angry" if i.slug == "complaint" else i.escalation_policy,
                          i.required_details) for i in INTENTS]
    return taxonomy_from_data(intents=intents, signals=SIGNALS, articles=ARTICLES,
                              classifier=trained[0], fallback_intent="general_inquiry")


@pytest.mark.parametrize(
    "text",
    ["I am a little disappointed with the service I got from your team",
     "I'm not happy with how I was treated, a bit disappointing"],
)
def test_the_when_angry_policy_answers_disappointment(angry_policy_taxonomy, text):
    result = Conversation(angry_policy_taxonomy).say(text)
    assert result.intent == "complaint"
    assert result.decision == "reply"


@pytest.mark.parametrize(
    "text",
    ["your service is terrible, you are useless idiots",
     "I want to make a complaint, this is the WORST SHOP EVER!!!"],
)
def test_the_when_angry_policy_hands_over_anger(angry_policy_taxonomy, text):
    result = Conversation(angry_policy_taxonomy).say(text)
    assert result.decision == "handoff"
    assert result.handoff_category == "anger"


@pytest.mark.parametrize(
    "text",
    ["this isn't fraud, I just forgot the charge", "never mind the double charge, it was my wife"],
)
def test_a_withdrawn_billing_concern_stays_with_the_bot(taxonomy, text):
    result = Conversation(taxonomy).say(text)
    assert result.decision == "reply"
    assert result.trace["signals"]["withdrawn"]


def test_an_unread_message_while_a_detail_is_awaited_names_the_languages(taxonomy):
    chat = Conversation(taxonomy)
    chat.say("where is my order?")
    result = chat.say("\u0623\u064a\u0646 \u0637\u0644\u0628\u064a\u061f")
    assert "English" in result.reply_text and result.is_fallback
    assert result.dialog_state["pending"]["detail"] == "order_number"
    done = chat.say("A-55102")
    assert done.intent == "order_status" and "A-55102" in done.reply_text


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


def test_a_question_for_a_detail_offers_i_don_t_have_it(taxonomy):
    chat = Conversation(taxonomy)
    first = chat.say("where is my order?")
    assert first.quick_replies == ["I don't have it"]
    second = chat.say(first.quick_replies[0])
    # Answered without the number instead of the same question again; nothing more offered.
    assert second.decision == "reply" and second.intent == "order_status"
    assert second.reply_text != first.reply_text
    assert second.articles and second.articles[0]["title"] == "Tracking your order"
    assert second.dialog_state["pending"] is None
    assert second.quick_replies == []


def test_answers_and_handoffs_offer_no_buttons(taxonomy):
    assert Conversation(taxonomy).say("where is my order #88213").quick_replies == []
    chat = Conversation(taxonomy)
    chat.say("where is my order?")
    handoff = chat.say("my lawyer will sue you")
    assert handoff.decision == "handoff" and handoff.quick_replies == []


@pytest.mark.parametrize("text", [
    "can I speak to a human?", "Can I please talk to a real person", "get me an agent NOW",
    "I  want\tto talk to   someone from your team",
])
def test_the_handoff_reason_quotes_a_short_request_as_the_customer_wrote_it(taxonomy, text):
    result = run_turn(taxonomy, text=text, context=TurnContext(), use_claude=False)
    assert result.decision == "handoff"
    assert result.handoff_reason == f'Customer asked for a person ("{" ".join(text.split())}")'


def test_a_long_request_is_quoted_by_its_words_alone(taxonomy):
    text = ("I have been going back and forth with this thing for an hour about my parcel and "
            "frankly I would like to speak to a human about it")
    result = run_turn(taxonomy, text=text, context=TurnContext(), use_claude=False)
    assert result.decision == "handoff"
    quote = result.handoff_reason.removeprefix('Customer asked for a person ("').removesuffix('")')
    assert quote.startswith("\u2026") and quote.endswith("\u2026") and "human" in quote
    assert len(quote) < len(text)
