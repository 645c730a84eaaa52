"""The quality check of a reply before it is sent: non-empty, within length, grounded, no leak.

Grounded means every amount, date, URL, e-mail address and phone number in the reply also
appears in the retrieved articles or in the customer's own messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .entities import DATE_RE, EMAIL_RE, MONEY_RE
from .text import tokens

URL_RE = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.I)
NUMERIC_DATE_RE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b")
PHONE_RE = re.compile(r"(?<![\w-])\+?\d[\d\s().-]{5,}\d(?![\w-])")
SAFE_REPLY = (
    "I'm sorry, I can't give you a reliable answer to that right now. Would you like me to "
    "connect you with a member of our team?"
)
LEAK_SHINGLE = 7
_MAYBE_FACT = re.compile(r"\d|@|https?://|www\.", re.I)


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
    return url.rstrip(".,;:!?").lower()


def _facts(text: str) -> list[tuple[str, str]]:
    """(kind, value) of the checkable facts in ``text``."""
    found: list[tuple[str, str]] = []
    if not _MAYBE_FACT.search(text):
        return found  # every fact below needs a digit, an "@" or a URL's beginning
    for url in URL_RE.findall(text):
        found.append(("url", _strip_url(url)))
    without_urls = URL_RE.sub(" ", text)
    for email in EMAIL_RE.findall(without_urls):
        found.append(("email", email.lower()))
    plain = EMAIL_RE.sub(" ", without_urls)
    for match in MONEY_RE.finditer(plain):
        amount = match.group("a1") or match.group("a2") or match.group("a3")
        found.append(("amount", amount.replace(",", "")))
    plain = MONEY_RE.sub(" ", plain)
    for match in DATE_RE.finditer(plain):
        # Calendar dates only: "today" or "3 days ago" state no fact that could be invented.
        if match.group("md_month") or match.group("dm_month") or match.group("iso"):
            found.append(("date", " ".join(match.group(0).lower().split())))
    for match in NUMERIC_DATE_RE.findall(plain):
        found.append(("date", match))
    plain = NUMERIC_DATE_RE.sub(" ", DATE_RE.sub(" ", plain))
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
    facts = _facts(reply)
    if facts:  # the sources are read only when the reply states something to look up
        everything = "\n".join([*sources, *customer_texts])
        sources_lower = " ".join(everything.lower().split())
        source_amounts = {
            (m.group("a1") or m.group("a2") or m.group("a3")).replace(",", "")
            for m in MONEY_RE.finditer(everything)
        }
        sources_digits = _digits(everything)
        for kind, value in facts:
            if not _grounded(kind, value, sources_lower, sources_digits, source_amounts):
                ungrounded.append(f"{kind}: {value}")
    if ungrounded:
        problems.append("ungrounded facts")
    reply_shingles = _shingles(reply, LEAK_SHINGLE)
    for prompt in system_prompts:
        if reply_shingles & _shingles(prompt, LEAK_SHINGLE):
            problems.append("contains system prompt text")
            break
    return QualityReport(ok=not problems, problems=problems, ungrounded=ungrounded)
