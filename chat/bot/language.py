"""Whether the desk can read a message: its script, its language, and whether any word is known.

A message the desk cannot understand is handled as the fallback intent, with a reply that
names the languages the desk answers in (``BOT_LANGUAGES``) and offers a person:

- a message in a script that none of the desk's languages is written in (Arabic, Chinese,
  Cyrillic, Greek, Hebrew, Devanagari, Thai, Japanese, Korean... for an English desk);
- a Latin-script message in another language: more of that language's own common words
  (function words and the words of customer service, none of them a common English word)
  than common English words, and two of them at least unless the message is that short:
  a short English message with typos is never taken for Spanish;
- a message with no known word at all: no English word (for an English desk), no word of the
  taxonomy's training phrases, products or signals, and no one-typo variant of one.

The check reads the normalised text (``chat.bot.text.normalize``) and needs no model. A
statistical language identifier (py3langid) was tried: on short messages it still needed the
same own-word evidence to leave English with typos alone, and it added about 70 MB to each
worker, so these word lists decide alone.
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
# Each Latin-script language's common words, accents removed: function words and the words
# of customer service. Those that are also common English words are dropped when loaded.
_WORDS = {
    "es": "el la los las una unos unas es esta estoy estan mi mis tu su sus que por para con "
          "del pero como donde cuando porque quiero tengo puedo necesito hola gracias pedido "
          "hablar muy nada todo este esto eso hay han fue ser usted les mio nuestro llegado "
          "compra devolver dinero cuenta ayuda reembolso envio paquete favor buenos buenas "
          "dias tardes noches quisiera podria puede hacer tiene estado todavia aun ayer hoy "
          "manana semana cuanto cuesta precio talla tienda producto devolucion cambiar "
          "cancelar contrasena correo direccion numero tarjeta cobro pago recibido recibi "
          "problema roto llego enviado saber tambien ahora siempre nunca despues antes "
          "entonces otra otro vez mucho poco bien mal",
    "fr": "le la les une des du est et je il nous vous mes votre vos pas que qui pour avec "
          "dans sur ou mais commande bonjour merci suis ai avez fait cette c'est j'ai n'est "
          "aux tres oui voudrais veux peux comment quand pourquoi colis remboursement aide "
          "livraison bonsoir salut recu toujours encore depuis hier aujourd'hui demain "
          "semaine combien prix taille magasin produit retour echanger annuler mot passe "
          "courriel adresse numero carte paiement probleme casse envoye savoir aussi "
          "maintenant jamais apres avant alors autre fois beaucoup peu bien mal mon ma ton "
          "n'ai pouvez pourriez s'il vous plait rembourser moi",
    "de": "der das ein eine einen ist und ich nicht mein meine meinen mit fur auf wie warum "
          "wann bitte danke hallo sie wir haben habe sind noch kein keine bestellung paket "
          "zuruck mochte konnen zu von dem auch geld hilfe ruckerstattung lieferung guten "
          "tag morgen abend erhalten immer schon seit gestern heute woche viel kostet preis "
          "grosse geschaft produkt rucksendung umtauschen stornieren passwort adresse nummer "
          "karte zahlung problem kaputt geschickt wissen jetzt nie nach vor dann andere mal "
          "wenig gut schlecht konnten wurde ihr ihre mich mir dich uns",
    "pt": "os uma meu minha meus nao com para por que como onde quando esta estou obrigado "
          "obrigada ola pedido voce eu ele ela isso este esse muito tem tenho quero posso ja "
          "ainda mas ou da das dos ajuda dinheiro reembolso entrega encomenda bom boa dia "
          "tarde noite recebi recebido sempre ontem hoje amanha semana quanto custa preco "
          "tamanho loja produto devolucao trocar cancelar senha endereco numero cartao "
          "pagamento problema quebrado chegou enviado saber tambem agora nunca depois antes "
          "entao outra outro vez pouco bem mal gostaria pode fazer seu sua",
    "it": "il gli una uno mio mia miei sono sei che della del dei nel alla anche ancora "
          "perche grazie ciao ordine vorrei voglio posso abbiamo buongiorno aiuto soldi "
          "favore rimborso spedizione pacco buonasera ricevuto sempre ieri oggi domani "
          "settimana quanto costa prezzo taglia negozio prodotto reso cambiare annullare "
          "indirizzo numero carta pagamento problema rotto arrivato inviato sapere adesso "
          "mai dopo prima allora altra altro volta molto poco bene male potrebbe fare suo "
          "sua questo questa quello",
    "nl": "het een ik je jij mijn niet waar wat wanneer bestelling dank bedankt hallo zijn "
          "heb hebben kunnen voor naar maar nog geen pakket alstublieft geld terugbetaling "
          "levering goedemorgen goedemiddag ontvangen altijd gisteren vandaag morgen week "
          "hoeveel kost prijs maat winkel retour ruilen annuleren wachtwoord adres nummer "
          "betaling probleem kapot verstuurd weten ook nu nooit daarna voor dan andere keer "
          "veel weinig goed slecht zou graag mij ons jullie",
    "tr": "bir bu ve ile icin siparis siparisim nerede merhaba tesekkurler tesekkur ederim "
          "iade para kargo yardim lutfen neden nasil zaman degil var yok benim ben sen",
    "pl": "jest nie tak czy gdzie moje moja moj zamowienie dzien dobry dziekuje prosze "
          "zwrot pieniadze paczka pomoc dlaczego kiedy jak mam chce",
    "sv": "jag det att och inte min mitt mina var hur varfor nar hej tack bestallning paket "
          "aterbetalning pengar hjalp kan vill har",
    "id": "saya tidak apa ini itu dan yang untuk dengan pesanan dimana halo terima kasih "
          "uang paket bantuan kenapa bagaimana kapan mau bisa sudah belum",
}
# The fewest of a language's own words that make a message that language (a message of
# fewer words needs all of its words to be that language's).
LATIN_MIN_HITS = 2
_ASCII_LETTER_RE = re.compile(r"[A-Za-z]")
_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")
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
    ascii_letters = len(_ASCII_LETTER_RE.findall(text))
    if ascii_letters:
        counts["Latin"] = ascii_letters
    if not text.isascii():
        for ch in _NON_ASCII_RE.findall(text):
            if ch.isalpha():
                counts[script_of(ch)] += 1
    return counts


def desk_scripts(languages: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for code in languages:
        found |= _LANGUAGE_SCRIPTS.get(code, {"Latin"})
    return found


def prepare() -> None:
    """Load the word lists now (about a second) rather than during a customer's first
    message; a worker process calls it when it starts."""
    english_words()
    common_english_words()
    _language_words()


def _plain(word: str) -> str:
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=1)
def _language_words() -> dict[str, frozenset[str]]:
    """Each language's own words: its list less the common English words."""
    common = common_english_words()
    return {code: frozenset(w for w in words.split() if w not in common)
            for code, words in _WORDS.items()}


def latin_language(words: list[str], languages: tuple[str, ...]) -> tuple[str, int, int]:
    """The Latin-script language with the most of its own words in ``words`` (ties go to
    the desk's languages, then to the list's order), its count, and the count of common
    English words."""
    english = 0
    if "en" in languages:
        common = common_english_words()
        english = sum(1 for w in words if w in common)
    best, hits = "", 0
    for code, own in _language_words().items():
        count = sum(1 for w in words if w in own)
        if count > hits or (count == hits and count and code in languages):
            best, hits = code, count
    return best, hits, english


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
    # A word the taxonomy's phrases use is no sign of another language ("hola" in a
    # taxonomy with a greeting phrase "hola").
    code, hits, english = latin_language(
        [w for w in words if w not in vocabulary] if vocabulary else words, languages
    )
    if code and code not in languages and hits > english and (
        hits >= LATIN_MIN_HITS or hits == len(words)
    ):
        return LanguageCheck(language=code, script="Latin", supported=False,
                             reason="language", confidence=hits / len(words))
    if not any(_known(w, languages, vocabulary) for w in words) and any(
        len(w) >= 3 for w in words
    ):
        return LanguageCheck(script="Latin", supported=False, reason="unknown_words",
                             confidence=1.0)
    if code in languages and hits > english:
        return LanguageCheck(language=code, script="Latin", confidence=hits / len(words))
    return LanguageCheck(language="en" if "en" in languages else "", script="Latin",
                         confidence=english / len(words))


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
