import pytest

from chat.bot.sentiment import assess


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
