"""Escalation signals matched as words in context, and explicit requests for a person.

A signal phrase matches on word boundaries, never inside another word. Single words that
are ambiguous on their own need their context too: "manager" escalates in "let me speak to
your manager" but not in "is this chair good for managers?", and "legal" escalates in
"I'll take legal action" but not in "is the legal pad yellow?".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .text import FuzzyLexicon, edit_distance, tokens

# Verbs that ask to be put in touch with someone, in the forms customers type.
_CONTACT_VERBS = {
    "talk": ("talk", "talks", "talking", "talked"),
    "speak": ("speak", "speaks", "speaking", "spoke"),
    "chat": ("chat", "chatting", "chatted"),
    "contact": ("contact", "contacting", "contacted"),
    "reach": ("reach", "reaching"),
    "call": ("call", "calling"),
    "connect": ("connect", "connecting", "connected"),
    "transfer": ("transfer", "transferring", "transferred"),
    "put": ("put",),
    "get": ("get", "getting", "give", "gimme"),
    "escalate": ("escalate", "escalating", "escalated"),
    "see": ("see",),
}
# Verbs of wanting: enough together with an unambiguous person noun ("I want a human").
_WANT_VERBS = {"want": ("want", "wanna", "need", "needs", "prefer", "demand", "request")}

# Nouns that name a person to talk to. "strong" ones are unambiguous with a want-verb.
_PERSON_NOUNS = {
    "human": ("human", "humans", "humain"),
    "person": ("person", "persons", "people"),
    "agent": ("agent", "agents"),
    "operator": ("operator", "operators"),
    "representative": ("representative", "representatives", "rep", "reps"),
    "someone": ("someone", "somebody", "anyone", "anybody", "somone"),
    "staff": ("staff", "employee", "employees"),
    "assistant": ("assistant", "assistants"),
    "manager": ("manager", "managers"),
    "supervisor": ("supervisor", "supervisors"),
    "boss": ("boss",),
}
_STRONG_NOUNS = {"human", "agent", "operator", "representative", "manager", "supervisor"}

# Words allowed between the verb and the person ("speak to a real human").
_FILLERS = {
    "to", "with", "a", "an", "the", "your", "ur", "you", "some", "me", "my", "one", "of",
    "real", "live", "actual", "human", "proper", "through", "directly", "in", "touch",
    "customer", "service", "support", "care", "sales", "like", "please", "pls", "plz",
    "for", "up", "over", "someone", "somebody", "goddamn", "damn", "fucking", "bloody",
}
_NEGATED_WANTS = re.compile(r"\b(?:don'?t|do not|doesn'?t|never|no)\s+(?:want|wanna|need)\b")

# Short verbs are too short for general typo tolerance; next to "to"/"with" and a person
# they are still recognised with one typo ("taok to an agent", "cat with a person").
_SHORT_VERBS = ("talk", "chat", "call")
_PREPOSITIONS = {"to", "with", "wth", "wiht", "wit", "tp", "w"}

_verb_lexicon = FuzzyLexicon(
    {form: name for name, forms in {**_CONTACT_VERBS, **_WANT_VERBS}.items() for form in forms}
)
_noun_lexicon = FuzzyLexicon(
    {form: name for name, forms in _PERSON_NOUNS.items() for form in forms}
)
_SHORT_EXTRAS = {"please", "pls", "plz", "now", "a", "an", "the", "your", "real", "live", "i",
                 "want", "need", "talk", "to", "just", "give", "me", "get", "actual", "human"}


def _short_verb(words: list[str], position: int) -> bool:
    word = words[position]
    if not 3 <= len(word) <= 4 or position + 1 >= len(words):
        return False
    if words[position + 1] not in _PREPOSITIONS:
        return False
    return any(edit_distance(word, verb, 1) <= 1 for verb in _SHORT_VERBS)


def _noun(word: str) -> str:
    """The person noun of a token, also when glued to a preposition ("tosomebody")."""
    found = _noun_lexicon(word)
    if found or len(word) < 7:
        return found
    for prefix in ("to", "with", "a", "an"):
        if word.startswith(prefix) and len(word) - len(prefix) >= 5:
            found = _noun_lexicon(word[len(prefix) :])
            if found:
                return found
    return ""


def _person_at(words: list[str], index: int) -> bool:
    """Whether the person noun at ``index`` is asked for: a verb before it, or a short message."""
    unknown = 0
    for back in range(1, 6):
        position = index - back
        if position < 0:
            break
        word = words[position]
        verb = _verb_lexicon(word)
        if verb:
            if verb == "want":
                return _noun(words[index]) in _STRONG_NOUNS
            return True
        if _short_verb(words, position):
            return True
        if word in _FILLERS or _noun_lexicon(word):
            continue
        # One short unknown word is allowed: a mistyped "with" ("wth", "wirh").
        if len(word) <= 4 and unknown == 0:
            unknown += 1
            continue
        break
    # "human please", "supervisor!", "real person now"
    return all(word in _SHORT_EXTRAS or i == index for i, word in enumerate(words)) and (
        len(words) <= 4
    )


def human_request(text: str) -> str:
    """The words of an explicit request to talk to a person, or "" if there is none."""
    if _NEGATED_WANTS.search(text.lower()):
        return ""
    words = tokens(text)
    for index, word in enumerate(words):
        noun = _noun(word)
        if not noun:
            continue
        # "human agent", "live agent", "real person" need no verb.
        if index > 0 and words[index - 1] in {"human", "live", "real", "actual"} and noun in {
            "agent", "person", "operator", "representative", "human", "someone",
        }:
            return f"{words[index - 1]} {word}"
        if _person_at(words, index):
            start = max(0, index - 4)
            return " ".join(words[start : index + 1])
    return ""


# --- Admin-defined signals -----------------------------------------------------------------

_LEGAL_AFTER = {
    "action", "actions", "proceedings", "steps", "team", "department", "advice", "counsel",
    "route", "recourse", "case", "claim", "measures", "matter", "dispute", "threat", "help",
}
_LEGAL_BEFORE = {"go", "going", "take", "taking", "get", "getting", "went", "seek", "seeking"}
_SUE_BEFORE = {"to", "will", "i'll", "ill", "gonna", "going", "can", "could", "should", "would",
               "might", "and", "i", "we", "we'll"}
_SUE_AFTER = {"you", "u", "ya", "your", "them", "the", "this", "acme", "over", "for", "y'all"}
_LAWYER_BEFORE = {"my", "our", "a", "call", "calling", "contact", "contacting", "get", "getting",
                  "hire", "hiring", "consult", "consulting", "involve", "involving", "see", "from",
                  "to", "with"}
_PRESS_VERBS = {"go", "going", "went", "contact", "contacting", "tell", "telling", "call",
                "inform", "alert", "talk", "talking", "to"}


def _context_ok(word: str, category: str, words: list[str], index: int) -> bool:
    """Whether a single-word signal at ``index`` is used in the sense that escalates."""
    before = words[max(0, index - 3) : index]
    after = words[index + 1 : index + 2]
    if word == "legal":
        return bool(set(after) & _LEGAL_AFTER) or bool(before and before[-1] in _LEGAL_BEFORE)
    if word in {"sue", "suing"}:
        return bool(set(after) & _SUE_AFTER) or bool(before and before[-1] in _SUE_BEFORE)
    if word in {"lawyer", "lawyers", "attorney", "attorneys", "solicitor", "solicitors"}:
        return bool(set(before) & _LAWYER_BEFORE)
    if word == "press":
        return bool(before and before[-1] == "the" and set(before[:-1]) & _PRESS_VERBS)
    if category == "human_request" and _noun_lexicon(word):
        return _person_at(words, index)
    return True


@dataclass(frozen=True)
class SignalRule:
    phrase: str
    category: str
    pattern: re.Pattern[str]
    single_word: bool


def _compile(phrase: str) -> re.Pattern[str]:
    words = tokens(phrase)
    body = r"\W+".join(re.escape(word) for word in words)
    # A trailing plural is the same word ("managers", "lawyers").
    return re.compile(rf"(?<![\w']){body}(?:e?s)?(?![\w'])")


class SignalMatcher:
    """Finds the admins' escalation signals in a message, as words in context."""

    def __init__(self, signals: list[tuple[str, str]]) -> None:
        self.rules = [
            SignalRule(phrase, category, _compile(phrase), len(tokens(phrase)) == 1)
            for phrase, category in signals
            if tokens(phrase)
        ]

    def find(self, text: str) -> list[dict[str, str]]:
        lowered = text.lower().replace("\u2019", "'")
        found: list[dict[str, str]] = []
        words: list[str] | None = None
        for rule in self.rules:
            for match in rule.pattern.finditer(lowered):
                if rule.single_word:
                    if words is None:
                        words = tokens(lowered)
                    index = len(tokens(lowered[: match.start()]))
                    if index >= len(words) or not _context_ok(
                        words[index], rule.category, words, index
                    ):
                        continue
                found.append(
                    {"phrase": rule.phrase, "category": rule.category, "match": match.group(0)}
                )
                break
        return found
