"""Export of the taxonomy and articles as JSON, and the validators for JSON and CSV imports.

A validator reads the whole upload and returns a plan, or raises ``ImportRejected`` with
every problem it found (by line for CSV, by position for JSON). Nothing here writes: the
services in ``knowledge.services`` apply a plan in one transaction.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from knowledge.safejson import UnsafeJSON, loads_checked

from .connector_network import HostUnresolved
from .connectors import (
    DETAILS,
    MAX_TIMEOUT_SECONDS,
    ConnectorInvalid,
    check_hosts,
    check_reply_template,
    check_url_template,
)
from .models import (
    Article,
    ArticleStatus,
    Connector,
    EscalationPolicy,
    EscalationSignal,
    Intent,
    SignalCategory,
    TrainingPhrase,
)

EXPORT_FORMAT = "supportdesk-knowledge"
EXPORT_VERSION = 1
MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_CSV_ROWS = 50_000
MAX_LISTED_PROBLEMS = 200
CSV_HEADER = ["text", "intent"]

PHRASE_MAX = 500
SLUG_MAX = 80
NAME_MAX = 120
BUTTON_LABEL_MAX = 40
SIGNAL_MAX = 120
TITLE_MAX = 200
DETAIL_NAME_MAX = 60
DETAIL_QUESTION_MAX = 300
SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+$")


class ImportRejected(Exception):
    """The upload was refused whole; ``problems`` lists every reason found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems[:3]))


def normalize_text(text: str) -> str:
    """Collapse runs of whitespace, so that phrases compare the way people read them."""
    return " ".join(text.split())


def name_from_slug(slug: str) -> str:
    return slug.replace("_", " ").replace("-", " ").strip().capitalize()[:NAME_MAX] or slug


# --- Export -----------------------------------------------------------------------------------


def taxonomy_export() -> dict[str, Any]:
    """Every intent with its phrases, every signal and every article, in a stable order."""
    intents = []
    for intent in Intent.objects.order_by("slug").prefetch_related("phrases"):
        intents.append(
            {
                "slug": intent.slug,
                "name": intent.name,
                "description": intent.description,
                "escalation_policy": intent.escalation_policy,
                "button_label": intent.button_label,
                "required_details": intent.required_details or [],
                "is_active": intent.is_active,
                "phrases": [p.text for p in sorted(intent.phrases.all(), key=lambda p: p.pk)],
            }
        )
    signals = [
        {"phrase": s.phrase, "category": s.category, "is_active": s.is_active}
        for s in EscalationSignal.objects.order_by("phrase")
    ]
    articles = [
        {
            "title": a.title,
            "body": a.body,
            "status": a.status,
            "intents": sorted(i.slug for i in a.intents.all()),
        }
        for a in Article.objects.defer("search_text").order_by("title", "pk")
        .prefetch_related("intents")
    ]
    connectors = [
        {
            "name": c.name, "description": c.description,
            "intents": sorted(i.slug for i in c.intents.all()), "needs": c.needs,
            "method": c.method, "url_template": c.url_template,
            "allowed_hosts": c.allowed_hosts,
            # Names only: header values are write-only and never leave the desk.
            "header_names": sorted(c.headers), "timeout_seconds": c.timeout_seconds,
            "verified_only": c.verified_only, "reply_template": c.reply_template,
            "fallback_text": c.fallback_text, "is_active": c.is_active,
        }
        for c in Connector.objects.order_by("name").prefetch_related("intents")
    ]
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "intents": intents,
        "signals": signals,
        "articles": articles,
        "connectors": connectors,
    }


# --- JSON import ------------------------------------------------------------------------------


@dataclass
class TaxonomyPlan:
    intents: list[dict[str, Any]] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)
    articles: list[dict[str, Any]] = field(default_factory=list)
    connectors: list[dict[str, Any]] = field(default_factory=list)
    # Connector name -> its URL's host when it gave no address: imported anyway, as the admin
    # page saves it, and the import says so.
    unresolved: dict[str, HostUnresolved] = field(default_factory=dict)


def decode_upload(data: bytes) -> str:
    """UTF-8 text (a byte-order mark is allowed) or a clear rejection."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportRejected(
            [f"The file is {len(data) // 1024} kB; the limit is {MAX_IMPORT_BYTES // 1024} kB."]
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRejected(
            [
                f"Line {line}: the file is not UTF-8 text (byte 0x{data[exc.start]:02x}). "
                "Save it as UTF-8 and upload it again."
            ]
        ) from None


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            shown = self.items[:MAX_LISTED_PROBLEMS]
            if len(self.items) > MAX_LISTED_PROBLEMS:
                shown.append(f"… and {len(self.items) - MAX_LISTED_PROBLEMS} more problems.")
            raise ImportRejected(shown)


def _check_str(
    problems: _Problems, where: str, obj: dict, key: str, *, max_len: int, required: bool = True,
    default: str = "", allow_empty: bool = False,
) -> str:
    if key not in obj:
        if required:
            problems.add(where, f'missing key "{key}"')
        return default
    value = obj[key]
    if not isinstance(value, str):
        problems.add(where, f'"{key}" must be a string')
        return default
    if not allow_empty and not value.strip():
        problems.add(where, f'"{key}" is empty')
    if len(value) > max_len:
        problems.add(where, f'"{key}" is {len(value)} characters; the limit is {max_len}')
    return value


def _check_choice(
    problems: _Problems, where: str, obj: dict, key: str, choices: list[str], default: str
) -> str:
    value = obj.get(key, default)
    if value not in choices:
        problems.add(where, f'"{key}" must be one of {", ".join(choices)}, not {value!r}')
        return default
    return value


def _check_bool(problems: _Problems, where: str, obj: dict, key: str) -> bool:
    value = obj.get(key, True)
    if not isinstance(value, bool):
        problems.add(where, f'"{key}" must be true or false')
        return True
    return value


def _check_required_details(problems: _Problems, where: str, value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        problems.add(where, '"required_details" must be a list')
        return []
    details = []
    for j, item in enumerate(value):
        spot = f"{where}.required_details[{j}]"
        if not isinstance(item, dict):
            problems.add(spot, 'must be an object with "name" and "question"')
            continue
        name = _check_str(problems, spot, item, "name", max_len=DETAIL_NAME_MAX)
        question = _check_str(problems, spot, item, "question", max_len=DETAIL_QUESTION_MAX)
        if name and not SLUG_RE.match(name):
            problems.add(spot, '"name" may only hold letters, digits, "-" and "_"')
        details.append({"name": name, "question": question})
    return details


class _Located(dict):
    """A JSON object that knows the line it starts on, for problem reports."""

    line = 0

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs  # every value in the file's order, repeated keys included


def _object_lines(text: str) -> list[int]:
    """The line of every ``{`` outside a string, in the file's order."""
    lines: list[int] = []
    line, in_string, escaped = 1, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            lines.append(line)
        if char == "\n":
            line += 1
    return lines


def _loads_with_lines(text: str) -> Any:
    """``json.loads`` with each object's line recorded, for the problems of a refused file.

    Objects come out of the parser innermost first; walked outermost first (each before its
    values, in the file's order) they meet the file's opening braces one by one.
    """
    doc = json.loads(text, object_pairs_hook=_Located)
    lines = iter(_object_lines(text))

    def walk(value: Any) -> None:
        if isinstance(value, _Located):
            value.line = next(lines, 0)
            for _, item in value.pairs:
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(doc)
    return doc


def check_import_size(
    *, new_slugs: list[str], phrase_counts: dict[str, int]
) -> None:
    """Refuse an import that would create more than ``IMPORT_MAX_NEW_INTENTS`` intents or leave
    an intent with more than ``IMPORT_MAX_PHRASES_PER_INTENT`` phrases (``phrase_counts``: the
    phrases each intent would have after it). Raises ``ImportRejected`` with the counts."""
    max_new = settings.IMPORT_MAX_NEW_INTENTS
    max_phrases = settings.IMPORT_MAX_PHRASES_PER_INTENT
    problems: list[str] = []
    if len(new_slugs) > max_new:
        problems.append(
            f"The file would create {len(new_slugs):,} new intents; one import may create at "
            f"most {max_new:,} (setting IMPORT_MAX_NEW_INTENTS)."
        )
    crowded = sorted(
        ((count, slug) for slug, count in phrase_counts.items() if count > max_phrases),
        reverse=True,
    )
    for count, slug in crowded[:MAX_LISTED_PROBLEMS]:
        problems.append(
            f'The intent "{slug}" would have {count:,} phrases; the limit is {max_phrases:,} '
            "per intent (setting IMPORT_MAX_PHRASES_PER_INTENT)."
        )
    if len(crowded) > MAX_LISTED_PROBLEMS:
        problems.append(f"… and {len(crowded) - MAX_LISTED_PROBLEMS} more intents over it.")
    if problems:
        raise ImportRejected(problems)


def _at(item: Any, path: str) -> str:
    line = getattr(item, "line", 0)
    return f"Line {line}, {path}" if line else path


def validate_taxonomy_json(data: bytes) -> TaxonomyPlan:
    text = decode_upload(data)
    try:
        doc = loads_checked(text)
    except UnsafeJSON as exc:
        raise ImportRejected([str(exc)]) from None
    try:
        plan = _validate_taxonomy(doc)
    except ImportRejected:
        if not isinstance(doc, dict):
            raise
        # Refused: parse again, slowly, to name the line of every problem.
        plan = _validate_taxonomy(_loads_with_lines(text))
    slugs = [item["slug"] for item in plan.intents]
    existing = set(Intent.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    check_import_size(
        new_slugs=[slug for slug in slugs if slug not in existing],
        phrase_counts={item["slug"]: len(item["phrases"]) for item in plan.intents},
    )
    return plan


def _validate_taxonomy(doc: Any) -> TaxonomyPlan:
    problems = _Problems()
    if not isinstance(doc, dict):
        raise ImportRejected(["The file must hold one JSON object, as the export writes it."])
    if doc.get("format", EXPORT_FORMAT) != EXPORT_FORMAT:
        problems.add("format", f'expected "{EXPORT_FORMAT}"')
    if doc.get("version", EXPORT_VERSION) != EXPORT_VERSION:
        problems.add("version", f"only version {EXPORT_VERSION} can be imported")
    for key in ("intents", "signals", "articles"):
        if key not in doc:
            problems.add("top level", f'missing key "{key}"')
        elif not isinstance(doc[key], list):
            problems.add(key, "must be a list")
    problems.raise_if_any()

    plan = TaxonomyPlan()
    seen_slugs: set[str] = set()
    policies = [c.value for c in EscalationPolicy]
    for i, item in enumerate(doc["intents"]):
        where = _at(item, f"intents[{i}]")
        if not isinstance(item, dict):
            problems.add(where, "must be an object")
            continue
        slug = _check_str(problems, where, item, "slug", max_len=SLUG_MAX)
        if slug:
            where = _at(item, f'intents[{i}] "{slug}"')
            if not SLUG_RE.match(slug):
                problems.add(where, 'the slug may only hold letters, digits, "-" and "_"')
            if slug in seen_slugs:
                problems.add(where, "this slug appears more than once")
            seen_slugs.add(slug)
        intent = {
            "slug": slug,
            "name": _check_str(problems, where, item, "name", max_len=NAME_MAX),
            "description": _check_str(
                problems, where, item, "description", max_len=10_000, required=False,
                allow_empty=True,
            ),
            "escalation_policy": _check_choice(
                problems, where, item, "escalation_policy", policies, EscalationPolicy.NEVER
            ),
            "button_label": " ".join((_check_str(
                problems, where, item, "button_label", max_len=BUTTON_LABEL_MAX,
                required=False, allow_empty=True,
            ) or "").split()),
            "required_details": _check_required_details(
                problems, where, item.get("required_details", [])
            ),
            "is_active": _check_bool(problems, where, item, "is_active"),
            "phrases": [],
        }
        if "phrases" not in item:
            problems.add(where, 'missing key "phrases"')
        elif not isinstance(item["phrases"], list):
            problems.add(where, '"phrases" must be a list of strings')
        else:
            seen_phrases: set[str] = set()
            for j, phrase in enumerate(item["phrases"]):
                spot = f"{where}.phrases[{j}]"
                if not isinstance(phrase, str):
                    problems.add(spot, "must be a string")
                    continue
                phrase = normalize_text(phrase)
                if not phrase:
                    problems.add(spot, "the phrase is empty")
                elif len(phrase) > PHRASE_MAX:
                    problems.add(
                        spot, f"the phrase is {len(phrase)} characters; limit {PHRASE_MAX}"
                    )
                elif phrase in seen_phrases:
                    problems.add(spot, f'"{phrase[:60]}" appears twice in this intent')
                seen_phrases.add(phrase)
                intent["phrases"].append(phrase)
        plan.intents.append(intent)

    categories = [c.value for c in SignalCategory]
    seen_signals: set[str] = set()
    for i, item in enumerate(doc["signals"]):
        where = _at(item, f"signals[{i}]")
        if not isinstance(item, dict):
            problems.add(where, "must be an object")
            continue
        phrase = normalize_text(_check_str(problems, where, item, "phrase", max_len=SIGNAL_MAX))
        if phrase.lower() in seen_signals:
            problems.add(where, f'the signal "{phrase}" appears more than once')
        seen_signals.add(phrase.lower())
        if "category" not in item:
            problems.add(where, 'missing key "category"')
        plan.signals.append(
            {
                "phrase": phrase,
                "category": _check_choice(
                    problems, where, item, "category", categories, SignalCategory.OTHER
                ),
                "is_active": _check_bool(problems, where, item, "is_active"),
            }
        )

    known_slugs = seen_slugs | set(Intent.objects.values_list("slug", flat=True))
    statuses = [c.value for c in ArticleStatus]
    seen_titles: set[str] = set()
    for i, item in enumerate(doc["articles"]):
        where = _at(item, f"articles[{i}]")
        if not isinstance(item, dict):
            problems.add(where, "must be an object")
            continue
        title = _check_str(problems, where, item, "title", max_len=TITLE_MAX)
        if title in seen_titles:
            problems.add(where, f'the title "{title[:60]}" appears more than once')
        seen_titles.add(title)
        body = _check_str(problems, where, item, "body", max_len=200_000, allow_empty=True)
        slugs = item.get("intents", [])
        if not isinstance(slugs, list) or not all(isinstance(s, str) for s in slugs):
            problems.add(where, '"intents" must be a list of intent slugs')
            slugs = []
        for slug in slugs:
            if slug not in known_slugs:
                problems.add(where, f'unknown intent "{slug}"')
        plan.articles.append(
            {
                "title": title,
                "body": body,
                "status": _check_choice(
                    problems, where, item, "status", statuses, ArticleStatus.DRAFT
                ),
                "intents": sorted(set(slugs)),
            }
        )
    connectors = doc.get("connectors", [])  # optional: exports before connectors had none
    if not isinstance(connectors, list):
        problems.add("connectors", "must be a list")
        connectors = []
    for i, item in enumerate(connectors):
        where = _at(item, f"connectors[{i}]")
        if not isinstance(item, dict):
            problems.add(where, "must be an object")
            continue
        checked = _check_connector_item(problems, where, item, known_slugs)
        unresolved = checked.pop("unresolved")
        if unresolved is not None:
            plan.unresolved[checked["name"]] = unresolved
        plan.connectors.append(checked)
    problems.raise_if_any()
    return plan


def _check_connector_item(
    problems: _Problems, where: str, item: dict[str, Any], known_slugs: set[str]
) -> dict[str, Any]:
    """One exported connector, checked as the admin page checks it (no header values: an
    export has none); under ``"unresolved"``, its URL's host when the name gave no address
    (``HostUnresolved``), else None."""
    name = _check_str(problems, where, item, "name", max_len=NAME_MAX)
    slugs = item.get("intents", [])
    if not isinstance(slugs, list) or not all(isinstance(s, str) for s in slugs):
        problems.add(where, '"intents" must be a list of intent slugs')
        slugs = []
    for slug in slugs:
        if slug not in known_slugs:
            problems.add(where, f'unknown intent "{slug}"')
    needs = item.get("needs", [])
    if not isinstance(needs, list) or not all(n in DETAILS for n in needs):
        problems.add(where, f'"needs" must list details among {", ".join(DETAILS)}')
        needs = []
    timeout = item.get("timeout_seconds", 3.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (
        0.1 <= timeout <= MAX_TIMEOUT_SECONDS
    ):
        problems.add(where, f'"timeout_seconds" must be 0.1 to {MAX_TIMEOUT_SECONDS:g}')
        timeout = 3.0
    method = _check_choice(problems, where, item, "method", ["GET", "POST"], "GET")
    url = _check_str(problems, where, item, "url_template", max_len=1000)
    template = _check_str(problems, where, item, "reply_template", max_len=10_000)
    unresolved = None
    try:
        hosts = check_hosts(item.get("allowed_hosts"))
        unresolved = check_url_template(url, hosts=hosts, needs=needs)
        check_reply_template(template)
    except ConnectorInvalid as exc:
        problems.add(where, f"{exc.field}: {exc}")
        hosts = []
    return {
        "unresolved": unresolved,
        "name": name,
        "description": _check_str(problems, where, item, "description", max_len=2000,
                                  required=False, allow_empty=True),
        "intents": sorted(set(slugs)), "needs": needs, "method": method, "url_template": url,
        "allowed_hosts": hosts, "timeout_seconds": float(timeout),
        "verified_only": _check_bool(problems, where, item, "verified_only"),
        "reply_template": template,
        "fallback_text": _check_str(problems, where, item, "fallback_text", max_len=500,
                                    required=False, allow_empty=True),
        "is_active": _check_bool(problems, where, item, "is_active"),
    }


# --- CSV import -------------------------------------------------------------------------------


@dataclass
class PhraseRowsPlan:
    rows: list[tuple[int, str, str]]  # (line, text, intent slug)
    labels: dict[str, str] = field(default_factory=dict)  # slug -> label, where they differ


def slug_from_label(label: str) -> str:
    """A label as written ("reverted_card_payment?", "Card arrival") as an intent slug."""
    if SLUG_RE.match(label):
        return label
    return re.sub(r"[^a-z0-9_-]+", "_", label.lower()).strip("_-")[:SLUG_MAX]


def validate_phrases_csv(data: bytes) -> PhraseRowsPlan:
    """A ``text,intent`` CSV: every row checked, every problem listed with its line."""
    text = decode_upload(data)
    if "\x00" in text:
        raise ImportRejected(["The file holds NUL bytes: it is not a CSV text file."])
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ImportRejected([f"Line 1: not readable as CSV ({exc})."]) from None
    if header is None:
        raise ImportRejected(["The file is empty; expected a header line: text,intent"])
    if [h.strip().lower() for h in header] != CSV_HEADER:
        raise ImportRejected(
            [f"Line 1: the header must be exactly text,intent, not {','.join(header)[:80]!r}."]
        )
    problems = _Problems()
    rows: list[tuple[int, str, str]] = []
    labels: dict[str, str] = {}
    line = 1
    try:
        for record in reader:
            line = reader.line_num
            if len(rows) >= MAX_CSV_ROWS:
                raise ImportRejected(
                    [
                        f"The file has more than {MAX_CSV_ROWS:,} rows; split it into files of "
                        f"at most {MAX_CSV_ROWS:,} rows."
                    ]
                )
            if not record or all(not cell.strip() for cell in record):
                continue
            where = f"Line {line}"
            if len(record) != 2:
                problems.add(where, f"expected 2 columns (text,intent), found {len(record)}")
                rows.append((line, "", ""))
                continue
            phrase, label = normalize_text(record[0]), normalize_text(record[1])
            slug = slug_from_label(label)
            if not phrase:
                problems.add(where, "the text is empty")
            elif len(phrase) > PHRASE_MAX:
                problems.add(where, f"the text is {len(phrase)} characters; limit {PHRASE_MAX}")
            if not label:
                problems.add(where, "the intent is empty")
            elif len(label) > SLUG_MAX or not slug:
                problems.add(
                    where,
                    f'"{label[:40]}" cannot be an intent slug (it needs letters or digits, '
                    f"at most {SLUG_MAX} characters)",
                )
            elif slug != label:
                labels[slug] = label
            rows.append((line, phrase, slug))
    except csv.Error as exc:
        problems.add(f"Line {reader.line_num}", f"not readable as CSV ({exc})")
    if not rows and not problems.items:
        raise ImportRejected(["The file has a header but no rows."])
    problems.raise_if_any()
    _check_csv_size(rows)
    return PhraseRowsPlan(rows=rows, labels=labels)


def _check_csv_size(rows: list[tuple[int, str, str]]) -> None:
    """The import's size limits for CSV rows: phrases already there are not counted twice."""
    texts: dict[str, set[str]] = {}
    for _, text, slug in rows:
        texts.setdefault(slug, set()).add(text)
    existing = set(Intent.objects.filter(slug__in=texts).values_list("slug", flat=True))
    new_slugs = [slug for slug in texts if slug not in existing]
    if len(new_slugs) > settings.IMPORT_MAX_NEW_INTENTS:
        check_import_size(new_slugs=new_slugs, phrase_counts={})
    for slug, text in TrainingPhrase.objects.filter(intent__slug__in=existing).values_list(
        "intent__slug", "text"
    ).iterator():
        texts[slug].add(text)
    check_import_size(
        new_slugs=new_slugs, phrase_counts={slug: len(found) for slug, found in texts.items()}
    )
