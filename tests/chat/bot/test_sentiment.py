import pytest

from chat.bot.sentiment import assess
from chat.bot.text import clean, normalize


@pytest.mark.parametrize(
    ("text", "categories", "sentiment"),
    [
        ("thanks, that was really helpful!", set(), "positive"),
        ("where is my order", set(), "neutral"),
        ("I am quite disappointed with this jacket", set(), "negative"),
        ("this is awful, I hate this useless shop!!", set(), "angry"),
        ("WHERE IS MY DAMN ORDER, this is terrible", set(), "angry"),
        ("that is unacceptable", {"anger"}, "angry"),
    ],
)
def test_sentiment(text, categories, sentiment):
    assert assess(text, categories).sentiment == sentiment


def test_urgency_levels():
    assert assess("where is my order", set()).urgency == "low"
    assert assess("I am disappointed", set()).urgency == "medium"
    assert assess("I need it today, urgently", set()).urgency == "high"
    assert assess("someone stole my card", {"fraud"}).urgency == "critical"
    assert assess("my son was injured by the stove", set()).urgency == "critical"


# --- Anger told apart from disappointment ------------------------------------------------



def feeling(text: str, categories=frozenset()) -> str:
    return assess(normalize(text), set(categories), written=clean(text)).sentiment


@pytest.mark.parametrize(
    "text",
    [
        "I'm a little disappointed the colour looks different from the photo",
        "I'm a bit sad the boots were out of stock",
        "slightly disappointed with the fit of the jacket",
        "the strap is kind of flimsy, a shame",
        "it's a pity the tent arrived with a small scratch",
        "honestly a little let down by the packaging",
        "the delivery was late, which was disappointing",
        "not thrilled the sleeping bag is thinner than I expected",
    ],
)
def test_disappointment_is_not_anger(text):
    assert feeling(text) != "angry"


@pytest.mark.parametrize(
    "text",
    [
        "this is outrageous, worst service ever, I'm furious",
        "Oh great, my order is late again. Just wonderful.",  # sarcasm
        "thanks a lot for losing my parcel, really helpful, not",
        "WHERE IS MY ORDER, I HAVE BEEN WAITING FOR WEEKS",  # capitals
        "this is the third time I ask!!! nobody answers",  # "!!!" and exasperation
        "you people are useless idiots",  # insults
        "What a joke of a company",
        "I've had enough, this is disgusting service!!",
        "Worst experience ever. Never again.",
        "sick and tired of waiting for a refund that never comes",
    ],
)
def test_anger(text):
    assert feeling(text) == "angry"


@pytest.mark.parametrize("text", ["tell me a joke", "do you know a good joke?",
                                  "a bunch of us are going camping", "is the trash bag included",
                                  "I'm an idiot, I forgot my password", "sorry, stupid question",
                                  "is the seat lying flat", "I'm hopeless with apps"])
def test_words_near_insults_are_not_insults(text):
    assert feeling(text) != "angry"


def test_capitals_of_names_are_not_shouting():
    assert feeling("Is the GTX boot available in XL via UPS ASAP?") == "neutral"


def test_softening_words_lower_anger():
    assert feeling("I'm a little annoyed the zip broke") != "angry"
    assert feeling("I'm annoyed the zip broke!! this is the worst") == "angry"


@pytest.mark.parametrize("text", [
    "I'm angry", "we are absolutely furious with you", "I am getting really mad now",
    "honestly I'm fuming about this parcel", "this makes me so angry",
])
def test_anger_the_customer_states_is_anger(text):
    assert assess(normalize(text), set(), written=text).sentiment == "angry"


@pytest.mark.parametrize("text", [
    "I'm not angry, just asking", "we are not mad at you", "is the store angry about returns?",
])
def test_anger_denied_or_not_the_customers_is_not(text):
    assert assess(normalize(text), set(), written=text).sentiment != "angry"
