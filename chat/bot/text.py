"""Small text helpers shared by the stages: the entrance normalisation, tokens and
typo-tolerant word matching.

``normalize`` runs once at the pipeline's entrance: every stage matches on its result, while
the stored message keeps the customer's exact text. ``clean`` and ``is_blank`` live in
``chat.text`` so that the chat doors refuse blank messages without importing the bot.
"""

from __future__ import annotations

import re
from functools import lru_cache

from spellchecker import SpellChecker

from chat.text import clean, is_blank

__all__ = [
    "FuzzyLexicon", "clean", "common_english_words", "edit_distance", "english_words",
    "is_blank", "normalize", "tokens",
]
# How often a word must occur in pyspellchecker's English frequency list to count as a real
# English word (about 47,000 words): rarer entries include misspellings of common words.
ENGLISH_MIN_COUNT = 100
COMMON_MIN_COUNT = 20_000


def normalize(text: str) -> str:
    """The text every pipeline stage matches on: ``clean`` and then case folded."""
    return clean(text).casefold()


@lru_cache(maxsize=1)
def _english_lists() -> tuple[frozenset[str], frozenset[str]]:
    frequencies = SpellChecker(language="en", distance=1).word_frequency
    words = frozenset(w for w, count in frequencies.items() if count >= ENGLISH_MIN_COUNT)
    common = frozenset(w for w, count in frequencies.items() if count >= COMMON_MIN_COUNT)
    return words, common


def english_words() -> frozenset[str]:
    """Common English words, lower case (about 47,000; loaded once per process, about half a
    second).

    A token in it is a real word, never a typo of another: "packed" is not "hacked",
    "curious" is not "furious".
    """
    return _english_lists()[0]


def common_english_words() -> frozenset[str]:
    """The most common English words (about 3,200: counted 20,000 times or more in
    pyspellchecker's list), for telling an English message from a foreign one."""
    return _english_lists()[1]


WORD_RE = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; apostrophes stay inside words ("don't")."""
    return WORD_RE.findall(text.lower().replace("\u2019", "'"))


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal string alignment distance (a transposition counts as one edit).

    Stops early and returns ``limit + 1`` once the distance is known to exceed ``limit``.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class FuzzyLexicon:
    """Maps a token to a canonical word, tolerating one typo in words of ``min_length``
    letters or more (five by default).

    ``words`` maps each accepted spelling (and inflection) to its canonical form. Candidates
    come from a single-deletion index (as in SymSpell), so a look-up costs a few dictionary
    probes rather than a distance computation per known word.
    """

    def __init__(self, words: dict[str, str], *, min_length: int = 5) -> None:
        self.words = dict(words)
        self.min_length = min_length
        self._by_delete: dict[str, set[str]] = {}
        for spelling in self.words:
            if len(spelling) >= min_length:
                for variant in _deletes(spelling) | {spelling}:
                    self._by_delete.setdefault(variant, set()).add(spelling)
        self._lookup = lru_cache(maxsize=8192)(self._find)

    def _find(self, token: str) -> str:
        found = self.words.get(token)
        if found is not None:
            return found
        if len(token) < max(5, self.min_length - 1):
            return ""
        candidates: set[str] = set(self._by_delete.get(token, ()))
        for variant in _deletes(token):
            candidates |= self._by_delete.get(variant, set())
        for spelling in sorted(candidates):
            if edit_distance(token, spelling, 1) <= 1:
                return self.words[spelling]
        return ""

    def __call__(self, token: str) -> str:
        return self._lookup(token)
