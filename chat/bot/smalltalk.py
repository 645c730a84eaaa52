"""Pleasantries: a message that only greets, thanks or says goodbye.

Such a message asks nothing, so no intent or article answers it; the bot answers in kind
("Hello! What can I help you with today?") instead of "I'm not sure I have the right answer".
A message with anything more in it ("hi, where is my order?") is not small talk.

A taxonomy may name an intent for one of these kinds (``greeting``, ``thank_you``,
``goodbye``); its classifier then handles that kind like any other intent.
"""

from __future__ import annotations

import re
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
    "quick", "with", "anyway", "anyways", "though", "still", "no", "worries", "problem",
    "never", "mind", "nevermind", "just",
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


# Requests no customer-service desk answers: entertainment, general knowledge, chit-chat about
# the bot itself. Each needs the request's own words together ("tell me a joke", "what's the
# weather tomorrow"), so "the joke of a delivery service lost my parcel" is not off topic.
_OFF_TOPIC = re.compile(
    r"\b(?:tell|give|sing|write|make|say|share|know|got|hear|recite|compose|do)\s+(?:me\s+|us\s+)?"
    r"(?:a|an|another|some|any|one\s+more|your\s+best|a\s+funny|a\s+good)?\s*(?:funny\s+|good\s+)?"
    r"(?:jokes?|riddles?|poems?|songs?|limericks?|haikus?|stor(?:y|ies)|fun\s+facts?|puns?)\b"
    r"|\b(?:what(?:'s|\s+is)|how(?:'s|\s+is))\s+the\s+weather\b|\bweather\s+(?:forecast|"
    r"today|tomorrow|like)\b"
    r"|\bwhat(?:'s|\s+is)\s+the\s+(?:capital|population|meaning\s+of\s+life|square\s+root)\b"
    r"|\bwho\s+(?:is|was|won|will\s+win)\s+the\s+(?:president|prime\s+minister|king|queen|"
    r"world\s+cup|super\s+bowl|election|game|match)\b"
    r"|\b(?:do|will|would)\s+you\s+(?:love|like|marry|date)\s+me\b"
    r"|\b(?:let'?s|can\s+we|wanna|want\s+to)\s+play\s+(?:a\s+)?(?:game|chess|trivia)\b"
    r"|\b(?:recipe\s+for|how\s+do\s+i\s+(?:cook|bake))\b"
    r"|\b(?:do|help\s+me\s+with|write)\s+my\s+(?:homework|essay|assignment)\b"
    r"|\bwhat\s+is\s+\d+\s*(?:[-+*/x]|plus|minus|times)\s*\d+\b"
)
MAX_OFF_TOPIC_WORDS = 14
OFF_TOPIC_REPLY = (
    "Sorry, that's not something I can help with here. I can answer questions about your "
    "orders, deliveries, returns, payments, our products and your account, or connect you "
    "with a member of our team. What can I help you with?"
)


def off_topic(text: str) -> str:
    """The words of a request no customer-service desk answers ("tell me a joke", "what's the
    weather like"), or "" when there is none. ``text`` is the normalised message.

    Only short messages count: a longer one may carry a real question beside the aside.
    """
    if len(tokens(text)) > MAX_OFF_TOPIC_WORDS:
        return ""
    found = _OFF_TOPIC.search(text.replace("\u2019", "'"))
    return found.group(0) if found else ""

