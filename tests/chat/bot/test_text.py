"""The entrance normalisation: NFKC, invisible format and filler characters removed, case
folded; and what counts as a message that shows nothing."""

import pytest

from chat.bot.text import FuzzyLexicon, clean, is_blank, normalize

# Invisible characters of every kind the normalisation removes: format characters
# (category Cf) and fillers.
INVISIBLE = [
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u200d",  # zero-width joiner
    "\ufeff",  # byte order mark
    "\u00ad",  # soft hyphen
    "\u200e", "\u200f",  # left-to-right / right-to-left marks
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # bidi embeddings and overrides
    "\u2066", "\u2067", "\u2068", "\u2069",  # bidi isolates
    "\u2060", "\u2061", "\u2062", "\u2063", "\u2064",  # word joiner, invisible operators
    "\u180e",  # Mongolian vowel separator
    "\u061c",  # Arabic letter mark
    "\U000e0001", "\U000e0041",  # tag characters
    "\u3164", "\uffa0", "\u115f", "\u1160",  # Hangul fillers
    "\u2800",  # braille blank
    "\u034f",  # combining grapheme joiner
    "\ufe0f", "\ufe00",  # variation selectors
]


@pytest.mark.parametrize("mark", INVISIBLE)
def test_each_invisible_character_is_removed_inside_a_word(mark):
    assert normalize(f"hu{mark}man") == "human"
    assert normalize(f"{mark}Refund{mark}{mark} please{mark}") == "refund please"


@pytest.mark.parametrize("mark", INVISIBLE)
def test_a_message_of_one_invisible_kind_is_blank(mark):
    assert is_blank(mark)
    assert is_blank(mark * 40)
    assert is_blank(f" {mark}\n{mark}\t")


def test_many_invisible_characters_mixed_are_blank():
    assert is_blank("".join(INVISIBLE) * 5)
    assert is_blank("\u200b \u3164 \u2800 \u00a0 \u3000 \ufeff")


@pytest.mark.parametrize("text", ["a", "?", "0", "\U0001f44d", "\u200b.\u200b", "ok\u200b",
                                  "\u0645", "\u4eba"])
def test_a_message_with_anything_visible_is_not_blank(text):
    assert not is_blank(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\uff37\uff28\uff25\uff32\uff25 is my order", "where is my order"),  # full width
        ("\ufb01nd my parcel", "find my parcel"),  # ligature
        ("STRASSE Stra\u00dfe", "strasse strasse"),  # case folding, not only lower-casing
        ("order \u2116 55102", "order no 55102"),
        ("\u2460 tent", "1 tent"),  # circled digit
        ("caf\u0065\u0301", "caf\u00e9"),  # combining accent composed
        ("Super\u00advisor", "supervisor"),
        ("I\u2019m FURIOUS", "i\u2019m furious"),
    ],
)
def test_normalize(text, expected):
    assert normalize(text) == expected


def test_clean_keeps_case_for_the_stages_that_read_capitals():
    assert clean("WHERE\u200b IS MY ORDER") == "WHERE IS MY ORDER"
    assert clean("plain ascii stays as it is") == "plain ascii stays as it is"


def test_normalize_is_idempotent():
    for text in ["Hu\u200bMAN pl\u00adease", "\uff21-55102", "Stra\u00dfe"]:
        assert normalize(normalize(text)) == normalize(text)


def test_fuzzy_lexicon_minimum_length():
    six = FuzzyLexicon({"supervisor": "supervisor", "legal": "legal"}, min_length=6)
    assert six("supervsor") == "supervisor"
    assert six("legl") == ""  # "legal" is too short for a typo
    assert FuzzyLexicon({"human": "human"})("humsn") == "human"
