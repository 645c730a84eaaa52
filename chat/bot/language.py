"""Whether the desk can read a message: its script, its language, and whether any word is known.

A message the desk cannot understand is handled as the fallback intent, with a reply that
names the languages the desk answers in (``BOT_LANGUAGES``) and offers a person:

- a message in a script that none of the desk's languages is written in (Arabic, Chinese,
  Cyrillic, Greek, Hebrew, Devanagari, Thai, Japanese, Korean... for an English desk);
- a Latin-script message in another language, when py3langid (a small model shipped in its
  package) is confident *and* the message has that language's own function words *and* few
  English words: a short English message with typos is never taken for Spanish;
- a message with no known word at all: no English word (for an English desk), no word of the
  taxonomy's training phrases, products or signals, and no one-typo variant of one.

The check reads the normalised text (``chat.bot.text.normalize``). Script detection needs no
model; the language model loads once per process, on the first Latin message it is needed for.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from .text import FuzzyLexicon, common_english_words, english_words

NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "pt": "Portuguese",
    "it": "Italian", "nl": "Dutch", "pl": "Polish", "tr": "Turkish", "sv": "Swedish",
    "da": "Danish", "no": "Norwegian", "nb": "Norwegian", "fi": "Finnish", "ro": "Romanian",
    "cs": "Czech", "hu": "Hungarian", "id": "Indonesian", "ms": "Malay", "vi": "Vietnamese",
    "ar": "Arabic", "fa": "Persian", "ur": "Urdu", "he": "Hebrew", "el": "Greek",
    "ru": "Russian", "uk": "Ukrainian", "bg": "Bulgarian", "sr": "Serbian", "hi": "Hindi",
    "mr": "Marathi", "ne": "Nepali", "bn": "Bengali", "th": "Thai", "zh": "Chinese",
    "ja": "Japanese", "ko": "Korean", "hy": "Armenian", "ka": "Georgian",
}

# (first code point, last code point, script). Letters outside every range count as "Other".
_RANGES = sorted([
    (0x0041, 0x005A, "Latin"), (0x0061, 0x007A, "Latin"), (0x00C0, 0x024F, "Latin"),
    (0x1E00, 0x1EFF, "Latin"), (0x0370, 0x03FF, "Greek"), (0x1F00, 0x1FFF, "Greek"),
    (0x0400, 0x052F, "Cyrillic"), (0x0530, 0x058F, "Armenian"), (0x0590, 0x05FF, "Hebrew"),
    (0x0600, 0x06FF, "Arabic"), (0x0750, 0x077F, "Arabic"), (0x08A0, 0x08FF, "Arabic"),
    (0xFB50, 0xFDFF, "Arabic"), (0xFE70, 0xFEFF, "Arabic"), (0x0900, 0x097F, "Devanagari"),
    (0x0980, 0x09FF, "Bengali"), (0x0E00, 0x0E7F, "Thai"), (0x10A0, 0x10FF, "Georgian"),
    (0x1100, 0x11FF, "Hangul"), (0x3130, 0x318F, "Hangul"), (0xAC00, 0xD7AF, "Hangul"),
    (0x3040, 0x309F, "Kana"), (0x30A0, 0x30FF, "Kana"), (0x31F0, 0x31FF, "Kana"),
    (0x3400, 0x4DBF, "Han"), (0x4E00, 0x9FFF, "Han"), (0xF900, 0xFAFF, "Han"),
    (0x20000, 0x2FFFF, "Han"),
])
_STARTS = [start for start, _, _ in _RANGES]
# The language a script stands for when a message is in it.
_SCRIPT_LANGUAGE = {
    "Greek": "el", "Cyrillic": "ru", "Armenian": "hy", "Hebrew": "he", "Arabic": "ar",
    "Devanagari": "hi", "Bengali": "bn", "Thai": "th", "Georgian": "ka", "Hangul": "ko",
    "Kana": "ja", "Han": "zh",
}
# The scripts each language is written in; a language not listed is written in Latin.
_LANGUAGE_SCRIPTS = {
    "el": {"Greek"}, "ru": {"Cyrillic"}, "uk": {"Cyrillic"}, "bg": {"Cyrillic"},
    "sr": {"Cyrillic", "Latin"}, "hy": {"Armenian"}, "he": {"Hebrew"}, "ar": {"Arabic"},
    "fa": {"Arabic"}, "ur": {"Arabic"}, "hi": {"Devanagari"}, "mr": {"Devanagari"},
    "ne": {"Devanagari"}, "bn": {"Bengali"}, "th": {"Thai"}, "ka": {"Georgian"},
    "ko": {"Hangul"}, "ja": {"Kana", "Han"}, "zh": {"Han"},
}
# Latin-script languages the model chooses among (with the desk's own).
_LATIN_CANDIDATES = ("en", "es", "fr", "de", "pt", "it", "nl", "pl", "tr", "sv", "da", "no",
                     "fi", "ro", "cs", "hu", "id", "vi")
# Words of each language that no English message has (accents removed): a confident model
# still needs one of them before a Latin-script message counts as that language.
_FUNCTION_WORDS = {
    "es": "el la los las una unos unas es esta estoy estan mi mis tu su sus que por para con "
          "del pero como donde cuando porque quiero tengo puedo necesito hola gracias pedido "
          "hablar muy nada todo este esto eso hay han fue ser usted les mio nuestro llegado "
          "compra devolver dinero cuenta ayuda reembolso envio paquete favor",
    "fr": "le la les une des du est et je il nous vous mes votre vos pas que qui pour avec "
          "dans sur ou mais commande bonjour merci suis ai avez fait cette c'est j'ai n'est "
          "aux tres oui voudrais veux peux comment quand pourquoi colis remboursement aide",
    "de": "der das ein eine einen ist und ich nicht mein meine meinen mit fur auf wie warum "
          "wann bitte danke hallo sie wir haben habe sind noch kein keine bestellung paket "
          "zuruck mochte konnen zu von dem auch geld hilfe ruckerstattung lieferung",
    "pt": "os uma meu minha meus nao com para por que como onde quando esta estou obrigado "
          "obrigada ola pedido voce eu ele ela isso este esse muito tem tenho quero posso ja "
          "ainda mas ou da das dos ajuda dinheiro reembolso entrega encomenda",
    "it": "il gli una uno mio mia miei sono sei che della del dei nel alla anche ancora "
          "perche grazie ciao ordine vorrei voglio posso abbiamo buongiorno aiuto soldi "
          "favore rimborso spedizione pacco",
    "nl": "het een ik je jij mijn niet waar wat wanneer bestelling dank bedankt hallo zijn "
          "heb hebben kunnen voor naar maar nog geen pakket alstublieft geld",
}
# A Latin-script message with as many common English words (``common_english_words``) as
# words of the detected language is read as English, whatever the model says.
# How sure the model must be, with one, two or three function words of its language.
LATIN_CONFIDENCE = 0.9
LATIN_CONFIDENCE_TWO_WORDS = 0.75
LATIN_CONFIDENCE_THREE_WORDS = 0.5
_LETTERS_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_LINK_RE = re.compile(r"\S+@\S+|\bhttps?://\S+|\bwww\.\S+")


@dataclass(frozen=True)
class LanguageCheck:
    """What the language check found. ``reason`` is why a message cannot be understood:
    ``script``, ``language`` or ``unknown_words``; "" when it can."""

    language: str = ""
    script: str = ""
    supported: bool = True
    reason: str = ""
    confidence: float = 0.0

    @property
    def label(self) -> str:
        """The language's name, else its script ("Arabic", "Cyrillic"), for the trace."""
        return NAMES.get(self.language, "") or self.script or "unknown words"

    def to_dict(self) -> dict[str, Any]:
        return {"language": self.language, "script": self.script, "supported": self.supported,
                "reason": self.reason, "confidence": round(self.confidence, 3)}


def script_of(ch: str) -> str:
    """The script of one letter: "Latin", "Arabic", "Han", "Kana", ... or "Other"."""
    point = ord(ch)
    index = bisect.bisect_right(_STARTS, point) - 1
    if index >= 0:
        start, end, name = _RANGES[index]
        if start <= point <= end:
            return name
    return "Other"


def scripts(text: str) -> Counter[str]:
    """How many letters of each script ``text`` has."""
    counts: Counter[str] = Counter()
    for ch in text:
        if ch.isalpha():
            counts[script_of(ch)] += 1
    return counts


def desk_scripts(languages: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for code in languages:
        found |= _LANGUAGE_SCRIPTS.get(code, {"Latin"})
    return found


@lru_cache(maxsize=8)
def _identifier(candidates: tuple[str, ...]) -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(candidates))
    return identifier


def _plain(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=1)
def _function_words() -> dict[str, frozenset[str]]:
    return {code: frozenset(words.split()) for code, words in _FUNCTION_WORDS.items()}


@lru_cache(maxsize=4)
def _lexicon(vocabulary: frozenset[str]) -> FuzzyLexicon:
    return FuzzyLexicon({word: word for word in vocabulary})


# Chat words no dictionary lists.
_CHAT_WORDS = frozenset(
    "lol thx tx ty omg wtf plz pls pleas yep yeap yup nope nah naw kk ok okk okey ya yea yeah "
    "idk tbh btw asap u ur r cuz coz wanna gonna gotta dunno hmm hm ugh meh bruh bro sup "
    "hiya heya helo hii hiii thnx thanx ppl msg pic pics acct info".split()
)
_SUFFIXES = ("ing", "ed", "es", "s", "ly", "er", "ers")


def _stems(word: str) -> list[str]:
    """``word`` and what it may be an inflection of: "refunding" -> "refund", "rebating" ->
    "rebat", "rebate"."""
    found = [word]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            found += [stem, stem + "e"]
            if len(stem) >= 4 and stem[-1] == stem[-2]:
                found.append(stem[:-1])  # "shipped" -> "ship"
    return found


def _known(word: str, languages: tuple[str, ...], vocabulary: frozenset[str]) -> bool:
    """Whether the desk knows ``word``: the taxonomy's or (for English) a dictionary's, in a
    form or with one typo of a taxonomy word."""
    english = english_words() if "en" in languages else frozenset()
    if word in _CHAT_WORDS and "en" in languages:
        return True
    if any(stem in vocabulary or stem in english for stem in _stems(word)):
        return True
    return bool(vocabulary) and len(word) >= 5 and bool(_lexicon(vocabulary)(word))


def detect(
    text: str, *, languages: Iterable[str] = ("en",), vocabulary: frozenset[str] = frozenset()
) -> LanguageCheck:
    """Whether the desk, answering in ``languages``, can read ``text`` (normalised).

    ``vocabulary``: the taxonomy's own words (training phrases, products, signals), known in
    any language. A message with no letters (an order number, an emoji) is readable.
    """
    languages = tuple(languages) or ("en",)
    letters = scripts(text)
    total = sum(letters.values())
    if not total:
        return LanguageCheck()
    if letters.get("Kana"):  # Japanese mixes kana and kanji
        letters["Kana"] += letters.pop("Han", 0)
    script, count = letters.most_common(1)[0]
    readable = desk_scripts(languages)
    if script != "Latin" and count * 2 >= total:
        if script in readable:
            return LanguageCheck(script=script, confidence=count / total)
        return LanguageCheck(language=_SCRIPT_LANGUAGE.get(script, ""), script=script,
                             supported=False, reason="script", confidence=count / total)
    if "Latin" not in readable:
        return LanguageCheck(language="", script="Latin", supported=False, reason="script",
                             confidence=letters["Latin"] / total)

    words = [_plain(w) for w in _LETTERS_RE.findall(_LINK_RE.sub(" ", text))]
    words = [w for w in words if len(w) >= 2 or w in {"a", "i"}]
    if not words:
        return LanguageCheck(script="Latin")
    candidates = tuple(sorted(set(_LATIN_CANDIDATES) | set(languages)))
    code, probability = _identifier(candidates).classify(" ".join(words))
    if code not in languages:
        own = _function_words().get(code, frozenset())
        hits = sum(1 for w in words if w in own)
        english = 0
        if "en" in languages:
            common = common_english_words()
            english = sum(1 for w in words if w in common and w not in own)
        if english < hits and (
            (probability >= LATIN_CONFIDENCE and hits >= 1)
            or (probability >= LATIN_CONFIDENCE_TWO_WORDS and hits >= 2)
            or (probability >= LATIN_CONFIDENCE_THREE_WORDS and hits >= 3)
        ):
            return LanguageCheck(language=code, script="Latin", supported=False,
                                 reason="language", confidence=probability)
    if not any(_known(w, languages, vocabulary) for w in words) and any(
        len(w) >= 3 for w in words
    ):
        return LanguageCheck(script="Latin", supported=False, reason="unknown_words",
                             confidence=1.0)
    return LanguageCheck(language=code if code in languages else "", script="Latin",
                         confidence=probability)


def names(languages: Iterable[str]) -> str:
    """The desk's languages for a customer to read: "English", "English and French"."""
    readable = [NAMES.get(code, code) for code in dict.fromkeys(languages)] or ["English"]
    if len(readable) == 1:
        return readable[0]
    return ", ".join(readable[:-1]) + " and " + readable[-1]


def reply(check: LanguageCheck, languages: Iterable[str]) -> str:
    """The answer to a message the desk cannot read: the languages it answers in, and a
    person on request."""
    spoken = names(languages)
    if check.reason == "unknown_words":
        opener = f"I'm sorry, I didn't understand that. I answer in {spoken}"
    else:
        opener = f"I'm sorry, I can only answer in {spoken}"
    return (
        f"{opener}: could you write your question in {spoken}? If you would rather talk to a "
        "person, write \u201cagent\u201d and I'll connect you with our team."
    )
