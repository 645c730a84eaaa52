"""Escalation signals matched as words in context, and explicit requests for a person.

Both read the normalised text (``chat.bot.text.normalize``: zero-width characters are gone
before this stage).

A signal phrase matches on word boundaries, never inside another word. Single words that
are ambiguous on their own need their context too: "manager" escalates in "let me speak to
your manager" but not in "is this chair good for managers?", and "legal" escalates in
"I'll take legal action" but not in "is the legal pad yellow?".

Words match in their forms and with small slips: inflections ("suing", "sued", "lawyers",
"scammed", "fraudulent"), one typo in a signal word of six letters or more that is not itself
an English word ("supervsor", "attorny"; never "curious" for "furious"), a word split by a
hyphen or a space ("super-visor", "law suit"), and a negated base of an "un-" word ("didn't
authorize" is "unauthorized", "not acceptable" is "unacceptable").

A negation scopes over the words that follow it up to the first word that leaves the
request ("I don't want to talk to a human", "I'm not going to sue", "this isn't fraud"): it
cancels the signal, and the trace says so. It ends at a clause break or any other content
word, so "I don't want a bot, get me a human" and "not happy, I want a manager" still
escalate.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .text import FuzzyLexicon, edit_distance, english_words, tokens

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
    "ask": ("ask", "asking", "asked"),
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
                 "want", "need", "talk", "to", "just", "give", "me", "get", "actual", "human",
                 "no", "nope", "ok", "okay", "yes", "stop"}
# After a want-verb, a person noun that ends the request asks for one ("I want a person",
# "I need someone now"), though "I want a person who knows tents" does not.
_REQUEST_ENDS = {"please", "pls", "plz", "now", "asap", "instead", "here", "immediately",
                 "right", "today"}
# "live support", "human help": a person by another name.
_LIVE_HELP = {"support", "chat", "help", "assistance", "service"}


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
                ends = index + 1 == len(words) or words[index + 1] in _REQUEST_ENDS
                return _noun(words[index]) in _STRONG_NOUNS or ends
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


# --- Words, clauses and negation ---------------------------------------------------------

# A word (apostrophes inside) or a mark that ends a clause.
_PIECE_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[,.;:!?()\[\]\n]|\s[-\u2013\u2014]\s")
# "did not" reads as "didn't"; "dont" as "don't".
_CONTRACTED = {
    "do": "don't", "does": "doesn't", "did": "didn't", "is": "isn't", "are": "aren't",
    "was": "wasn't", "were": "weren't", "have": "haven't", "has": "hasn't", "had": "hadn't",
    "will": "won't", "would": "wouldn't", "should": "shouldn't", "could": "couldn't",
    "can": "can't", "wo": "won't", "ca": "can't",
}
_UNAPOSTROPHED = {
    "dont": "don't", "doesnt": "doesn't", "didnt": "didn't", "isnt": "isn't", "arent": "aren't",
    "wasnt": "wasn't", "werent": "weren't", "havent": "haven't", "hasnt": "hasn't",
    "wont": "won't", "wouldnt": "wouldn't", "shouldnt": "shouldn't", "couldnt": "couldn't",
    "cant": "can't", "im": "i'm", "ive": "i've", "ill": "i'll",
}
# Words that negate what follows them. "can't" is not one: "I can't reach a person" asks for
# one.
NEGATORS = frozenset({
    "not", "no", "never", "don't", "doesn't", "didn't", "won't", "isn't", "aren't", "wasn't",
    "weren't", "haven't", "hasn't", "hadn't", "wouldn't", "shouldn't", "nor", "neither",
    "without", "nope", "nobody", "noone", "none", "nothing",
})
# Words a negation reaches across to the signal: verbs of wanting, contacting, threatening
# and being, articles, pronouns and adverbs ("I don't really want to talk to a human").
_SCOPE = frozenset({
    # "no intention of contacting a lawyer", "no longer need a supervisor", "never said it
    # was a scam"
    "intention", "intentions", "plans", "desire", "reason", "longer", "said", "saying",
    "claimed", "claiming", "suggesting", "implying",
    "a", "an", "the", "any", "your", "my", "our", "his", "her", "their", "this", "that", "it",
    "to", "with", "for", "of", "at", "in", "on", "by", "be", "being", "been", "is", "was", "am",
    "are", "i", "i'm", "we", "me", "us", "really", "actually", "even", "yet", "ever", "all",
    "going", "gonna", "want", "wanna", "wanted", "need", "needs", "needed", "intend",
    "intending", "plan", "planning", "think", "trying", "try", "have", "has", "had", "got",
    "take", "taking", "get", "getting", "call", "calling", "involve", "involving", "contact",
    "contacting", "talk", "talking", "speak", "speaking", "chat", "chatting", "see", "hire",
    "hiring", "file", "filing", "start", "starting", "threaten", "threatening", "escalate",
    "escalating", "transfer", "connect", "some", "kind", "sort", "like", "so", "too", "very",
    "that's", "it's", "this's", "there", "there's", "anyone", "anybody", "someone",
    "somebody", "one", "real", "live", "actual", "human", "person", "agent", "representative",
    "rep", "legal", "claim", "report", "reporting", "considering", "consider",
    "about", "action", "you", "here", "just", "ask", "asked", "asking", "request", "requesting",
    "would", "will", "i'll", "i'd", "we'll", "necessary", "wish", "wishing", "looking",
    "interested", "keen", "willing", "prepared", "expecting", "bother", "bothering", "rather",
})
# After "no" these start a new request rather than take the negation.
_ANSWER_STARTS = frozenset({"i", "i'm", "we", "just", "please", "get", "give", "let", "put",
                            "connect", "transfer"})
# After a signal: "a manager is not needed", "human not necessary".
_NOT_NEEDED = frozenset({"needed", "necessary", "required"})


@dataclass(frozen=True)
class Words:
    """A message's words, with hyphen or space splits of known words joined and negated
    contractions written one way, and the clause each word is in."""

    words: list[str]
    clauses: list[int]
    joined: set[int] = field(default_factory=set)  # positions made of two split pieces


def split_words(text: str, joinable: frozenset[str] | set[str] = frozenset()) -> Words:
    """The words and clauses of a (normalised) message.

    Two neighbouring pieces whose concatenation is in ``joinable`` ("super visor",
    "law-suit") become one word.
    """
    pieces: list[str] = []
    clauses: list[int] = []
    clause = 0
    for match in _PIECE_RE.finditer(text.replace("\u2019", "'").lower()):
        piece = match.group(0)
        if not piece[0].isalnum():
            clause += 1
            continue
        piece = _UNAPOSTROPHED.get(piece, piece)
        if piece == "not" and pieces and clauses[-1] == clause and pieces[-1] in _CONTRACTED:
            pieces[-1] = _CONTRACTED[pieces[-1]]
            continue
        pieces.append(piece)
        clauses.append(clause)
    if not joinable:
        return Words(pieces, clauses)
    words: list[str] = []
    word_clauses: list[int] = []
    joined: set[int] = set()
    index = 0
    while index < len(pieces):
        if (
            index + 1 < len(pieces)
            and clauses[index] == clauses[index + 1]
            and pieces[index] + pieces[index + 1] in joinable
        ):
            joined.add(len(words))
            words.append(pieces[index] + pieces[index + 1])
            word_clauses.append(clauses[index])
            index += 2
            continue
        words.append(pieces[index])
        word_clauses.append(clauses[index])
        index += 1
    return Words(words, word_clauses, joined)


def negation(words: Words, start: int, end: int, reach: frozenset[str] = _SCOPE) -> str:
    """The negation that scopes over the words ``start:end``, or "".

    Before them: a negator reached across ``reach`` words only, in the same clause. After
    them: "not needed" and the like ("a manager is not necessary").
    """
    clause = words.clauses[start] if start < len(words.words) else -1
    position = start - 1
    while position >= 0 and words.clauses[position] == clause:
        word = words.words[position]
        if word in NEGATORS:
            # "no I want a manager" answers the bot; "no need for a manager" negates.
            following = words.words[position + 1]
            if word in {"no", "nope"} and following in _ANSWER_STARTS:
                break
            # "why don't you get me a manager", "won't you connect me to an agent?" ask.
            if following in {"you", "u"} or (position and words.words[position - 1] == "why"):
                break
            return word
        if word not in reach:
            break
        position -= 1
    after = words.words[end : end + 4]
    for offset, word in enumerate(after):
        if words.clauses[end + offset] != clause:
            break
        if word in NEGATORS and any(w in _NOT_NEEDED for w in after[offset + 1 : offset + 3]):
            return f"{word} {next(w for w in after[offset + 1:] if w in _NOT_NEEDED)}"
    return ""


# Words a negation reaches across in a request for a person: the request's own words too.
_REQUEST_REACH = (
    _SCOPE
    | _FILLERS
    | frozenset(form for forms in (*_CONTACT_VERBS.values(), *_WANT_VERBS.values())
                for form in forms)
    | frozenset(form for forms in _PERSON_NOUNS.values() for form in forms)
)

# Person nouns long enough to be written in two pieces ("super-visor", "repre sentative").
_PERSON_FORMS = frozenset(
    form for forms in _PERSON_NOUNS.values() for form in forms if len(form) >= 6
)

# Requests for a person in languages the desk may not answer in: enough on their own (the
# customer gets a person right away rather than a reply they cannot read). Matched on the
# normalised text with accents removed; non-Latin scripts as substrings (Arabic words take
# prefixes such as "ال").
_FOREIGN_REQUESTS = re.compile(
    "|".join([
        # Spanish
        r"\b(?:hablar|comunicarme|comunicar|contactar)\s+(?:con\s+)?(?:una?|el|la|alguna?)?\s*"
        r"(?:persona|agente|humano|representante|asesor|operador|gerente|supervisor|alguien)",
        r"\b(?:persona real|agente humano|atencion humana|un humano)\b",
        # French
        r"\bparler\s+(?:a|avec)\s+(?:un|une|le|la|quelqu'un)?\s*(?:conseiller|conseillere|"
        r"personne|agent|humain|operateur|responsable|vraie personne|quelqu'un)",
        r"\b(?:un conseiller|une vraie personne|un etre humain|un humain)\b",
        # German
        r"\b(?:mitarbeiter(?:in)?|kundenberater(?:in)?|sachbearbeiter(?:in)?|echte[nm]? "
        r"(?:person|menschen?)|mit einem menschen|mit jemandem sprechen)\b",
        # Portuguese
        r"\bfalar\s+com\s+(?:um|uma|o|a|alguem)?\s*(?:atendente|pessoa|humano|agente|"
        r"representante|gerente|alguem)",
        r"\b(?:atendente|atendimento humano)\b",
        # Italian
        r"\bparlare\s+con\s+(?:un|una|il|la|qualcuno)?\s*(?:operatore|persona|umano|agente|"
        r"responsabile|qualcuno)",
        r"\b(?:operatore umano|persona reale)\b",
        # Dutch
        r"\b(?:medewerker|met een mens|echt persoon)\b",
        # Turkish
        r"\b(?:musteri temsilcisi|temsilci|canli destek)\b",
        # Russian, Ukrainian
        r"оператор|живым человеком|с человеком|сотрудник|менеджер|консультант",  # noqa: RUF001
        # Arabic
        r"موظف|انسان|إنسان|شخص حقيقي|بشري|خدمة العملاء|ممثل|مدير",
        # Chinese, Japanese, Korean
        r"人工|客服|真人|转人工|オペレーター|担当者|人間と話|상담원|상담사|직원",
        # Hindi, Hebrew, Greek, Thai
        r"इंसान|एजेंट|ग्राहक सेवा|נציג|בן אדם|εκπρόσωπο|υπάλληλο|άνθρωπο|พนักงาน|เจ้าหน้าที่",
    ])
)


def _without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Negations just before a foreign request: "no quiero hablar con una persona", "je ne veux
# pas parler à un conseiller", "ich möchte nicht mit einem Mitarbeiter sprechen".
_FOREIGN_NEGATION = re.compile(
    r"(?:^|\W)(?:no|ne|n'|nicht|kein\w*|nao|non|niet|geen|nie)(?:\W|$)|不|없|не\s"
)


def foreign_human_request(text: str) -> str:
    """The words of a request for a person in another language, or "" (also when a
    negation comes just before it)."""
    source = text
    match = _FOREIGN_REQUESTS.search(text)
    if match is None and not text.isascii():
        # "parler à un conseiller" also written without its accents; kana keep their marks
        # in the first search.
        source = unicodedata.normalize("NFC", _without_accents(text)).replace("\u2019", "'")
        match = _FOREIGN_REQUESTS.search(source)
    if match is None:
        return ""
    before = _without_accents(source[max(0, match.start() - 25) : match.start()])
    return "" if _FOREIGN_NEGATION.search(before) else match.group(0).strip()


def human_request(text: str) -> str:
    """The words of an explicit request to talk to a person, or "" if there is none.

    A negated request ("I don't want to talk to a human") is none; a request after a negated
    clause ("I don't want a bot, get me a human") is one. Requests in common foreign
    languages count too ("hablar con una persona", "人工").
    """
    found = foreign_human_request(text)
    if found:
        return found
    split = split_words(text, _PERSON_FORMS)
    words = split.words
    for index, word in enumerate(words):
        noun = _noun(word)
        if not noun and word in _LIVE_HELP and index > 0 and words[index - 1] in {
            "live", "human", "real",
        }:
            # "connect me to live support", "human help please"
            if _person_at(words, index) and not negation(
                split, index, index + 1, _REQUEST_REACH
            ):
                return f"{words[index - 1]} {word}"
            continue
        if not noun:
            continue
        # "human agent", "live agent", "real person" need no verb.
        if index > 0 and words[index - 1] in {"human", "live", "real", "actual"} and noun in {
            "agent", "person", "operator", "representative", "human", "someone",
        }:
            said = f"{words[index - 1]} {word}"
        elif _person_at(words, index):
            said = " ".join(words[max(0, index - 4) : index + 1])
        else:
            continue
        if negation(split, index, index + 1, _REQUEST_REACH):
            continue
        return said
    return ""


# A request quoted whole in the handoff reason up to this length; longer, its words alone.
QUOTE_MAX_CHARS = 80


def request_quote(text: str, said: str) -> str:
    """How the handoff reason quotes a request for a person: the customer's message as they
    wrote it (spaces collapsed) when it has at most ``QUOTE_MAX_CHARS`` characters ("can I
    speak to a human?"), else ``said``, the request's words from ``human_request``, between
    ellipses. "" when ``said`` is ""."""
    if not said:
        return ""
    whole = " ".join(text.split())
    return whole if len(whole) <= QUOTE_MAX_CHARS else f"\u2026{said}\u2026"


def declined_person(text: str) -> tuple[str, str]:
    """``(declined, rest)``: the words of a clause that turns a person down ("I don't need a
    human", "no agent needed") and the message's other words, or ``("", "")`` when no clause
    does, when the message is only that clause, or when it also asks for a person.

    "I don't need a human, just tell me your return window" asks about returns: its intent is
    read from ``rest``, whose words the person noun would otherwise pull to the intent where
    requests for a person are taught.
    """
    if human_request(text):
        return "", ""
    split = split_words(text, _PERSON_FORMS)
    words = split.words
    for index, word in enumerate(words):
        if not _noun(word) or not negation(split, index, index + 1, _REQUEST_REACH):
            continue
        clause = split.clauses[index]
        declined = [w for w, c in zip(words, split.clauses, strict=True) if c == clause]
        rest = [w for w, c in zip(words, split.clauses, strict=True) if c != clause]
        if not any(len(w) > 2 for w in rest):
            return "", ""
        return " ".join(declined), " ".join(rest)
    return "", ""


# --- Admin-defined signals -----------------------------------------------------------------

_LEGAL_AFTER = {
    "action", "actions", "proceedings", "steps", "team", "department", "advice", "counsel",
    "route", "recourse", "case", "claim", "measures", "matter", "dispute", "threat", "help",
}
_LEGAL_BEFORE = {"go", "going", "take", "taking", "get", "getting", "went", "seek", "seeking"}
_SUE_BEFORE = {"to", "will", "i'll", "ill", "gonna", "going", "can", "could", "should", "would",
               "might", "and", "i", "we", "we'll", "be", "been", "get", "got", "getting", "i'd",
               "id", "we'd"}
_SUE_AFTER = {"you", "u", "ya", "your", "them", "the", "this", "acme", "over", "for", "y'all"}
_LAWYER_BEFORE = {"my", "our", "a", "an", "the", "call", "calling", "contact", "contacting", "get",
                  "getting", "hire", "hiring", "consult", "consulting", "involve", "involving",
                  "see", "from", "to", "with", "family", "their"}
# "lawyers will be reading this", "an attorney is involved": a lawyer who acts.
_LAWYER_AFTER = {"will", "would", "is", "are", "has", "have", "was", "were", "involved", "says",
                 "said", "letter", "reading", "contacting", "looking", "knows", "know", "'ll"}
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
        # The word alone ("lawyer.") is the threat too.
        return bool(set(before) & _LAWYER_BEFORE) or bool(set(after) & _LAWYER_AFTER) or (
            len(words) <= 2)
    if word == "press":
        return bool(before and before[-1] == "the" and set(before[:-1]) & _PRESS_VERBS)
    if category == "human_request" and _noun_lexicon(word):
        return _person_at(words, index)
    return True


# Derived words that are the same signal, beyond the regular inflections of ``word_forms``.
_DERIVED = {
    "fraud": ("fraudulent", "fraudster", "fraudsters"),
    "scam": ("scammer", "scammers", "scammy"),
    "hacked": ("hack", "hacks", "hacking", "hacker", "hackers"),
    "stolen": ("stole",),
    "lawsuit": ("lawsuits",),
    "outraged": ("outrageous", "outrage"),
    "disgusted": ("disgusting",),
}
_VOWELS = frozenset("aeiou")


def word_forms(word: str) -> set[str]:
    """Regular inflections of a signal word: plurals, verb forms, -ise/-ize spellings.

    "sue" gives "sues", "sued", "suing"; "scam" gives "scams", "scammed", "scamming";
    "hacked" gives "hack", "hacking"; "unauthorized" gives "unauthorised".
    """
    stems = {word}
    if word.endswith("ed") and len(word) > 4:
        stems |= {word[:-2], word[:-1]}  # "hacked" -> "hack"; "outraged" -> "outrage"
    forms = set(stems)
    for stem in stems:
        forms |= {stem + "s", stem + "es"}
        if stem.endswith("y") and len(stem) > 3:
            forms.add(stem[:-1] + "ies")
        if stem.endswith("e"):
            forms |= {stem + "d", stem[:-1] + "ing"}
        else:
            forms |= {stem + "ed", stem + "ing"}
            if (len(stem) <= 4 and len(stem) >= 3 and stem[-1] not in _VOWELS | {"w", "x", "y"}
                    and stem[-2] in _VOWELS and stem[-3] not in _VOWELS):
                forms |= {stem + stem[-1] + "ed", stem + stem[-1] + "ing"}
    for form in list(forms):
        if "iz" in form:
            forms.add(form.replace("iz", "is"))
        if "is" in form and ("ised" in form or "ise" in form):
            forms.add(form.replace("is", "iz"))
    forms |= set(_DERIVED.get(word, ()))
    return forms


def negated_bases(word: str) -> set[str]:
    """The words an "un-" signal negates: "unauthorized" -> "authorize", "authorized",
    "authorizing", "authorization" (and -ise spellings); "unacceptable" -> "acceptable"."""
    if not word.startswith("un") or len(word) < 7:
        return set()
    base = word[2:]
    bases = {base}
    if base.endswith("ed"):
        stem = base[:-2] if base[-3] != "e" else base[:-1]
        stem = base[:-1] if base.endswith("zed") or base.endswith("sed") else stem
        # "authorized" -> "authorize"
        bases |= {stem, stem + "d", stem[:-1] + "ing", stem[:-1] + "ation"}
    for form in list(bases):
        if "iz" in form:
            bases.add(form.replace("iz", "is"))
        if "is" in form:
            bases.add(form.replace("is", "iz"))
    return bases


@dataclass(frozen=True)
class SignalRule:
    phrase: str
    category: str
    words: tuple[str, ...]

    @property
    def single_word(self) -> bool:
        return len(self.words) == 1


@dataclass
class SignalReport:
    """The signals a message matched, and those a negation cancelled.

    ``matched``: ``{"phrase", "category", "match", "rule"}`` (rule: ``exact``, ``form``,
    ``typo``, ``split`` or ``negated_base``); ``cancelled``: ``{"phrase", "category",
    "match", "negation"}``.
    """

    matched: list[dict[str, str]] = field(default_factory=list)
    cancelled: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"matched": self.matched, "cancelled": self.cancelled}


# Signal words shorter than this take no typo ("legal", "fraud", "scam").
TYPO_MIN_LENGTH = 6


class SignalMatcher:
    """Finds the admins' escalation signals in a message, as words in context."""

    def __init__(self, signals: list[tuple[str, str]]) -> None:
        self.rules = [
            SignalRule(phrase, category, tuple(tokens(phrase)))
            for phrase, category in signals
            if tokens(phrase)
        ]
        # Each spelling a signal's word may take -> the word.
        self._forms: dict[str, set[str]] = {}
        for rule in self.rules:
            for word in rule.words:
                for form in word_forms(word) | {word}:
                    self._forms.setdefault(form, set()).add(word)
        self._joinable = frozenset(f for f in self._forms if len(f) >= TYPO_MIN_LENGTH)
        # A typo of a spelling of six letters or more ("fradulent" for "fraudulent").
        self._typos = FuzzyLexicon(
            {form: min(words) for form, words in self._forms.items()
             if len(form) >= TYPO_MIN_LENGTH},
            min_length=TYPO_MIN_LENGTH,
        )
        self._by_first: dict[str, list[SignalRule]] = {}
        for rule in self.rules:
            self._by_first.setdefault(rule.words[0], []).append(rule)
        self._bases: dict[str, list[SignalRule]] = {}
        for rule in self.rules:
            if rule.single_word:
                for base in negated_bases(rule.words[0]):
                    self._bases.setdefault(base, []).append(rule)
        self._spellings = lru_cache(maxsize=8192)(self._spell)

    def _spell(self, token: str) -> dict[str, str]:
        """The signal words ``token`` spells, each with how: exact, form or typo."""
        found = {word: "exact" if word == token else "form"
                 for word in self._forms.get(token, ())}
        if not found and len(token) >= TYPO_MIN_LENGTH - 1 and token not in english_words():
            word = self._typos(token)
            if word:
                found[word] = "typo"
        return found

    def analyse(self, text: str) -> SignalReport:
        """The signals in ``text`` (normalised), and the negated ones, for the trace."""
        report = SignalReport()
        split = split_words(text, self._joinable)
        words = split.words
        spellings = [self._spellings(word) for word in words]
        found: set[str] = set()
        for start, spelled in enumerate(spellings):
            for first, how in spelled.items():
                for rule in self._by_first.get(first, ()):
                    if rule.phrase in found:
                        continue
                    size = len(rule.words)
                    rest = [spellings[start + k].get(rule.words[k]) if start + k < len(words)
                            else None for k in range(1, size)]
                    if not all(rest):
                        continue
                    if rule.single_word and not _context_ok(first, rule.category, words, start):
                        continue
                    said = " ".join(words[start : start + size])
                    negated = negation(split, start, start + size)
                    if negated:
                        report.cancelled.append({"phrase": rule.phrase, "category": rule.category,
                                                 "match": said, "negation": negated})
                        continue
                    hows = {how, *rest}
                    rule_name = "split" if start in split.joined else next(
                        (h for h in ("typo", "form") if h in hows), "exact"
                    )
                    found.add(rule.phrase)
                    report.matched.append({"phrase": rule.phrase, "category": rule.category,
                                           "match": said, "rule": rule_name})
        for index, word in enumerate(words):
            for rule in self._bases.get(word, ()):
                if rule.phrase in found:
                    continue
                negated = negation(split, index, index + 1)
                if negated:
                    found.add(rule.phrase)
                    report.matched.append({"phrase": rule.phrase, "category": rule.category,
                                           "match": f"{negated} {word}", "rule": "negated_base"})
        return report

    def find(self, text: str) -> list[dict[str, str]]:
        """The signals in ``text`` (normalised) that no negation cancelled."""
        return self.analyse(text).matched


# --- A concern withdrawn --------------------------------------------------------------------

# The customer takes the concern back: enough on their own.
_WITHDRAWN = re.compile(
    r"\b(?:never ?mind|nvm|my (?:bad|mistake|fault)|false alarm|ignore (?:that|this|my last|me)|"
    r"it was (?:me|my (?:wife|husband|partner|son|daughter|kid|mum|mom|dad))|"
    r"i recogni[sz]e it now|(?:i )?figured it out|(?:it's|it is|all) (?:sorted|fine|good) now|"
    r"no (?:problem|issue) (?:anymore|any more)|problem solved)\b"
)
# Softer words that withdraw it only beside a cancelled signal ("this isn't fraud, I just
# forgot the charge").
_WITHDRAWN_SOFT = re.compile(
    r"\b(?:i (?:just )?forgot|i remember(?:ed)?|i recogni[sz]e|i found|that was me|"
    r"i made (?:it|that|the purchase)|i did make)\b"
)


def withdrawal(text: str, report: SignalReport | None = None) -> str:
    """The words with which the customer takes their concern back, or "".

    "never mind, it was my husband" withdraws on its own; "I just forgot the charge" only with
    a negated signal beside it ("this isn't fraud"). An intent that always goes to a person
    does not when its concern is withdrawn.
    """
    text = text.replace("\u2019", "'")
    found = _WITHDRAWN.search(text)
    if found is None and report is not None and report.cancelled and not report.matched:
        found = _WITHDRAWN_SOFT.search(text)
    return found.group(0) if found else ""



# "Would you like me to connect you with a member of our team?" answered yes. The whole
# message must be the acceptance (a few words), so "yes but where is my order" is not one; a
# bare "ok" ("ok thanks") closes a chat as often as it accepts, and is not one either.
_YES_WORDS = (
    r"y+e+s+|yeah|yea|yep|yup|ya|sure|please|please do|do it|go ahead|go for it|definitely|"
    r"absolutely|of course|i would|i'?d like that|i want that|i'?d like to|i'?d love that|"
    r"that would (?:be )?(?:great|good|nice|helpful|perfect)|that'?d be (?:great|good|nice|"
    r"helpful|perfect)|sounds good|connect me|put me through|transfer me"
)
# A yes, then more yes or courtesy: "yeah sure", "yes that would be great", "sure, connect me".
_ACCEPTANCE = re.compile(
    rf"^(?:(?:oh|well|ok|okay|alright|then)[,!. ]+)?(?:{_YES_WORDS})"
    rf"(?:[,!. ]+(?:{_YES_WORDS}|a person|a human|someone|thanks|thank you|pls|then|now))*"
    r"[!. ]*$"
)


def accepts_offer(text: str) -> bool:
    """Whether a normalised message is just a yes ("yes please", "sure, connect me"), the
    answer to the bot's offer of a person."""
    return bool(_ACCEPTANCE.match(text.strip()))
