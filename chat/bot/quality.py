"""The quality check of a reply before it is sent: non-empty, within length, grounded, no leak.

Grounded means every amount, date, URL, e-mail address and phone number in the reply also
appears in the retrieved articles or in the customer's own messages.

Replies are Markdown. A URL is read whole, underscores included, whether bare, in
``[text](url)`` or in ``<url>``, with Markdown's escapes (a backslash before ``_``) and the
emphasis around it (``**url**``) left out; a link to a page of this site
(``/help/articles/...``) states no fact. Code spans and table cells are read as the text they show.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from .entities import DATE_RE, EMAIL_RE, MONEY_RE
from .text import tokens

URL_RE = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.I)
NUMERIC_DATE_RE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b")
PHONE_RE = re.compile(r"(?=[+\d])(?<![\w-])\+?\d[\d\s().-]{5,}\d(?![\w-])")
SAFE_REPLY = (
    "I'm sorry, I can't give you a reliable answer to that right now. Would you like me to "
    "connect you with a member of our team?"
)
LEAK_SHINGLE = 7
_MAYBE_FACT = re.compile(r"\d|@|https?://|www\.", re.I)
_SITE_LINK_TARGET = re.compile(r"\]\(/(?!/)[^)\s]*\)")
_MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~])")


@dataclass
class QualityReport:
    ok: bool
    problems: list[str] = field(default_factory=list)
    ungrounded: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "ungrounded": self.ungrounded}


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _strip_url(url: str) -> str:
    """A URL as stated: lower-cased, without Markdown escapes, emphasis or closing
    punctuation around it."""
    return _MARKDOWN_ESCAPE.sub(r"\1", url).rstrip(".,;:!?*_~").lower()


def _cut(pattern: re.Pattern, text: str) -> tuple[list[re.Match], str]:
    """(the matches of ``pattern`` in ``text``, ``text`` with each replaced by a space).

    The same as ``finditer`` then ``pattern.sub(" ", text)``, from one scan instead of two.
    """
    matches = list(pattern.finditer(text))
    if not matches:
        return matches, text
    parts, last = [], 0
    for match in matches:
        parts += (text[last : match.start()], " ")
        last = match.end()
    parts.append(text[last:])
    return matches, "".join(parts)


def _facts(text: str) -> list[tuple[str, str]]:
    """(kind, value) of the checkable facts in ``text``."""
    found: list[tuple[str, str]] = []
    if not _MAYBE_FACT.search(text):
        return found  # every fact below needs a digit, an "@" or a URL's beginning
    text = _SITE_LINK_TARGET.sub("]", text)
    urls, without_urls = _cut(URL_RE, text)
    found += [("url", _strip_url(url.group(0))) for url in urls]
    emails, plain = _cut(EMAIL_RE, without_urls)
    found += [("email", email.group(0).lower()) for email in emails]
    amounts, plain = _cut(MONEY_RE, plain)
    for match in amounts:
        amount = match.group("a1") or match.group("a2") or match.group("a3")
        found.append(("amount", amount.replace(",", "")))
    dates, without_dates = _cut(DATE_RE, plain)
    for match in dates:
        # Calendar dates only: "today" or "3 days ago" state no fact that could be invented.
        if match.group("md_month") or match.group("dm_month") or match.group("iso"):
            found.append(("date", " ".join(match.group(0).lower().split())))
    for match in NUMERIC_DATE_RE.findall(plain):
        found.append(("date", match))
    plain = NUMERIC_DATE_RE.sub(" ", without_dates)
    for match in PHONE_RE.finditer(plain):
        digits = _digits(match.group(0))
        if len(digits) >= 7:
            found.append(("phone", digits))
    return found


def _grounded(kind: str, value: str, sources_lower: str, sources_digits: str,
              source_amounts: set[str]) -> bool:
    if kind == "phone":
        return value in sources_digits
    if kind == "amount":
        return value in source_amounts or value in sources_lower
    return value in sources_lower


def _shingles(text: str, size: int) -> set[tuple[str, ...]]:
    words = tokens(text)
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


@functools.lru_cache(maxsize=64)
def _prompt_shingles(prompt: str) -> frozenset[tuple[str, ...]]:
    """A system prompt's shingles: the same few prompts are checked against every reply."""
    return frozenset(_shingles(prompt, LEAK_SHINGLE))


@functools.lru_cache(maxsize=1024)
def _source_facts(text: str) -> tuple[str, str, frozenset[str]]:
    """(the text lower-cased with its whitespace collapsed, its digits, its amounts).

    Read once per distinct text: the same few articles (and a conversation's earlier
    messages) are the sources of turn after turn. An amount is found within one text.
    """
    amounts = frozenset(
        (m.group("a1") or m.group("a2") or m.group("a3")).replace(",", "")
        for m in MONEY_RE.finditer(text)
    )
    lower = " ".join(_MARKDOWN_ESCAPE.sub(r"\1", text).lower().split())
    return lower, _digits(text), amounts


@functools.lru_cache(maxsize=1024)
def _reply_reading(reply: str) -> tuple[tuple[tuple[str, str], ...], frozenset[tuple[str, ...]]]:
    """(the checkable facts of a reply, its shingles). Read once per distinct reply: answers
    composed from the knowledge base repeat from turn to turn (one article, one answer)."""
    return tuple(_facts(reply)), frozenset(_shingles(reply, LEAK_SHINGLE))


def check(
    reply: str,
    *,
    sources: list[str],
    customer_texts: list[str],
    max_chars: int,
    system_prompts: list[str] = (),
) -> QualityReport:
    problems: list[str] = []
    ungrounded: list[str] = []
    if not reply.strip():
        problems.append("empty")
    if len(reply) > max_chars:
        problems.append(f"too long ({len(reply)} > {max_chars} characters)")
    facts, reply_shingles = _reply_reading(reply)
    if facts:  # the sources are read only when the reply states something to look up
        read = [_source_facts(text) for text in (*sources, *customer_texts)]
        sources_lower = " ".join(lower for lower, _, _ in read if lower)
        sources_digits = "".join(digits for _, digits, _ in read)
        source_amounts = set().union(*(amounts for _, _, amounts in read))
        for kind, value in facts:
            if not _grounded(kind, value, sources_lower, sources_digits, source_amounts):
                ungrounded.append(f"{kind}: {value}")
    if ungrounded:
        problems.append("ungrounded facts")
    for prompt in system_prompts:
        if not reply_shingles.isdisjoint(_prompt_shingles(prompt)):
            problems.append("contains system prompt text")
            break
    return QualityReport(ok=not problems, problems=problems, ungrounded=ungrounded)
