"""Pleasantries: a message that only greets, thanks or says goodbye.

Such a message asks nothing, so no intent or article answers it; the bot answers in kind
("Hello! What can I help you with today?") instead of "I'm not sure I have the right answer".
A message with anything more in it ("hi, where is my order?") is not small talk.

A taxonomy may name an intent for one of these kinds (``greeting``, ``thank_you``,
``goodbye``); its classifier then handles that kind like any other intent.
"""

from __future__ import annotations

from collections.abc import Container

from .text import tokens

GREETING, THANKS, GOODBYE = "greeting", "thanks", "goodbye"

# Words that make a message one kind of pleasantry; the first kind found in it wins.
_HEADS: tuple[tuple[str, frozenset[str]], ...] = (
    (GOODBYE, frozenset({"bye", "goodbye", "byebye", "cya", "farewell", "goodnight", "night"})),
    (THANKS, frozenset({"thanks", "thank", "thx", "ty", "cheers", "appreciate", "appreciated"})),
    (GREETING, frozenset({"hi", "hello", "hey", "hiya", "howdy", "greetings", "morning",
                          "afternoon", "evening", "yo"})),
)
# Words that may stand beside them without asking anything. "ok" alone is not small talk: it
# may accept the bot's offer of a person.
_FILLER = frozenset({
    "ok", "okay", "alright", "great", "perfect", "cool", "awesome", "got", "understood",
    "a", "all", "and", "again", "bot", "day", "everyone", "folks", "for", "good", "guys",
    "have", "help", "helped", "helpful", "it", "it's", "later", "lot", "many", "much", "nice",
    "now", "oh", "see", "so", "team", "that", "that's", "the", "then", "there", "this", "to",
    "too", "very", "was", "well", "you", "your", "yes", "yeah", "i", "we", "really",
    "wonderful", "super", "thats", "its", "need", "some", "can", "me", "please", "question",
    "quick", "with",
})
_HEAD_WORDS = frozenset().union(*(words for _, words in _HEADS))
MAX_WORDS = 8

REPLIES = {
    GREETING: "Hello! What can I help you with today?",
    THANKS: "You're welcome! Is there anything else I can help you with?",
    GOODBYE: "Thank you for chatting with us. Have a great day!",
}
# The intent slugs that, in a taxonomy, take a kind over from the built-in reply.
INTENT_SLUGS = {
    GREETING: frozenset({"greeting", "greet", "hello"}),
    THANKS: frozenset({"thank_you", "thanks"}),
    GOODBYE: frozenset({"goodbye", "bye", "farewell"}),
}


def kind(text: str, *, intents: Container[str] = ()) -> str | None:
    """``greeting``, ``thanks`` or ``goodbye`` for a message of pleasantries only, else None.

    None also when ``intents`` (a taxonomy's slugs) has an intent of its own for that kind.
    """
    words = tokens(text)
    if not words or len(words) > MAX_WORDS:
        return None
    if any(w not in _HEAD_WORDS and w not in _FILLER for w in words):
        return None
    present = set(words)
    if "all" in present and present & {"that", "that's", "thats"}:
        present.add("bye")  # "thanks, that's all": a goodbye
    for name, heads in _HEADS:
        if present & heads:
            return None if any(slug in intents for slug in INTENT_SLUGS[name]) else name
    return None


def reply(name: str, *, pending_question: str = "") -> str:
    """The answer to a pleasantry; a question still waiting for its answer is asked again."""
    if pending_question and name != GOODBYE:
        opener = "Hello!" if name == GREETING else "You're welcome!"
        return f"{opener} {pending_question}"
    return REPLIES[name]
