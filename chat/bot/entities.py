"""Entity extraction with fast rules: order numbers, money, dates, e-mail addresses, products.

Relative dates are resolved against ``today`` by our own rules (dateparser is accurate but
takes milliseconds per call, more than the whole decision may spend).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .text import tokens

EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# An e-mail address spelt out ("sam at example dot com", "jo.b at mail dot co dot uk"): taken
# only when the dialog awaits an e-mail address.
SPOKEN_EMAIL_RE = re.compile(
    r"(?<![\w.+-])(?P<user>[\w+-]+(?:(?:\.|\s+dot\s+)[\w+-]+)*)\s+(?:at|\(at\)|\[at\])\s+"
    r"(?P<domain>[\w-]+(?:(?:\s*\.\s*|\s+dot\s+|\s*\(dot\)\s*|\s*\[dot\]\s*)[\w-]+)+)\b",
    re.I,
)
_SPOKEN_DOT_RE = re.compile(r"\s*\.\s*|\s+dot\s+|\s*\(dot\)\s*|\s*\[dot\]\s*", re.I)
_CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "￥": "JPY", "₹": "INR",
                     "円": "JPY", "元": "CNY",
                     "us$": "USD", "c$": "CAD", "ca$": "CAD", "a$": "AUD", "au$": "AUD",
                     "nz$": "NZD", "hk$": "HKD", "s$": "SGD"}
_CURRENCY_WORDS = {
    "usd": "USD", "dollar": "USD", "dollars": "USD", "bucks": "USD",
    "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "quid": "GBP",
    "jpy": "JPY", "yen": "JPY",
    "cny": "CNY", "rmb": "CNY", "yuan": "CNY", "renminbi": "CNY",
    "cad": "CAD", "aud": "AUD", "nzd": "NZD", "chf": "CHF", "inr": "INR", "rupees": "INR",
    "sek": "SEK", "nok": "NOK", "dkk": "DKK", "mxn": "MXN", "hkd": "HKD", "sgd": "SGD",
}
_CODES = r"usd|eur|gbp|jpy|cny|rmb|cad|aud|nzd|chf|inr|sek|nok|dkk|mxn|hkd|sgd"
_WORDS = r"dollars?|bucks|euros?|pounds?|quid|yen|yuan|renminbi|rupees"
_SYMBOLS = r"(?<![\w$])(?:us|ca?|au?|nz|hk|s)\$|(?<!\$)[$€£¥￥₹]"
# 1,299.99 / 1.299,99 / 1 299,99 / 14.95 / 14,95 / 3000: thousands groups, then 1-2 decimals.
_NUMBER = (r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?"
           r"|\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?")
# Each pattern below starts by checking the character a match can begin with, so that the
# scan skips most positions at once instead of trying every alternative there.
MONEY_RE = re.compile(
    r"(?=[$€£¥￥₹\dugcaejrnsidmhk])"  # a sign, a digit, or the first letter of a currency code
    rf"(?:(?P<sym>{_SYMBOLS})\s?(?P<a1>{_NUMBER})(?![\d])"
    rf"|(?P<code>\b(?:{_CODES}))\s?(?P<a2>{_NUMBER})\b"
    rf"|(?<![\d.#,-])(?P<a3>{_NUMBER})\s?(?:(?P<word>{_CODES}|{_WORDS})\b|(?P<sym2>[$€£¥￥₹円元])))",
    re.I,
)
# Phone numbers: with a country code, with parentheses, in the usual groupings, or any run of
# 7-15 digits after a phone cue ("call me on", "my number is", "text me at").
_PHONE_CUE = (r"\b(?:call(?:\s+me)?(?:\s+back)?|callback|ring|phone|telephone|tel|mobile|"
              r"cell(?:phone)?|text(?:\s+me)?|sms|whats\s?app|fax|reach\s+me|"
              r"contact\s+(?:me|number|no)|my\s+number|number\s+to\s+call)\b")
_PHONE_DIGITS = r"\+?\(?\d[\d\s().-]{5,22}\d"
PHONE_RE = re.compile(
    r"(?=[+(\dcrptmsfwn])"  # a sign, a digit or the first letter of a cue: skips most positions
    rf"(?:(?P<cued>{_PHONE_CUE}(?:(?!order|purchase)[^\d+#]){{0,30}}?)"
    rf"(?P<after_cue>{_PHONE_DIGITS})"
    r"|(?P<plus>(?<![\w+])\+\d{1,3}[\s.-]?\(?\d{1,5}\)?(?:[\s.-]?\d{2,5}){1,4})(?!\w)"
    r"|(?P<paren>(?<!\w)\(\d{2,5}\)\s?\d{3,4}[\s.-]?\d{3,5})(?!\w)"
    r"|(?P<grouped>(?<![\w.-])(?:1[\s.-])?\d{3}[\s.-]\d{3,4}[\s.-]\d{4}"
    r"|(?<![\w.-])\d{3}-\d{4}|(?<![\w.])0\d{2,4}\s\d{3,4}\s?\d{3,4})(?![\w-])"
    r"|(?P<trailing>(?<![\w.-])\d[\d\s().-]{5,18}\d)(?=\s+(?:is|was)\s+(?:my|the)\s+"
    r"(?:(?:phone|mobile|cell|telephone|contact)\s+)?number\b))",
    re.I,
)
# Postal codes: a US ZIP or any code after a cue, and the UK's and Canada's own formats.
POSTAL_RE = re.compile(
    r"(?=[zZpP\dA-Z])"
    r"(?:(?i:\b(?:zip(?:\s*code)?|postal\s*code|post\s*code|postcode)\s*(?:is|:)?\s*"
    r"(?P<cued>[a-z]{0,2}\d[\da-z]{1,4}(?:[\s-]\d[\da-z]{2,3})?)\b)"
    r"|(?P<uk>\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b)"
    r"|(?P<ca>\b[A-Z]\d[A-Z]\s?\d[A-Z]\d\b)"
    r"|(?P<before>(?<![\w#-])\d{5}(?:-\d{4})?)(?=\s+(?i:is\s+)?(?i:my|the|our)\s+"
    r"(?i:zip|post\s*code|postcode|postal)))"
)
# Years after a preposition ("in 2024", "since 2019") and counted things ("2 pairs", up to
# 9,999: a number of five digits or more before "box" is more likely an order number).
YEAR_RE = re.compile(r"(?<![\w#.,-])(?:19|20)\d{2}\b")
# What comes right before a year: checked only where a year-like number stands.
_BEFORE_YEAR_RE = re.compile(
    r"\b(?:(?:in|since|from|during|until|till|by|of|year|before|after|around|circa)\s+"
    r"(?:the\s+year\s+|early\s+|late\s+|mid-?\s*)?"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+)\Z",
    re.I,
)
QUANTITY_RE = re.compile(
    r"(?=[qQ\d])(?:\b(?:qty|quantity)\s*:?\s*\d+"
    r"|(?<![\w#-])(?:\d{1,3}(?:,\d{3})+|\d{1,4})(?:\.\d+)?(?!\d)[ \t]*"
    r"(?:x\b|%|(?:pairs?|units?|items?|pieces?|pcs|boxes|box|packs?|packages?|parcels?|sets?|"
    r"bottles?|cans|copies|tickets?|bags?|rolls?|sheets?|"
    r"people|persons?|times|seconds?|minutes?|mins?|hours?|hrs?|days?|nights?|weeks?|"
    r"months?|years?|kg|kgs|g|grams?|lbs?|pounds?\s+of|oz|km|miles?|m|cm|mm|inch(?:es)?|"
    r"ml|l|litres?|liters?|gb|mb|tb|percent|points?|stars?)\b))",
    re.I,
)
# Order numbers need a cue: the word order (or purchase) before them, "#", a known format
# (letters-dash-digits, "A-55102"), or a dialog that awaits an order number.
_ORDER_VALUE = r"[A-Z]{1,3}-?\d{3,20}|\d{3,20}"
_ORDER_END = r"(?![\w/:]|[.,]\d|-\d)"
ORDER_CUE_RE = re.compile(
    r"(?=[opsunt#\d]|[a-z]{1,3}-?\d)"  # skips most positions at once
    r"(?:(?<!\bto )(?<!'d )(?<!'ll )(?<!\bwill )"  # "I want to order 300 pens": a verb
    r"\b(?:order|purchase)s?(?:\b|(?=\d))"
    r"(?:\s*(?:status|tracking|update)\b){0,2}"  # "order status 10023 sam@example.com"
    r"(?:\s*(?:number|no\b\.?|nr\b\.?|num\b\.?|#|id|ref(?:erence)?|code|confirmation))?"
    r"(?:\s*(?:is|was|=|:|-|,|['\u2019]s))?\s*(?:#\s*)?"
    rf"(?P<num>{_ORDER_VALUE}){_ORDER_END}"
    r"|(?<![\w#-])(?P<before>" + _ORDER_VALUE + r")(?=\s+(?:is|was)\s+(?:my|the|our)\s+"
    r"(?:order|purchase)\b)"
    # "the status of 10025", "any update on #10025": a number of four digits or more.
    r"|\b(?:status|update|news|tracking)(?:\s+update)?\s+(?:of|for|on|about)\s+"
    r"(?:(?:my|the|our)\s+)?"
    rf"(?:#\s*)?(?P<status>[A-Z]{{1,3}}-?\d{{3,20}}|\d{{4,20}}){_ORDER_END}"
    r"(?!\s+(?:orders|purchases|items|parcels|packages|returns)\b)"  # "of 2024 orders"
    rf"|(?<![\w&])#\s?(?P<hash>{_ORDER_VALUE}){_ORDER_END})",
    re.I,
)
# A misspelt cue ("ordr 55102", "puchase 00123842"): a word one typo away from "order" or
# "purchase" right before a number of five digits or more.
_CUE_WORD_RE = re.compile(
    r"(?=[a-z])\b(?P<word>[a-z]{3,9})\s*(?:number|no\b\.?|#|id)?\s*[:#-]?\s*"
    rf"(?P<num>\d{{5,20}}){_ORDER_END}",
    re.I,
)


# Words one typo away from a cue that are words of their own.
_REAL_WORDS = frozenset({"border", "older", "odder", "ordered", "purchased", "purchaser",
                         "corder", "orderly"})


def _one_typo(word: str, target: str) -> bool:
    """Whether ``word`` is ``target`` with one letter added, dropped, changed or swapped."""
    if word == target or abs(len(word) - len(target)) > 1:
        return False
    if len(word) == len(target):
        diffs = [i for i, (a, b) in enumerate(zip(word, target, strict=True)) if a != b]
        return len(diffs) == 1 or (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1
            and word[diffs[0]] == target[diffs[1]] and word[diffs[1]] == target[diffs[0]]
        )
    short, long = sorted((word, target), key=len)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


# More order numbers after the first, "orders 55102, 55103 and #55104": after a comma, "and",
# "&", "or", "/", or a space alone before a number of four digits or more ("orders 10001 10007").
ORDER_MORE_RE = re.compile(
    rf"(?:\s*(?:,|and|&|or|/)\s*|\s+(?=(?:[A-Z]{{1,3}}-?)?\d{{4}}))(?:#\s*)?"
    rf"(?P<more>{_ORDER_VALUE}){_ORDER_END}", re.I
)
ORDER_FORMAT_RE = re.compile(
    rf"(?<![\w$€£¥.,/:+#-])(?P<prefixed>[A-Z]{{1,3}}-\d{{4,12}}){_ORDER_END}", re.I
)
# Awaited: a bare number of 4-20 digits on its own is the order number asked for.
ORDER_BARE_RE = re.compile(
    rf"(?<![\w$€£¥.,/:+#-])(?P<bare>[A-Z]{{0,3}}-?\d{{4,20}}){_ORDER_END}", re.I
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
    r"(?P<simple>today|yesterday|tomorrow|day before yesterday|tonight|earlier today|"
    r"this (?:morning|afternoon|evening)|last night)\b"
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
        offset = {"yesterday": -1, "tomorrow": 1, "day before yesterday": -2,
                  "last night": -1}.get(" ".join(word.split()), 0)
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


def local_date(moment: dt.datetime, zone: str, *, fallback: str = "UTC") -> dt.date:
    """The calendar date of ``moment`` in the IANA ``zone`` ("America/New_York").

    An empty or unknown zone means ``fallback``; a naive ``moment`` is taken as UTC.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    for name in (zone, fallback):
        if name:
            try:
                return moment.astimezone(ZoneInfo(name)).date()
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return moment.astimezone(dt.UTC).date()


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _phones(text: str) -> list[tuple[int, int, str]]:
    """(start, end, the number as written) of each phone number: 7 to 15 digits."""
    found = []
    for match in PHONE_RE.finditer(text):
        name = next(n for n in ("after_cue", "plus", "paren", "grouped", "trailing")
                    if match.group(n))
        number = match.group(name).strip()
        if 7 <= len(_digits(number)) <= 15:
            found.append((match.start(name), match.end(name), number))
    return found


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span replaced by spaces (positions keep their meaning)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _amount(raw: str) -> str:
    """"1,299.99", "1.299,99", "1 299" and "14,95" as "1299.99", "1299.99", "1299", "14.95"."""
    raw = re.sub(r"[\s\u00a0\u202f]", "", raw)
    last = max(raw.rfind("."), raw.rfind(","))
    if last == -1:
        return raw
    if len(raw) - last - 1 == 3:  # a thousands separator: 1,200 or 1.299
        return raw.replace(",", "").replace(".", "")
    return raw[:last].replace(",", "").replace(".", "") + "." + raw[last + 1:]


def _currency(match: re.Match[str]) -> str:
    symbol = match.group("sym") or match.group("sym2")
    if symbol:
        return _CURRENCY_SYMBOLS[symbol.lower()]
    if match.group("code"):
        return _CURRENCY_WORDS[match.group("code").lower()]
    return _CURRENCY_WORDS[match.group("word").lower()]


def order_number_plausible(value: str, *, text: str, found: dict[str, Any]) -> bool:
    """Whether ``value`` (say, Claude's order number) stands in ``text`` and is none of the
    phone numbers, postal codes or amounts already ``found`` in it."""
    digits = _digits(value)
    if not digits or value.strip().lstrip("#").strip().lower() not in text.lower():
        return False
    taken = [*found.get("phones", ()), *found.get("postal_codes", ()),
             *(m["text"] for m in found.get("money", ()))]
    return not any(digits in _digits(other) for other in taken)


_DIGIT_RE = re.compile(r"\d")


def _spaces(match: re.Match[str]) -> str:
    return " " * len(match.group(0))


def _numbers_set_aside(text: str) -> tuple[list[tuple[int, int, str]], list[str], str]:
    """(phone numbers, postal codes, ``text`` with those, years and quantities blanked)."""
    phones = _phones(text)
    if phones:
        text = _blank(text, [(start, end) for start, end, _ in phones])
    postal = [m.group("cued") or m.group("uk") or m.group("ca") or m.group("before")
              for m in POSTAL_RE.finditer(text)]
    if postal:
        text = POSTAL_RE.sub(_spaces, text)
    years = [(m.start(), m.end()) for m in YEAR_RE.finditer(text)
             if _BEFORE_YEAR_RE.search(text, max(0, m.start() - 24), m.start())]
    if years:
        text = _blank(text, years)
    return phones, postal, QUANTITY_RE.sub(_spaces, text)


def spoken_email(text: str) -> tuple[str, tuple[int, int]] | None:
    """The e-mail address spelt out in ``text`` ("sam at example dot com" gives
    "sam@example.com") and where it stands, or None. The domain needs a dot ("at home" is no
    address) and its last part two letters at least."""
    for match in SPOKEN_EMAIL_RE.finditer(text):
        user = _SPOKEN_DOT_RE.sub(".", match.group("user"))
        parts = _SPOKEN_DOT_RE.split(match.group("domain"))
        if user.split(".")[0].lower() in _NOT_A_USER or not re.fullmatch(
            r"[a-z]{2,24}", parts[-1], re.I
        ):
            continue
        address = f"{user}@{'.'.join(parts)}"
        if EMAIL_RE.fullmatch(address):
            return address, match.span()
    return None


# Words before " at " that are no e-mail address's first part ("i am at home dot com" aside).
_NOT_A_USER = frozenset({"is", "am", "are", "was", "were", "be", "been", "me", "you", "we",
                         "us", "them", "him", "her", "it", "look", "arrive", "arrived",
                         "ordered", "bought", "purchased", "shopped", "paid", "live", "work"})


def _order_numbers(text: str, *, awaiting: str) -> list[tuple[int, str]]:
    """(position, value) of each order number in ``text`` (numbers of other kinds blanked)."""
    orders: list[tuple[int, str]] = []
    for match in ORDER_CUE_RE.finditer(text):
        name = next(n for n in ("num", "before", "status", "hash") if match.group(n))
        orders.append((match.start(name), match.group(name)))
        more = ORDER_MORE_RE.match(text, match.end())
        while more:
            orders.append((more.start("more"), more.group("more")))
            more = ORDER_MORE_RE.match(text, more.end())
    if not orders:
        for match in _CUE_WORD_RE.finditer(text):
            word = match.group("word").lower()
            if word not in _REAL_WORDS and any(
                _one_typo(word, cue) for cue in ("order", "purchase")
            ):
                orders.append((match.start("num"), match.group("num")))
    for match in ORDER_FORMAT_RE.finditer(text):
        orders.append((match.start(), match.group("prefixed")))
    if awaiting == "order_number" and not orders:
        orders += [(m.start(), m.group("bare")) for m in ORDER_BARE_RE.finditer(text)]
    return orders


def extract(
    text: str,
    *,
    products: ProductMatcher | None = None,
    today: dt.date | None = None,
    awaiting: str = "",
) -> dict[str, Any]:
    """The entities of one message. Keys appear only when something was found.

    Keys: ``order_number`` (the first) and ``order_numbers``; ``money`` (``text``, ``amount``
    as "1299.50", ISO ``currency``); ``dates`` (``text``, ISO ``date``, relative ones counted
    from ``today``, the customer's date); ``email`` and ``emails``; ``phones``;
    ``postal_codes``; ``products``. ``awaiting`` is the detail the dialog asked for: when it
    is ``"order_number"`` a bare number of 4-20 digits is taken as one; when it is
    ``"email"`` an address spelt out ("sam at example dot com") is taken as one. A number is
    never an order number when it is a phone number, a postal code, an amount, a year or a quantity.
    """
    today = today or dt.date.today()
    found: dict[str, Any] = {}
    emails = EMAIL_RE.findall(text) if "@" in text else []
    rest = EMAIL_RE.sub(_spaces, text) if emails else text
    if awaiting == "email" and not emails:
        spoken = spoken_email(text)
        if spoken:
            emails = [spoken[0]]
            rest = _blank(rest, [spoken[1]])

    money = []
    for match in MONEY_RE.finditer(rest):
        amount = match.group("a1") or match.group("a2") or match.group("a3")
        money.append({"text": match.group(0).strip(), "amount": _amount(amount),
                      "currency": _currency(match)})
    rest = MONEY_RE.sub(_spaces, rest) if money else rest

    dates = []
    spans = []
    for match in DATE_RE.finditer(rest):
        spans.append(match.span())
        resolved = _resolve(match, today)
        if resolved is not None:
            dates.append({"text": match.group(0).strip(), "date": resolved.isoformat()})
    rest = _blank(rest, spans) if spans else rest

    phones: list[tuple[int, int, str]] = []
    postal: list[str] = []
    orders: list[tuple[int, str]] = []
    if _DIGIT_RE.search(rest):  # all that follows needs a digit; most messages have none
        phones, postal, rest = _numbers_set_aside(rest)
        orders = _order_numbers(rest, awaiting=awaiting)
    values = list(dict.fromkeys(value.upper() for _, value in sorted(orders)))
    if values:
        found["order_number"] = values[0]
        found["order_numbers"] = values
    if money:
        found["money"] = money
    if dates:
        found["dates"] = dates
    if emails:
        found["email"] = emails[0]
        found["emails"] = emails
    if phones:
        found["phones"] = [number for _, _, number in phones]
    if postal:
        found["postal_codes"] = [code.upper() for code in postal]
    if products is not None:
        names = products.find(text)
        if names:
            found["products"] = names
    return found
