"""Visible text: what the chat doors and the bot agree a message shows.

Light on purpose (the standard library only): the consumer imports it to refuse a message
that shows nothing, without importing the bot.
"""

from __future__ import annotations

import unicodedata

# Characters that show nothing but are not format characters (Unicode category Cf): Hangul
# fillers, the halfwidth Hangul filler, the braille blank, Khmer inherent vowels, the
# combining grapheme joiner and the variation selectors.
FILLERS = frozenset(
    "\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5\u034f"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
    + "".join(chr(c) for c in range(0xE0100, 0xE01F0))
)


def _visible(ch: str) -> bool:
    return ch not in FILLERS and unicodedata.category(ch) != "Cf"


def clean(text: str) -> str:
    """NFKC with invisible format (Cf) and filler characters removed; case kept.

    A zero-width space or soft hyphen inside a word joins the word again (human with
    U+200B inside is "human"); full-width letters and ligatures become their plain forms.
    """
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if _visible(ch))


def is_blank(text: str) -> bool:
    """Whether a message shows nothing: only whitespace, format and filler characters."""
    return not clean(text).strip()
