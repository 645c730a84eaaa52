"""Visible text: what the chat doors and the bot agree a message shows.

Light on purpose (the standard library only): the consumer imports it to refuse a message
that shows nothing, without importing the bot. Card numbers in customer text are masked here
before it is stored (:func:`mask_card_numbers`).
"""

from __future__ import annotations

import re
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


# 13 to 19 digits, not inside a longer run of digits (an order number 4111111111111111222 is
# no card) nor after a "+" (a telephone number in international form), in groups: any
# whitespace (tabs, no-break and thin spaces, a line break) or zero-width space, a dash (ASCII
# or typographic, one or two), a dot, a slash or an underscore between groups, with spaces
# around it too ("4111 - 1111 - ...").
_CARD_SPACE = r"[\s\u200b\u2060\ufeff]{0,2}"
_CARD_SEPARATOR = rf"(?:{_CARD_SPACE}[-./_\u2010-\u2014]{{0,2}}{_CARD_SPACE})"
_CARD_CANDIDATE = re.compile(
    r"(?<![\d+])(?<!\+ )\d(?:" + _CARD_SEPARATOR + r"\d){12,18}(?!\d)"
)
# Payment cards begin with 2 to 6 (the major industry identifier of ISO/IEC 7812-1: 2 to 6
# are airlines-and-financial, travel, banking and merchandising: Mastercard, Amex, Visa,
# Discover...); telephone numbers written with a 0 or 1 in front ("0044 7911 123456") are not.
CARD_FIRST_DIGITS = frozenset("23456")
CARD_MASK = "•••• "
MASKED_CARD = re.compile(re.escape(CARD_MASK) + r"\d{4}\b")


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check of payment card numbers (ISO/IEC 7812-1), over digits only."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def mask_card_numbers(text: str) -> str:
    """``text`` with every payment card number shown by its last four digits only.

    A card number is 13 to 19 digits beginning with 2 to 6, written together or in groups
    separated by spaces, dashes, dots, slashes or underscores, that passes the Luhn check:
    "my card is 4111 1111 1111 1111" becomes "my card is •••• 1111". Other digits (order
    numbers, phone numbers failing the check, beginning with 0, 1, 7, 8 or 9, or written
    after "+" or "00") are left alone.
    Called on customer text before it is stored, so no echo, page or export holds the number.
    """
    if sum(char.isdigit() for char in text) < 13:
        return text

    def mask(match: re.Match[str]) -> str:
        # The longest run of whole digit groups that is a card number, from each group on
        # ("4111 1111 1111 1111 2 items": the card without the "2").
        found = match.group()
        if found.startswith("0"):
            return found  # "00 49 151 ...": a telephone number with its international prefix
        groups = [(g.start(), g.end(), g.group()) for g in re.finditer(r"\d+", found)]
        pieces: list[str] = []
        done, i = 0, 0
        while i < len(groups):
            for j in range(len(groups), i, -1):
                # In ASCII digits: a full-width card number is the same card.
                digits = "".join(str(int(c)) for g in groups[i:j] for c in g[2])
                if (13 <= len(digits) <= 19 and digits[0] in CARD_FIRST_DIGITS
                        and luhn_ok(digits)):
                    pieces += [found[done:groups[i][0]], CARD_MASK + digits[-4:]]
                    done, i = groups[j - 1][1], j
                    break
            else:
                i += 1
        return "".join(pieces) + found[done:]

    return _CARD_CANDIDATE.sub(mask, text)


def has_masked_card(text: str) -> bool:
    """Whether ``text`` shows a card number masked by :func:`mask_card_numbers`."""
    return CARD_MASK in text and MASKED_CARD.search(text) is not None
