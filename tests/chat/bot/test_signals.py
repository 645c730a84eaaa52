import pytest

from chat.bot import signals
from chat.bot.signals import SignalMatcher, human_request, withdrawal
from chat.bot.text import normalize

from .conftest import SIGNALS

matcher = SignalMatcher(SIGNALS)


def phrases(text: str) -> list[str]:
    return [s["phrase"] for s in matcher.find(text)]


@pytest.mark.parametrize(
    "text",
    [
        "Is this chair good for managers?",
        "Is the legal pad yellow?",
        "Is it legal to ship a stove by air?",
        "my manager bought this tent for the team",
        "the supervisors' desk lamp is broken",
        "I need a new issue of the catalogue",
    ],
)
def test_words_out_of_context_do_not_match(text):
    assert phrases(text) == []
    assert human_request(text) == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I want to speak to a supervisor", ["supervisor"]),
        ("get me your manager now", ["manager"]),
        ("Manager, please!", ["manager"]),
        ("I will take legal action", ["legal"]),
        ("I'm going to sue you", ["sue"]),
        ("my lawyer will hear about this", ["lawyer"]),
        ("there is an unauthorized charge", ["unauthorized"]),
        ("I am FURIOUS", ["furious"]),
    ],
)
def test_words_in_context_match(text, expected):
    assert phrases(text) == expected


def test_signals_do_not_match_inside_other_words():
    assert phrases("the issue is sued... no, pursued") == []
    assert phrases("a fraudulently priced item") == []


@pytest.mark.parametrize(
    "text",
    [
        "I want to talk to a human",
        "can I speak with an operator",
        "i do not know how to chat with somenoe",  # typo
        "need help speakign to a live agent",  # typo
        "connect me with a real person",
        "human please",
        "let me talk to somebody",
        "how can I contact an agent",
        "chat wth somebody",  # mistyped preposition
        "how to taok to an agent",  # mistyped short verb
        "how to speak tosomebody",  # glued words
    ],
)
def test_explicit_requests_for_a_person(text):
    assert human_request(text)


@pytest.mark.parametrize(
    "text",
    [
        "how do I contact customer service",
        "I need help calling customer support",
        "what are your support hours",
        "I don't want to talk to a human, just tell me",
        "the person who delivered it was nice",
    ],
)
def test_not_requests_for_a_person(text):
    assert human_request(text) == ""


# --- In context: negation, word forms, typos, splits -------------------------------------


# A taxonomy's signals of every category, as an admin would write them.
WIDE = SignalMatcher([
    ("manager", "human_request"), ("supervisor", "human_request"),
    ("talk to a human", "human_request"), ("escalate", "human_request"),
    ("legal", "legal"), ("legal action", "legal"), ("lawyer", "legal"), ("attorney", "legal"),
    ("sue", "legal"), ("lawsuit", "legal"), ("solicitor", "legal"),
    ("fraud", "fraud"), ("scam", "fraud"), ("unauthorized", "fraud"), ("stolen", "fraud"),
    ("chargeback", "fraud"), ("hacked", "fraud"), ("identity theft", "fraud"),
    ("furious", "anger"), ("unacceptable", "anger"), ("ridiculous", "anger"),
    ("outraged", "anger"), ("disgusted", "anger"),
    ("injured", "other"),
])


def categories(text: str) -> set[str]:
    return {s["category"] for s in WIDE.find(normalize(text))}


def report(text: str):
    return WIDE.analyse(normalize(text))


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # human requests, negated in different words
        ("I don't want to talk to a human", "human_request"),
        ("no need for a manager, the bot is fine", "human_request"),
        ("I do not need a supervisor, thanks", "human_request"),
        ("dont escalate this please, it's sorted", "human_request"),
        ("I never asked for a manager", "human_request"),
        # legal
        ("I'm not going to sue", "legal"),
        ("I won't take legal action, I just want a refund", "legal"),
        ("we are not planning any lawsuit", "legal"),
        ("no need to call my lawyer, just a question", "legal"),
        ("I will not be suing anyone", "legal"),
        ("I'm not threatening to sue you", "legal"),
        # fraud
        ("this isn't fraud, I just forgot the charge", "fraud"),
        ("it's not a scam, I recognise it now", "fraud"),
        ("my card was not stolen, I found it", "fraud"),
        ("this is not unauthorized, my wife made it", "fraud"),
        ("I wasn't hacked after all", "fraud"),
        # anger
        ("I'm not furious, just confused", "anger"),
        ("it isn't ridiculous, just a bit slow", "anger"),
        # other
        ("nobody was injured, the box was just dented", "other"),
    ],
)
def test_a_negation_cancels_its_signal_in_every_category(text, category):
    assert category not in categories(text)
    found = report(text)
    assert any(c["category"] == category and c["negation"] for c in found.cancelled), found


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I don't want a bot, I want a manager", "human_request"),
        ("not happy, I want a manager", "human_request"),
        ("I don't like this answer. Let me speak to a supervisor", "human_request"),
        ("no I want a manager now", "human_request"),
        ("this isn't right; I'll take legal action", "legal"),
        ("I didn't get my refund and I'm going to sue", "legal"),
        ("nothing works and this is fraud", "fraud"),
        ("I don't understand, this is a scam", "fraud"),
        ("you didn't answer, I'm furious", "anger"),
        ("don't make me call my lawyer", "legal"),
        ("why can't I talk to a human", "human_request"),
    ],
)
def test_a_negation_scopes_over_its_own_clause_only(text, category):
    assert category in categories(text), report(text)


@pytest.mark.parametrize(
    "text",
    [
        "I don't want a bot, get me a human",
        "no, I want to talk to a person",
        "not happy at all. connect me with an agent",
        "I can't reach a real person",
    ],
)
def test_requests_for_a_person_after_a_negated_clause_count(text):
    assert human_request(normalize(text))


@pytest.mark.parametrize(
    "text",
    [
        "I don't want to talk to a human",
        "I do not need to speak with an agent",
        "no need to connect me with a person, the answer was fine",
        "don't transfer me to an operator",
        "I dont wanna chat with a representative",
    ],
)
def test_negated_requests_for_a_person_do_not_count(text):
    assert human_request(normalize(text)) == ""


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("made purchases I didn't authorize", "unauthorized"),
        ("there are charges I did not authorise", "unauthorized"),
        ("I never authorized that payment", "unauthorized"),
        ("these orders were not authorised by me", "unauthorized"),
        ("a transfer without my authorization", "unauthorized"),
        ("that's not acceptable", "unacceptable"),
        ("I'm suing you", "sue"),
        ("you will be sued", "sue"),
        ("my lawyers will be in touch", "lawyer"),
        ("my attorneys have the file", "attorney"),
        ("frauds like you", "fraud"),
        ("a fraudulent charge on my card", "fraud"),
        ("I got scammed", "scam"),
        ("you scammers", "scam"),
        ("my account was hacked", "hacked"),
        ("someone is hacking my account", "hacked"),
        ("they stole my card", "stolen"),
        ("I'll file lawsuits", "lawsuit"),
        ("I want to file chargebacks", "chargeback"),
        ("please escalate it", "escalate"),
        ("I want this escalated", "escalate"),
    ],
)
def test_word_forms_match_their_signal(text, phrase):
    assert phrase in [s["phrase"] for s in WIDE.find(normalize(text))], report(text)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("supervsor please", "supervisor"),
        ("get me a supervisr", "supervisor"),
        ("a fradulent charge", "fraud"),
        ("my attorny will call", "attorney"),
        ("I'll file a lawsiut", "lawsuit"),
        ("this is rediculous", "ridiculous"),
        ("I am furiuos", "furious"),
        ("an unauthorzed payment", "unauthorized"),
        ("my acount was hackd", "hacked"),
        ("i'm outragd", "outraged"),
    ],
)
def test_one_typo_in_a_signal_word_of_six_letters_or_more(text, phrase):
    found = [s for s in WIDE.find(normalize(text)) if s["phrase"] == phrase]
    assert found and found[0]["rule"] == "typo", report(text)


@pytest.mark.parametrize(
    "text",
    [
        "I'm curious about the tent",  # one letter from "furious", but a word
        "my order was packed badly",  # "hacked"
        "the backed seat of the chair",
        "the inner layer is torn",  # "lawyer"
        "is it legl to ship a stove",  # "legal" is too short for a typo
        "the scan failed",  # "scam": too short
        "the manger scene ornament",  # a word of its own
        "that was stolen? no, it was sold",
    ],
)
def test_real_words_near_signal_words_do_not_match(text):
    assert not [s for s in WIDE.find(normalize(text)) if s["rule"] == "typo"], report(text)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("super-visor please", "supervisor"),
        ("super visor please", "supervisor"),
        ("I'll file a law suit", "lawsuit"),
        ("an un authorized charge", "unauthorized"),
        ("an un-authorized charge", "unauthorized"),
        ("charge back please", "chargeback"),
        ("I am furi-ous", "furious"),
    ],
)
def test_hyphen_or_space_splits_join_again(text, phrase):
    found = [s for s in WIDE.find(normalize(text)) if s["phrase"] == phrase]
    assert found and found[0]["rule"] == "split", report(text)


@pytest.mark.parametrize(
    "text",
    ["super\u200bvisor please", "law\u200dsuit", "fr\u00adaud on my card", "\ufeffsupervisor"],
)
def test_zero_width_characters_are_gone_after_normalisation(text):
    assert WIDE.find(normalize(text))


def test_the_report_names_phrase_match_and_rule():
    found = report("I didn't authorize this and my lawyers know")
    rules = {s["phrase"]: s for s in found.matched}
    assert rules["unauthorized"]["rule"] == "negated_base"
    assert rules["unauthorized"]["match"] == "didn't authorize"
    assert rules["lawyer"]["rule"] == "form" and rules["lawyer"]["match"] == "lawyers"
    assert found.to_dict() == {"matched": found.matched, "cancelled": []}
    cancelled = report("I'm not going to sue").cancelled
    assert cancelled == [{"phrase": "sue", "category": "legal", "match": "sue",
                          "negation": "not"}]


@pytest.mark.parametrize(
    "text",
    ["hablar con una persona", "quiero hablar con un agente", "parler à un conseiller",
     "je veux parler avec une personne", "Ich möchte mit einem Mitarbeiter sprechen",
     "falar com um atendente", "vorrei parlare con un operatore", "موظف", "أريد التحدث مع موظف",
     "人工", "转人工客服", "オペレーターと話したい", "상담원 연결", "позовите оператора",
     "PARLER A UN CONSEILLER"],
)
def test_requests_for_a_person_in_common_foreign_languages(text):
    assert human_request(normalize(text))


@pytest.mark.parametrize(
    "text",
    ["no quiero hablar con una persona", "je ne veux pas parler \u00e0 un conseiller",
     "ich m\u00f6chte nicht mit einem Mitarbeiter sprechen",
     "n\u00e3o quero falar com um atendente",
     "where is my parcel", "the person at the door", "I love this jacket", "hola",
     "bonjour", "danke", "موعد التسليم", "订单在哪里"],
)
def test_no_foreign_request_for_a_person_in_other_messages(text):
    assert human_request(normalize(text)) == ""




@pytest.mark.parametrize(
    "text",
    ["never mind, I found the charge", "nvm it was my husband", "my mistake, ignore that",
     "false alarm, I recognise it now", "sorry, it was me who ordered it",
     "all good now, figured it out"],
)
def test_a_concern_withdrawn_in_so_many_words(text):
    assert withdrawal(normalize(text), WIDE.analyse(normalize(text)))


def test_soft_words_withdraw_only_beside_a_negated_signal():
    text = normalize("this isn't fraud, I just forgot the charge")
    assert withdrawal(text, WIDE.analyse(text)) == "i just forgot"
    plain = normalize("I forgot to use my promo code and was charged full price")
    assert withdrawal(plain, WIDE.analyse(plain)) == ""
    fraud = normalize("I forgot my card at a cafe and now there is fraud on it")
    assert withdrawal(fraud, WIDE.analyse(fraud)) == ""


@pytest.mark.parametrize(
    "text",
    ["why don't you get me a manager", "won't you connect me to an agent?",
     "no. human.", "No! Agent please", "are you a bot? I want a person",
     "connect me to live support", "human help please", "I need someone now",
     "i dont want this bot i want an agent"],
)
def test_more_requests_for_a_person(text):
    assert human_request(normalize(text))


@pytest.mark.parametrize(
    "text",
    ["I do not wish to talk to an agent", "not interested in speaking with an operator",
     "I'd rather not talk to a real person", "no human needed",
     "I want a person who knows tents to write the guide", "do you have live chat hours?"],
)
def test_more_messages_that_do_not_ask_for_a_person(text):
    assert human_request(normalize(text)) == ""


@pytest.mark.parametrize(
    "text",
    ["I'm not looking to sue anyone", "nothing ridiculous about it", "I have no intention of suing",
     "we are not interested in legal action"],
)
def test_more_negated_signals(text):
    assert WIDE.find(normalize(text)) == []


@pytest.mark.parametrize("text", [
    "yes", "yes please", "Yeah, please do.", "sure, connect me", "ok yes", "go ahead",
    "that would be great", "yes please, a person", "yes that would be great", "yes I want that",
    "yeah sure", "yess",
])
def test_a_plain_yes_accepts_an_offer(text):
    assert signals.accepts_offer(normalize(text))


@pytest.mark.parametrize("text", [
    "yes but where is my order", "no thanks", "yes my order number is 55102", "not yet",
    "ok thanks", "okay",
    "okay so how do I return boots",
])
def test_a_yes_with_more_in_it_is_not_an_acceptance(text):
    assert not signals.accepts_offer(normalize(text))


@pytest.mark.parametrize(("text", "declined", "rest"), [
    ("I don't need a human, just tell me your return window",
     "i don't need a human", "just tell me your return window"),
    ("no human needed. what's your return window?", "no human needed", "what's your return window"),
    ("where is my order? I don't need an agent", "i don't need an agent", "where is my order"),
    ("no need for a manager; can you reset my password", "no need for a manager",
     "can you reset my password"),
])
def test_a_person_turned_down_beside_a_question_is_set_apart(text, declined, rest):
    assert signals.declined_person(text) == (declined, rest)


@pytest.mark.parametrize("text", [
    "I don't need a human",  # nothing else is asked
    "I don't want a bot, get me a human",  # a request for a person after all
    "I need a human, my order is late",
    "no I want a manager, my order is broken",
    "where is my order",
    "",
])
def test_nothing_is_set_apart_without_a_declined_person_and_a_question(text):
    assert signals.declined_person(text) == ("", "")
