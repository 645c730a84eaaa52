"""Offline response composition: the best article's one or two passages that answer the
question, quoted in the article's own Markdown, then a link to the whole article.

Everything factual in the reply is copied from the article or from the customer's words, so
the quality check's grounding test holds by construction. The quote keeps the article's
Markdown as written (tables with their header and delimiter rows, lists, code spans, links,
entities such as ``&amp;``, bold); the widget shows it rendered and sanitised
(``knowledge.markdown``). It is at most ``MAX_QUOTE_WORDS`` words, to read in a narrow panel.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from knowledge.links import article_public_url

from .retrieval import ArticleDoc, defined_terms
from .text import FuzzyLexicon, tokens

_STOP = {
    "a", "an", "the", "i", "my", "me", "you", "your", "is", "are", "was", "be", "to", "of",
    "and", "or", "in", "on", "for", "it", "its", "it's", "do", "does", "can", "could", "how",
    "what", "when", "where", "why", "with", "this", "that", "we", "our", "us", "have", "has",
    "please", "hi", "hello", "there", "would", "like", "want", "need", "get", "am", "at",
}
NO_ARTICLE_REPLY = (
    "I'm not sure I have the right answer to that. Could you tell me a little more, or would "
    "you like me to connect you with a member of our team?"
)
MAX_QUOTE_WORDS = 120
MAX_PASSAGES = 2
LINK_TEXT = "Read the whole article"

_LIST_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])\s")
_FENCE = re.compile(r"^(```|~~~)")
_TABLE_DELIMITER = re.compile(r"^\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?$")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")
_MARKUP = re.compile(r"(?<!\w)[*_~]+|[*_~]+(?!\w)|`|^\s*(?:[-*+]|\d+[.)]|>)\s+", re.M)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9*`\[])")


@dataclass(frozen=True)
class Passage:
    """One quotable block of an article: its Markdown as written and its words.

    ``kind`` is ``paragraph``, ``list``, ``table`` or ``code``; ``parts`` are the lines a
    list or table may be cut between (a list's items, a table's rows), ``head`` the lines
    always kept when it is cut (a list's lead-in, a table's header and delimiter rows).
    """

    kind: str
    markdown: str
    head: tuple[str, ...]
    parts: tuple[str, ...]
    words: frozenset[str]
    count: int  # words a reader reads
    heading: frozenset[str] = frozenset()  # the words of the heading of its section
    # Its words and its heading's, found again from a misspelling (one typo, 5+ letters).
    lexicon: FuzzyLexicon = field(default_factory=lambda: FuzzyLexicon({}))


def plain_text(markdown: str) -> str:
    """Markdown reduced to what a reader reads: link texts kept, markup and table rules
    dropped (for counting words and matching them; the reply keeps the Markdown)."""
    lines = [line for line in markdown.splitlines() if not _TABLE_DELIMITER.match(line.strip())]
    text = _LINK.sub(lambda m: m.group(1), "\n".join(lines))
    return _MARKUP.sub(" ", text.replace("|", " ")).replace("&amp;", "&")


def word_count(markdown: str) -> int:
    """The words a reader reads in ``markdown`` (a URL is one word, a table rule none)."""
    return len(plain_text(markdown).split())


@functools.lru_cache(maxsize=16384)
def _stem(word: str) -> str:
    """A word without a plural or verb ending, for matching a question's words with an
    article's: "returned", "packing", "sizing", "size" -> "return", "pack", "siz", "siz";
    a consonant doubled before "ing" or "ed" is undoubled ("shipping", "ships" -> "ship"),
    except l, s and z ("billing" -> "bill"), as in step 1b of M. F. Porter, "An algorithm for
    suffix stripping", Program 14(3), 1980."""
    for ending in ("ing", "ed", "es", "s"):
        if len(word) > len(ending) + 2 and word.endswith(ending) and not word.endswith("ss"):
            word = word[: -len(ending)] if ending != "es" else word[:-1]
            if (ending in ("ing", "ed") and len(word) > 2 and word[-1] == word[-2]
                    and word[-1] not in "aeiouylsz"):
                word = word[:-1]
            break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def _words(text: str) -> frozenset[str]:
    """The words of ``text`` with their stems."""
    found = tokens(text)
    return frozenset(found) | {_stem(word) for word in found}


def _joined(head: list[str] | tuple[str, ...], parts: list[str] | tuple[str, ...]) -> str:
    """A passage's Markdown: its lead-in lines as paragraphs, then its lines (a table's
    header rows first)."""
    lead = [line for line in head if not line.startswith("|")]
    body = [line for line in head if line.startswith("|")] + list(parts)
    return "\n\n".join([*lead, "\n".join(body)]) if lead else "\n".join(body)


def _passage(
    kind: str, head: list[str], parts: list[str], heading: str = ""
) -> Passage:
    markdown = _joined(head, parts)
    plain = plain_text(markdown)
    words = _words(plain)
    heading_words = _words(heading.lstrip("#")) if heading else frozenset()
    return Passage(
        kind=kind, markdown=markdown, head=tuple(head), parts=tuple(parts), words=words,
        count=len(plain.split()),
        heading=heading_words,
        lexicon=FuzzyLexicon({w: w for w in words | heading_words}),
    )


def _blocks(body: str) -> list[tuple[str, list[str]]]:
    """(kind, lines) of an article's blocks in order; headings are ("heading", [line])."""
    blocks: list[tuple[str, list[str]]] = []
    lines = body.replace("\r\n", "\n").split("\n")
    current: list[str] = []

    def flush() -> None:
        if current:
            blocks.append(("text", list(current)))
            current.clear()

    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        fence = _FENCE.match(line.strip())
        if fence:
            flush()
            code = [line.strip()]
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence.group(1)):
                code.append(lines[i].rstrip())
                i += 1
            code.append(fence.group(1))
            blocks.append(("code", code))
        elif not line.strip():
            flush()
        elif line.lstrip().startswith("#"):
            flush()
            blocks.append(("heading", [line.strip()]))
        elif line.lstrip().startswith("|") != bool(current and current[0].startswith("|")):
            flush()  # a table starts or ends without a blank line around it
            current.append(line.strip() if line.lstrip().startswith("|") else line)
        else:
            current.append(line.strip() if line.lstrip().startswith("|") else line)
        i += 1
    flush()
    return blocks


def _piped(row: str) -> str:
    """A table row with its outer pipes ("a | b" -> "| a | b |")."""
    row = row.strip()
    return row if row.startswith("|") else f"| {row.rstrip('|').strip()} |"


def _title_line(heading: str) -> list[str]:
    """A section's heading as a bold line above a list or table quoted without a lead-in
    ("**Temperature ratings**"): items such as "Comfort: 30 F" need it to be understood."""
    text = heading.lstrip("#").strip().replace("*", "")
    return [f"**{text}**"] if text else []


@functools.lru_cache(maxsize=4096)
def passages(body: str) -> tuple[Passage, ...]:
    """The quotable passages of an article body, in order (cached: an article's passages are
    the same for every message it answers).

    A paragraph ending in a colon ("Your order page shows one of these statuses:") opens
    the list or table after it: the two are one passage. Else a list or table is led by its
    section's heading in bold; headings are not quoted otherwise.
    """
    found: list[Passage] = []
    lead_in = ""
    heading = ""
    for kind, lines in _blocks(body):
        if kind == "heading":
            lead_in, heading = "", lines[0]
            continue
        head = [lead_in] if lead_in else []
        if lead_in:
            found.pop()
        lead_in = ""
        if kind != "code" and len(lines) > 1 and "|" in lines[1] and _TABLE_DELIMITER.match(
            lines[1].strip()
        ):
            lines = [_piped(line) for line in lines]  # a table written without outer pipes
        if kind == "code":
            found.append(_passage("code", head, ["\n".join(lines)], heading=heading))
        elif lines[0].startswith("|"):
            rule = 2 if len(lines) > 1 and _TABLE_DELIMITER.match(lines[1]) else 1
            head = head or _title_line(heading)
            found.append(_passage("table", head + lines[:rule], lines[rule:], heading=heading))
        elif any(_LIST_ITEM.match(line.strip()) for line in lines):
            # One item a line: an item's wrapped lines are joined to it.
            intro: list[str] = []
            items: list[str] = []
            for line in lines:
                if _LIST_ITEM.match(line.strip()) and line == line.lstrip():
                    items.append(line.strip())
                elif items:
                    items[-1] += ("\n" + line) if _LIST_ITEM.match(line.strip()) else (
                        " " + line.strip())
                else:
                    intro.append(line.strip())
            if intro:
                head.append(" ".join(intro))
            head = head or _title_line(heading)
            found.append(_passage("list", head, items, heading=heading))
        else:
            paragraph = " ".join(line.strip() for line in lines)
            found.append(_passage("paragraph", [], [paragraph], heading=heading))
            lead_in = paragraph if paragraph.endswith(":") else ""
    return tuple(p for p in found if p.markdown.strip())




# A question's word that is also in the article's title names the article rather than the
# passage ("the Trailblazer tent"): it counts this much, unless the passage's heading has it.
TITLE_WORD_WEIGHT = 0.4
TYPO_WEIGHT = 0.8


def _match(passage: Passage, word: str) -> float:
    """1 for a wanted word (stemmed) in the passage or its heading, ``TYPO_WEIGHT`` for a
    word of five letters or more one typo away from one of its words, else 0."""
    if word in passage.words or word in passage.heading:
        return 1.0
    if len(word) >= 5 and passage.lexicon(word):
        return TYPO_WEIGHT
    return 0.0


# What a question's wording asks for, and how a passage that gives it reads: "how long"
# asks for a duration ("3-5 business days"), "how much" for an amount ("$5.95"). The
# expected answer type of factoid question answering (D. Moldovan et al., "The structure and
# performance of an open-domain question answering system", ACL 2000), by pattern.
_DURATION = re.compile(
    r"\b\d+(?:\s*(?:-|\u2013|to)\s*\d+)?\s*(?:business\s+|working\s+|calendar\s+)?"
    r"(?:minutes?|hours?|days?|nights?|weeks?|months?|years?)\b", re.I)
_AMOUNT = re.compile(
    r"[$€£¥]\s?\d|\b\d+(?:[.,]\d+)?\s?(?:usd|eur|gbp|dollars?|euros?|pounds?)\b|\bfree\b",
    re.I)
_EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_NUMBER = re.compile(r"(?<![\w.])\+?\d[\d ().-]{6,}\d(?![\w.])")
_ASKS = (
    # "how do I contact you by e-mail?", "what's your e-mail address?": an address.
    (re.compile(r"\b(?:by|via|through|over|per)\s+e-?mail\b|\be-?mail\s+address"
                r"|\b(?:write|send|drop)\s+(?:you|us)\s+an?\s+e-?mail\b", re.I), _EMAIL_ADDRESS),
    # "can I call you?", "what's your phone number?": a number to call.
    (re.compile(r"\b(?:by|via|over|on\s+the)\s+(?:phone|telephone)\b"
                r"|\b(?:phone|telephone|contact)\s+number\b|\bcall\s+(?:you|us)\b"
                r"|\bnumber\s+(?:to|i\s+can)\s+call\b", re.I), _PHONE_NUMBER),
    (re.compile(r"\bhow\s+(?:long|soon|quickly|fast|many\s+(?:minutes|hours|days|weeks))\b"
                r"|\b(?:delivery|shipping|processing|transit|turnaround|refund)\s+times?\b"
                r"|\b(?:window|period|deadline|time\s*frame|time\s*limit)\b",
                re.I), _DURATION),
    (re.compile(r"\bhow\s+much\b|\b(?:costs?|prices?|fees?|charges?)\b", re.I), _AMOUNT),
)
# A passage that gives what the question asks for counts this much more, times the share of
# its lines (a list's items, a table's rows) that give it: a table of delivery times answers
# "how long does shipping take?" though it never says "shipping".
ANSWER_TYPE_WEIGHT = 1.0
# A word of the intent's name only ("Shipping and delivery"), not of the question, tells the
# passages apart only where the question's own words do not.
TOPIC_WORD_WEIGHT = 0.1


def asked_for(question: str) -> re.Pattern[str] | None:
    """How an answer to ``question`` reads when its wording asks for an e-mail address ("by
    e-mail", "e-mail address"), a phone number ("by phone", "call you"), a duration ("how
    long", "delivery time") or an amount ("how much", "cost"): a pattern that finds one in a
    passage's text; None for a question that asks for none of these."""
    for asks, answer in _ASKS:
        if asks.search(question):
            return answer
    return None


# Answers one line gives whole (an address, a number): a passage with that line gives it.
_ONE_LINE_ANSWERS = (_EMAIL_ADDRESS, _PHONE_NUMBER)


def _gives(passage: Passage, answer: re.Pattern[str] | None) -> float:
    """The share (0 to 1) of the passage's lines that give what ``answer`` finds; 1 when one
    of them gives an e-mail address or phone number asked for."""
    if answer is None or not passage.parts:
        return 0.0
    if answer in _ONE_LINE_ANSWERS:
        return float(any(answer.search(plain_text(part)) for part in passage.parts))
    return sum(1 for part in passage.parts if answer.search(plain_text(part))) / len(
        passage.parts)


def _matches(found: tuple[Passage, ...], wanted: set[str]) -> list[dict[str, float]]:
    """Each passage's matches of the wanted words (``_match``): word -> 1 or the typo
    weight."""
    return [{w: m for w in wanted if (m := _match(p, w))} for p in found]


def _scores(
    found: tuple[Passage, ...], wanted: set[str], title: frozenset[str] = frozenset(),
    answer: re.Pattern[str] | None = None, topic: frozenset[str] = frozenset(),
) -> list[float]:
    """How well each passage answers: its matches of the wanted words (``_match``), each
    divided by the number of passages it matches (a word all over the article tells them
    apart less), and by ``TITLE_WORD_WEIGHT`` for a word of the article's title that the
    passage's heading does not have, and by ``TOPIC_WORD_WEIGHT`` for a word of the
    ``topic`` only (the intent's name); plus ``ANSWER_TYPE_WEIGHT`` times the share of its
    lines that give what the question asks for (``answer``, from ``asked_for``)."""
    matches = _matches(found, wanted)
    spread: dict[str, int] = {}
    for found_words in matches:
        for word in found_words:
            spread[word] = spread.get(word, 0) + 1
    return [
        sum(
            m / spread[word]
            * (TITLE_WORD_WEIGHT if word in title and word not in passage.heading else 1.0)
            * (TOPIC_WORD_WEIGHT if word in topic else 1.0)
            for word, m in found_words.items()
        ) + ANSWER_TYPE_WEIGHT * _gives(passage, answer)
        for passage, found_words in zip(found, matches, strict=True)
    ]


def _balanced(text: str) -> bool:
    """No code span, emphasis or link left open in ``text`` (a cut must not break them)."""
    return (text.count("`") % 2 == 0 and text.count("**") % 2 == 0
            and text.count("[") == text.count("]") and text.count("(") == text.count(")"))


def _cut_paragraph(markdown: str, budget: int) -> str:
    """The paragraph's first sentences within ``budget`` words, else its first words."""
    kept = ""
    for sentence in _SENTENCE_END.split(markdown):
        candidate = f"{kept} {sentence}".strip()
        if word_count(candidate) > budget:
            break
        kept = candidate
    if kept and _balanced(kept):
        return kept
    words = markdown.split()
    for end in range(min(budget, len(words)), 0, -1):
        candidate = " ".join(words[:end])
        if _balanced(candidate) and word_count(candidate) <= budget:
            return candidate.rstrip(",;:") + "…"
    return ""


def _fit(passage: Passage, budget: int, wanted: set[str]) -> str:
    """The passage within ``budget`` words: whole if it fits; a list cut after its last item
    that fits; a table cut to the rows that match the question (else its first rows), with
    its header; a paragraph to its first sentences."""
    if passage.count <= budget:
        return passage.markdown
    if passage.kind == "paragraph":
        return _cut_paragraph(passage.markdown, budget)
    if passage.kind == "code":
        return ""
    rows = list(passage.parts)
    if passage.kind == "table":
        # The rows that match the question best first, then shown in the table's order.
        scores = [_row_score(row, wanted) for row in rows]
        order = sorted(range(len(rows)), key=lambda i: (-scores[i], i))
        best = scores[order[0]]
        rows = [rows[i] for i in order if scores[i] == best or best == 0]
    kept: list[str] = []
    for row in rows:
        if word_count(_joined(passage.head, [*kept, row])) > budget:
            break
        kept.append(row)
    if not kept:
        return ""
    if passage.kind == "table":
        kept.sort(key=passage.parts.index)
    if passage.kind == "list" and len(kept) < len(passage.parts):
        kept[-1] += " …"
    return _joined(passage.head, kept)


def _row_score(row: str, wanted: set[str]) -> float:
    """A table row's words shared with the question (exact or stemmed)."""
    return float(len(wanted & _words(plain_text(row))))


def best_passages(
    article: ArticleDoc, query: str, limit_words: int = MAX_QUOTE_WORDS, topic: str = ""
) -> str:
    """The one or two passages of the article that best answer ``query``, in article order,
    as Markdown of at most ``limit_words`` words (see ``word_count``). ``topic``, the name of
    the message's intent, only breaks ties between passages (``TOPIC_WORD_WEIGHT``).

    The best passage (``_scores``) is cut to the limit when it is longer; a second one is
    added only when it fits whole in the words left and either has a word of the query (as
    written, not one typo away) that the first lacks, so that it adds to the answer rather
    than repeats a word of it ("what does Delivered mean? I never got my parcel" quotes the
    part on parcels marked delivered, not also the one on damaged parcels, which says
    "delivery" too), or scores as high as the first on the query's own words (the topic broke
    the tie: both are quoted).
    """
    found = passages(article.body)
    if not found:
        return ""
    asked = {_stem(w) for w in tokens(query) if w not in _STOP}
    topic_only = frozenset(_stem(w) for w in tokens(topic) if w not in _STOP) - asked
    wanted = asked | topic_only
    title = _words(article.title)
    answer = asked_for(query)
    scored = sorted(
        ((score, -position, position) for position, score in enumerate(
            _scores(found, wanted, title, answer, topic_only))),
        reverse=True,
    )
    best_score, _, best = scored[0]
    if best_score == 0:
        best = 0
    matches = _matches(found, asked)
    own = _scores(found, asked, title, answer)  # the query's own words, no topic
    chosen = {best: _fit(found[best], limit_words, wanted)}
    covered = set(matches[best])
    used = word_count(chosen[best])
    for score, _, position in scored[1:]:
        if len(chosen) >= MAX_PASSAGES or score == 0:
            break
        # A word it has as written (not one typo away) that the passages chosen lack.
        new = {word for word, m in matches[position].items() if m == 1.0} - covered
        adds = bool(new) or own[position] >= own[best] - 1e-9
        if position not in chosen and adds and used + found[position].count <= limit_words:
            chosen[position] = found[position].markdown
            covered |= set(matches[position])
            used += found[position].count
    return "\n\n".join(chosen[position] for position in sorted(chosen) if chosen[position])


def definitions(article: ArticleDoc, terms: list[str] | tuple[str, ...]) -> str:
    """The lines of ``article`` that define ``terms`` (lower-case, single-spaced, as
    ``retrieval.defined_terms`` gives them), as Markdown: each list or table that defines one
    cut to the items or rows defining them, with its lead-in or header kept ("Your order page
    shows one of these statuses:" and "- **Packing**: ..."); a paragraph that defines one,
    whole. "" when the article defines none of them (the caller quotes ``best_passages``).
    For "what does Packing mean?": the line that answers it, not the whole list."""
    wanted = set(terms)
    quoted: list[str] = []
    for passage in passages(article.body):
        if passage.kind == "code":
            continue
        if passage.kind == "paragraph":
            if wanted & set(defined_terms(passage.markdown)):
                quoted.append(passage.markdown)
            continue
        kept = [part for part in passage.parts if wanted & set(defined_terms(part))]
        if kept:
            quoted.append(_joined(passage.head, kept))
    return "\n\n".join(quoted)


def article_link(article: ArticleDoc) -> str:
    """The Markdown line under a quote: a link to the article's public page."""
    return f"[{LINK_TEXT}]({article_public_url(article.id, article.title)})"


def compose(
    *,
    text: str,
    intent_name: str,
    articles: list[ArticleDoc],
    details: dict[str, Any],
    question: str = "",
    acknowledge: str = "",
    max_chars: int = 1200,
    terms: list[str] | tuple[str, ...] = (),
) -> str:
    """The offline reply: a question for a missing detail, or an answer from the best article.

    The answer is Markdown: an opener naming the article, the quote (``best_passages``) and
    the link to the article's public page. ``acknowledge`` names a detail to confirm at the
    start (the one the customer just gave). ``terms``, the terms a question asks the meaning
    of (``ArticleIndex.defined_in``), quote the lines defining them when the article has them
    (``definitions``), whole when the reply fits in ``max_chars``; otherwise past
    ``max_chars`` the quote loses words.
    """
    if question:
        return question
    if not articles:
        return NO_ARTICLE_REPLY
    best = articles[0]
    opener = ""
    if acknowledge and details.get(acknowledge):
        label = acknowledge.replace("_", " ")
        opener = f"Thanks, I have your {label} {details[acknowledge]}. "
    head = f"{opener}Here's what our help article \"{best.title}\" says:"
    link = article_link(best)
    limit = MAX_QUOTE_WORDS
    defined = definitions(best, terms) if terms else ""
    if defined and len(f"{head}\n\n{defined}\n\n{link}") > max_chars:
        defined = ""  # too long to quote whole: the best passages, cut, as for any question
    while True:
        quote = defined or best_passages(best, text, limit_words=limit, topic=intent_name)
        reply = f"{head}\n\n{quote}\n\n{link}" if quote else f"{head}\n\n{link}"
        if len(reply) <= max_chars or limit <= 10:
            break
        limit = limit * 2 // 3
    if len(reply) > max_chars:
        reply = reply[: max_chars - 1].rsplit(" ", 1)[0] + "…"
    return reply
