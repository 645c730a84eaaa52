"""Entity extraction with fast rules: order numbers, money, dates, e-mail addresses, products.

Relative dates are resolved against ``today`` by our own rules (dateparser is accurate but
takes milliseconds per call, more than the whole decision may spend).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from .text import tokens

EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}
_CURRENCY_WORDS = {
    "usd": "USD", "dollar": "USD", "dollars": "USD", "bucks": "USD",
    "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "gbp": "GBP", "pound": "GBP", "pounds": "GBP",
    "cad": "CAD", "aud": "AUD", "chf": "CHF",
}
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"
# Each pattern below starts by checking the character a match can begin with, so that the
# scan skips most positions at once instead of trying every alternative there.
MONEY_RE = re.compile(
    r"(?=[$€£\dugcae])"  # a currency sign, a digit, or the first letter of a currency code
    rf"(?:(?P<sym>[$€£])\s?(?P<a1>{_NUMBER})"
    rf"|(?P<code>\b(?:usd|eur|gbp|cad|aud|chf))\s?(?P<a2>{_NUMBER})\b"
    rf"|(?<![\w.#-])(?P<a3>{_NUMBER})\s?(?P<word>usd|eur|gbp|cad|aud|chf|dollars?|euros?|"
    rf"pounds?|bucks)\b)",
    re.I,
)
# 12345, #88213, A-55102, order 4092; never part of a money amount, date or phone number.
ORDER_RE = re.compile(
    r"(?<![\w$€£.,/:+-])(?:#\s?(?P<hash>\d{3,20})|(?P<prefixed>[A-Z]{1,3}-\d{4,12})|"
    r"(?P<plain>\d{5,20}))(?![\w/:]|[.,]\d|\s?(?:usd|eur|gbp|dollars?|euros?|pounds?)\b)",
    re.I,
)
_ORDER_WORD_RE = re.compile(
    r"\b(?:order|purchase|order number|order no\.?|order #)\s*(?:is|was|number)?\s*:?\s*"
    r"(?P<num>\d{3,4})\b",
    re.I,
)
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december"]
_MONTH_RE = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|" \
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
                 "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "couple of": 2,
                 "few": 3, "a few": 3, "a couple of": 2}
DATE_RE = re.compile(
    r"\b(?=\w)(?:"  # every alternative starts a word
    r"(?P<simple>today|yesterday|tomorrow|day before yesterday)\b"
    r"|(?P<qual>last|this|next|past)\s+(?P<unit>monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday|week|weekend|month|year)\b"
    r"|(?P<n>\d{1,3}|a couple of|a few|couple of|few|one|two|three|four|five|six|seven|"
    r"eight|nine|ten|an?)\s+(?P<ago_unit>day|days|week|weeks|month|months|year|years)\s+ago\b"
    rf"|(?P<md_month>{_MONTH_RE})\.?\s+(?P<md_day>\d{{1,2}})(?:st|nd|rd|th)?"
    r"(?:,?\s+(?P<md_year>\d{4}))?\b"
    rf"|(?P<dm_day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<dm_month>{_MONTH_RE})\b"
    r"(?:,?\s+(?P<dm_year>\d{4}))?"
    r"|(?P<iso>\d{4}-\d{2}-\d{2})\b"
    r"|on\s+(?P<on_day>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
    r"|(?:on\s+)?the\s+(?P<nth>\d{1,2})(?:st|nd|rd|th)\b)",
    re.I,
)


def _month_number(name: str) -> int:
    name = name.lower()[:3]
    return next(i for i, month in enumerate(_MONTHS, 1) if month.startswith(name))


def _past(day: dt.date, today: dt.date) -> dt.date:
    """A date without a year is the most recent such date (customers talk about the past)."""
    return day if day <= today + dt.timedelta(days=1) else day.replace(year=day.year - 1)


def _resolve(match: re.Match[str], today: dt.date) -> dt.date | None:
    group = match.groupdict()
    if group["simple"]:
        word = group["simple"].lower()
        offset = {"today": 0, "yesterday": -1, "tomorrow": 1, "day before yesterday": -2}[word]
        return today + dt.timedelta(days=offset)
    if group["qual"]:
        qual, unit = group["qual"].lower(), group["unit"].lower()
        if unit in _WEEKDAYS:
            target = _WEEKDAYS.index(unit)
            if qual in {"last", "past"}:
                delta = (today.weekday() - target) % 7 or 7
                return today - dt.timedelta(days=delta)
            if qual == "next":
                delta = (target - today.weekday()) % 7 or 7
                return today + dt.timedelta(days=delta)
            return today + dt.timedelta(days=target - today.weekday())
        step = {"week": 7, "weekend": 7, "month": 30, "year": 365}[unit]
        sign = {"last": -1, "past": -1, "this": 0, "next": 1}[qual]
        return today + dt.timedelta(days=sign * step)
    if group["n"]:
        raw = group["n"].lower()
        count = int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw, 1)
        unit = group["ago_unit"].lower().rstrip("s")
        days = {"day": 1, "week": 7, "month": 30, "year": 365}[unit] * count
        return today - dt.timedelta(days=days)
    try:
        if group["md_month"]:
            year = int(group["md_year"]) if group["md_year"] else today.year
            day = dt.date(year, _month_number(group["md_month"]), int(group["md_day"]))
            return day if group["md_year"] else _past(day, today)
        if group["dm_month"]:
            year = int(group["dm_year"]) if group["dm_year"] else today.year
            day = dt.date(year, _month_number(group["dm_month"]), int(group["dm_day"]))
            return day if group["dm_year"] else _past(day, today)
        if group["iso"]:
            return dt.date.fromisoformat(group["iso"])
        if group["nth"]:
            day = today.replace(day=int(group["nth"]))
            if day > today:
                previous = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
                day = previous.replace(day=int(group["nth"]))
            return day
    except ValueError:
        return None
    if group["on_day"]:
        target = _WEEKDAYS.index(group["on_day"].lower())
        delta = (today.weekday() - target) % 7 or 7
        return today - dt.timedelta(days=delta)
    return None


def product_names_from_titles(titles: list[str]) -> list[str]:
    """Product names in article titles: runs of two or more capitalised words or model numbers.

    "Trailblazer 3 Tent: specs, setup and care" gives "Trailblazer 3 Tent".
    """
    names: list[str] = []
    for title in titles:
        run: list[str] = []
        for word in [*re.split(r"[\s:,;()]+", title), ""]:
            if word and (word[0].isupper() or any(ch.isdigit() for ch in word)) and (
                run or word[0].isupper()
            ):
                run.append(word)
                continue
            if len(run) >= 2 and run[0].lower() not in {"how", "why", "what", "our", "the"}:
                names.append(" ".join(run))
            run = []
    return list(dict.fromkeys(names))


class ProductMatcher:
    """Finds known product names in a message, also by their first two words ("Alpine GTX")."""

    def __init__(self, names: list[str]) -> None:
        self.patterns: list[tuple[str, re.Pattern[str]]] = []
        for name in names:
            words = tokens(name)
            variants = {" ".join(words)}
            if words and words[0] == "acme" and len(words) > 2:
                variants.add(" ".join(words[1:]))
            elif len(words) > 2:
                variants.add(" ".join(words[:2]))
            alternatives = "|".join(
                r"\W+".join(re.escape(word) for word in variant.split())
                for variant in sorted(variants, key=len, reverse=True)
            )
            self.patterns.append((name, re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.I)))

    def find(self, text: str) -> list[str]:
        return [name for name, pattern in self.patterns if pattern.search(text)]


def extract(
    text: str, *, products: ProductMatcher | None = None, today: dt.date | None = None
) -> dict[str, Any]:
    """The entities of one message. Keys appear only when something was found."""
    today = today or dt.date.today()
    found: dict[str, Any] = {}
    emails = EMAIL_RE.findall(text)
    without_emails = EMAIL_RE.sub(" ", text)

    money = []
    for match in MONEY_RE.finditer(without_emails):
        amount = match.group("a1") or match.group("a2") or match.group("a3")
        if match.group("sym"):
            currency = _CURRENCY_SYMBOLS[match.group("sym")]
        elif match.group("code"):
            currency = match.group("code").upper()
        else:
            currency = _CURRENCY_WORDS[match.group("word").lower()]
        money.append({"text": match.group(0), "amount": amount.replace(",", ""),
                      "currency": currency})
    without_money = MONEY_RE.sub(" ", without_emails)

    dates = []
    for match in DATE_RE.finditer(without_money):
        resolved = _resolve(match, today)
        if resolved is not None:
            dates.append({"text": match.group(0).strip(), "date": resolved.isoformat()})
    without_dates = DATE_RE.sub(" ", without_money)

    orders = []
    for match in ORDER_RE.finditer(without_dates):
        value = match.group("hash") or match.group("prefixed") or match.group("plain")
        orders.append(value.upper())
    for match in _ORDER_WORD_RE.finditer(without_dates):
        orders.append(match.group("num"))
    if orders:
        found["order_number"] = next(iter(dict.fromkeys(orders)))
        found["order_numbers"] = list(dict.fromkeys(orders))
    if money:
        found["money"] = money
    if dates:
        found["dates"] = dates
    if emails:
        found["email"] = emails[0]
        found["emails"] = emails
    if products is not None:
        names = products.find(text)
        if names:
            found["products"] = names
    return found
