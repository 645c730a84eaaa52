import pytest

from chat.bot.signals import SignalMatcher, human_request

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
