"""Offline response composition: the best article's most relevant passages, plus the details.

Everything factual in the reply is copied from the article or from the customer's words, so
the quality check's grounding test holds by construction.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from .retrieval import ArticleDoc, markdown_to_text
from .text import tokens

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
MAX_PASSAGE_CHARS = 520


_LIST_ITEM = re.compile(r"^(?:[-*+]|\d+\.)\s")


def _passages(body: str) -> list[str]:
    """Paragraphs and lists of an article, without headings.

    A paragraph ending in a colon ("Your order page shows one of these statuses:") opens the
    list after it: the two are one passage, so neither is quoted without the other.
    """
    passages: list[str] = []
    lead_in = ""
    for block in re.split(r"\n\s*\n", body):
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        if lines and lines[0].startswith("#"):
            lead_in = ""  # a heading ends whatever a paragraph before it opened
        lines = [line for line in lines if not line.startswith("#")]
        if not lines:
            continue
        if any(_LIST_ITEM.match(line) for line in lines):
            # A list stays whole (steps make no sense one by one), one item a line.
            items: list[str] = [lead_in] if lead_in else []
            if lead_in:
                passages.pop()
            for line in lines:
                if _LIST_ITEM.match(line) or not items:
                    items.append(line)
                else:
                    items[-1] += " " + line
            passages.append("\n".join(items))
            lead_in = ""
        else:
            paragraph = " ".join(lines)
            passages.append(paragraph)
            lead_in = paragraph if paragraph.endswith(":") else ""
    return [markdown_to_text(p).strip() for p in passages if p.strip()]


@functools.lru_cache(maxsize=4096)
def _passage_words(body: str) -> tuple[tuple[str, frozenset[str], frozenset[str]], ...]:
    """The article's passages, each with its words and their five-letter beginnings.

    Cached by body: an article's passages are the same for every message it answers.
    """
    found = []
    for passage in _passages(body):
        words = frozenset(tokens(passage))
        found.append((passage, words, frozenset(w[:5] for w in words if len(w) >= 5)))
    return tuple(found)


def best_passages(article: ArticleDoc, query: str, limit_chars: int = MAX_PASSAGE_CHARS) -> str:
    """The article's passages that share the most words with the query, in article order."""
    wanted = {w for w in tokens(query) if w not in _STOP}
    stems = [w[:5] for w in wanted if len(w) > 4]
    passages = _passage_words(article.body)
    if not passages:
        return ""
    scored = []
    for position, (passage, words, prefixes) in enumerate(passages):
        # A word of five letters or more also counts half when another word starts like it.
        overlap = len(wanted & words) + 0.5 * sum(1 for stem in stems if stem in prefixes)
        scored.append((overlap, -position, position, passage))
    scored.sort(reverse=True)
    chosen: list[tuple[int, str]] = []
    used = 0
    for overlap, _, position, passage in scored:
        if chosen and (overlap == 0 or used + len(passage) > limit_chars):
            continue
        chosen.append((position, passage))
        used += len(passage)
        if used > limit_chars * 0.6:
            break
    if not chosen or (len(chosen) == 1 and scored[0][0] == 0):
        chosen = [(0, passages[0][0])]
    text = "\n".join(passage for _, passage in sorted(chosen))
    # The best passage may run over the limit by half (a list is worth quoting whole); past
    # that it is cut after its last whole line (list item) that fits, else its last word.
    limit = max(limit_chars, min(len(chosen[0][1]), limit_chars * 3 // 2))
    if len(text) <= limit:
        return text
    cut = text[:limit]
    head = cut.rsplit("\n", 1)[0] if "\n" in cut[limit // 2 :] else cut.rsplit(" ", 1)[0]
    return head + "…"


def compose(
    *,
    text: str,
    intent_name: str,
    articles: list[ArticleDoc],
    details: dict[str, Any],
    question: str = "",
    acknowledge: str = "",
    max_chars: int = 1200,
) -> str:
    """The offline reply: a question for a missing detail, or an answer from the best article.

    ``acknowledge`` names a detail to confirm at the start (the one the customer just gave).
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
    passage = best_passages(best, f"{text} {intent_name}")
    reply = (
        f"{opener}Here's what our help article \"{best.title}\" says:\n{passage}\n\n"
        "Does that answer your question? If not, I can connect you with a member of our team."
    )
    if len(reply) > max_chars:
        reply = reply[: max_chars - 1].rsplit(" ", 1)[0] + "…"
    return reply
