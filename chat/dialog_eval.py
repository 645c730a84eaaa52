"""Dialog evaluation: whole conversations replayed through the bot, turn by turn.

A dialog file is a YAML list of dialogs (``evaluate_bot --dialogs FILE.yaml``)::

    - name: order number asked, then given
      timezone: America/New_York        # optional: the customer's IANA zone
      now: "2026-11-28T02:30:00Z"       # optional: the first turn's time; each later turn +30 s
      turns:
        - customer: "where is my order?"
          expect:                       # optional, and so is every key in it
            decision: reply             # reply | handoff | refused
            intent: order_status
            asks_for: order_number
        - customer: "it's 55102"
          expect:
            entities: {order_number: "55102"}
            reply_contains: ["55102"]

Keys of ``expect``:

- ``decision``: ``reply`` or ``handoff``; ``refused`` for a message the chat door refuses
  (empty, invisible characters only, or longer than ``CHAT_MAX_MESSAGE_CHARS``): such a
  message is never stored, so the bot neither answers it nor counts it (also after a
  handoff).
- ``intent``: the decided intent (the fallback intent when the message was not understood).
- ``fallback``: whether the message was handled as not understood (a boolean).
- ``handoff_category``: the category the trace records (legal, fraud, anger, human_request,
  policy, turns, fallbacks, language, ...); null for "no handoff".
- ``asks_for``: the detail the bot asks for (``order_number``); null for "asks for nothing".
- ``entities``: a mapping from an entity's name to its expected value, or to null for "must be
  absent". A value matches the extracted one when they are equal (text compared without
  regard to case); a value matches a list when it matches one of its items, and an item that
  is a mapping when it equals one of its fields (``dates: "2026-11-26"`` matches
  ``[{"text": "yesterday", "date": "2026-11-26"}]``); a mapping matches a mapping holding at
  least its keys with matching values; a list matches a list of the same length item by item.
  A singular name the pipeline does not report stands for its list: ``date`` for ``dates``,
  ``amount`` for ``money``, ``product`` for ``products``.
- ``reply_contains`` / ``reply_not_contains``: a text or a list of texts that must (must not)
  appear in the reply as the customer reads it: its Markdown rendered and reduced to plain
  text, compared without regard to case.
- ``article``: the title of the article the reply quotes (null for "quotes none"), or a list
  of titles when quoting any one of them is right.
- ``max_words``: the most words the reply's plain text may have.

A dialog may name ``verified_customer``: the user id the host page signed for the customer
(``chat.identity``), as the demo page's signed-in customer ``cust-10023``.

The turns run through the whole pipeline offline (``run_turn(use_claude=False,
respond=True)``) on one taxonomy, storing nothing; data connectors' calls are served by this
process's own Django (the demo orders API), not over the network. Between turns the dialog
state, the history and the customer's earlier texts are carried over as the chat task carries them
(``chat.tasks._context_for``). A turn's time is ``now`` plus 30 seconds for each turn before
it (the current time when the dialog gives none); its relative dates resolve in the dialog's
``timezone`` (the desk's ``TIME_ZONE`` when it gives none).

After a handoff the conversation is with a person and the bot no longer answers: later turns
are not run through the pipeline, and each reports the handoff again (same decision, category,
intent and fallback flag) with no reply, no article, no detail asked and no entities. A
pipeline error is handled as the chat task handles it: a handoff of category ``error``.

Turns are numbered from 1 in the report. A file that is not valid YAML or breaks the format
(an unknown key, a wrong type, no ``turns``, a turn without ``customer``, an unknown time zone,
a ``now`` that is not an ISO 8601 time) raises ``DialogFileError`` naming the line.
"""

from __future__ import annotations

import datetime as dt
import html.parser
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import yaml
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from chat.bot.pipeline import run_turn
from chat.bot.service import failed_turn
from chat.bot.taxonomy import Taxonomy
from chat.bot.types import TurnContext, TurnResult
from chat.tasks import HISTORY_TURNS
from chat.text import is_blank
from knowledge.connectors import CallOutcome, ConnectorSpec, connector_call
from knowledge.markdown import render_markdown

TURN_INTERVAL = dt.timedelta(seconds=30)
DECISIONS = ("reply", "handoff", "refused")
EXPECT_KEYS = (
    "decision", "intent", "fallback", "handoff_category", "asks_for", "entities",
    "reply_contains", "reply_not_contains", "article", "max_words",
)
DIALOG_KEYS = ("name", "timezone", "now", "verified_customer", "turns")
TURN_KEYS = ("customer", "expect")
# A singular entity name a dialog may use for the list the pipeline reports.
ENTITY_LISTS = {"date": "dates", "amount": "money", "product": "products", "email": "emails"}

class DialogFileError(ValueError):
    """A dialog file that cannot be read or breaks the format; the message names the line."""


@dataclass(frozen=True)
class DialogTurn:
    customer: str
    expect: dict[str, Any]
    line: int


@dataclass(frozen=True)
class Dialog:
    name: str
    turns: tuple[DialogTurn, ...]
    line: int
    timezone: str = ""
    now: dt.datetime | None = None
    verified_customer: str = ""  # the user id the host page signed ("" = unverified)


@dataclass
class TurnOutcome:
    """What the bot did with one customer message, in the terms of ``expect``."""

    decision: str
    intent: str = ""
    fallback: bool = False
    handoff_category: str | None = None
    asks_for: str | None = None
    entities: dict[str, Any] = field(default_factory=dict)
    reply: str = ""  # plain text, as the customer reads it
    articles: list[str] = field(default_factory=list)  # titles of the quoted articles
    error: str = ""


@dataclass
class DialogReport:
    """Counts and failures over a file; ``to_json`` is the ``--json`` object."""

    dialogs: int = 0
    dialogs_passed: int = 0
    turns: int = 0
    turns_passed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    failed_dialogs: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "dialogs": self.dialogs,
            "dialogs_passed": self.dialogs_passed,
            "turns": self.turns,
            "turns_passed": self.turns_passed,
            "failures": self.failures,
        }


# --------------------------------------------------------------------------- loading


def _error(node: yaml.Node | None, path: str, problem: str) -> DialogFileError:
    where = f", line {node.start_mark.line + 1}" if node is not None else ""
    return DialogFileError(f"{path}{where}: {problem}")


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _mapping(node: yaml.Node, path: str, what: str, allowed: tuple[str, ...] | None
             ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """A mapping node's entries by key, refusing repeated keys and (unless ``allowed`` is
    None) unknown ones."""
    if not isinstance(node, yaml.MappingNode):
        raise _error(node, path, f"{what} must be a mapping")
    entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode) or _is_null(key):
            raise _error(key, path, f"a key of {what} must be a name")
        if allowed is not None and key.value not in allowed:
            raise _error(key, path, f"unknown key {key.value!r} in {what} "
                                    f"(known: {', '.join(allowed)})")
        if key.value in entries:
            raise _error(key, path, f"{key.value!r} appears twice in {what}")
        entries[key.value] = (key, value)
    return entries


def _text(node: yaml.Node, path: str, what: str) -> str:
    """A scalar as written: ``customer: 55102`` is the text "55102", not a number."""
    if not isinstance(node, yaml.ScalarNode) or _is_null(node):
        raise _error(node, path, f"{what} must be a text")
    return node.value


def _optional_text(node: yaml.Node, path: str, what: str) -> str | None:
    return None if _is_null(node) else _text(node, path, what)


def _plain(node: yaml.Node) -> Any:
    """A node as data: scalars as written (text), null as None, lists and mappings nested."""
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        return {str(_plain(key)): _plain(value) for key, value in node.value}
    return None if _is_null(node) else node.value


def _expectations(node: yaml.Node, path: str) -> dict[str, Any]:
    expect: dict[str, Any] = {}
    for key, (_, value) in _mapping(node, path, "expect", EXPECT_KEYS).items():
        if key == "decision":
            decision = _text(value, path, "decision")
            if decision not in DECISIONS:
                raise _error(value, path, f"decision must be one of {', '.join(DECISIONS)}")
            expect[key] = decision
        elif key == "intent":
            expect[key] = _text(value, path, "intent")
        elif key == "fallback":
            if value.tag != "tag:yaml.org,2002:bool":
                raise _error(value, path, "fallback must be true or false")
            expect[key] = yaml.constructor.SafeConstructor.bool_values[value.value.lower()]
        elif key == "article" and isinstance(value, yaml.SequenceNode) and value.value:
            expect[key] = [_text(item, path, "an item of article") for item in value.value]
        elif key in {"handoff_category", "asks_for", "article"}:
            expect[key] = _optional_text(value, path, key)
        elif key == "entities":
            entries = _mapping(value, path, "entities", None)
            expect[key] = {name: _plain(item) for name, (_, item) in entries.items()}
        elif key in {"reply_contains", "reply_not_contains"}:
            if isinstance(value, yaml.SequenceNode):
                expect[key] = [_text(item, path, f"an item of {key}") for item in value.value]
            else:
                expect[key] = [_text(value, path, key)]
        elif key == "max_words":
            if value.tag != "tag:yaml.org,2002:int" or int(value.value) < 1:
                raise _error(value, path, "max_words must be a whole number of 1 or more")
            expect[key] = int(value.value)
    return expect


def _moment(node: yaml.Node, path: str) -> dt.datetime:
    raw = _text(node, path, "now").strip()
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise _error(node, path, f"now must be an ISO 8601 time such as "
                                 f"2026-11-28T02:30:00Z, not {raw!r}") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def _zone(node: yaml.Node, path: str) -> str:
    name = _text(node, path, "timezone").strip()
    if not name:
        return ""  # the desk's zone, as when the dialog names none
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise _error(node, path, f"unknown time zone {name!r} (an IANA name such as "
                                 "America/New_York)") from None
    return name


def _dialog(node: yaml.Node, path: str, number: int) -> Dialog:
    entries = _mapping(node, path, f"dialog {number}", DIALOG_KEYS)
    name = f"dialog {number}"
    if "name" in entries:
        name = _text(entries["name"][1], path, "name")
    if "turns" not in entries:
        raise _error(node, path, f"dialog {name!r} has no turns")
    turns_node = entries["turns"][1]
    if not isinstance(turns_node, yaml.SequenceNode) or not turns_node.value:
        raise _error(turns_node, path, f"turns of {name!r} must be a list of one turn or more")
    turns = []
    for item in turns_node.value:
        fields = _mapping(item, path, "a turn", TURN_KEYS)
        if "customer" not in fields:
            raise _error(item, path, "a turn needs customer: the customer's message")
        expect = {}
        if "expect" in fields and not _is_null(fields["expect"][1]):
            expect = _expectations(fields["expect"][1], path)
        turns.append(DialogTurn(customer=_text(fields["customer"][1], path, "customer"),
                                expect=expect, line=_line(item)))
    return Dialog(
        name=name,
        turns=tuple(turns),
        line=_line(node),
        timezone=_zone(entries["timezone"][1], path) if "timezone" in entries else "",
        now=_moment(entries["now"][1], path) if "now" in entries else None,
        verified_customer=_text(entries["verified_customer"][1], path, "verified_customer")
        if "verified_customer" in entries else "",
    )


def parse_dialogs(text: str, *, path: str = "<dialogs>") -> list[Dialog]:
    """The dialogs of a YAML text; raises ``DialogFileError`` naming the line of a fault."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f", line {mark.line + 1}" if mark else ""
        raise DialogFileError(f"{path}{where}: not valid YAML: {error.problem}") from None
    except yaml.YAMLError as error:
        raise DialogFileError(f"{path}: not valid YAML: {error}") from None
    if root is None:
        raise DialogFileError(f"{path}: the file holds no dialogs (a YAML list is expected)")
    if not isinstance(root, yaml.SequenceNode):
        raise _error(root, path, "the file must be a YAML list of dialogs")
    return [_dialog(node, path, number) for number, node in enumerate(root.value, 1)]


def load_dialogs(path: str | Path) -> list[Dialog]:
    """The dialogs of a YAML file; raises ``DialogFileError`` for a missing or malformed one."""
    file = Path(path)
    if not file.is_file():
        raise DialogFileError(f"No such file: {path}")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DialogFileError(f"{path}: not UTF-8 text") from None
    return parse_dialogs(text, path=str(path))


# --------------------------------------------------------------------------- running


class _TextOfHtml(html.parser.HTMLParser):
    """The text of rendered HTML, with a line break after each block and a space per cell."""

    BLOCKS = frozenset({"p", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
                        "blockquote", "table", "ul", "ol", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.preformatted = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag in {"td", "th"}:
            self.parts.append(" ")
        if tag == "pre":
            self.preformatted += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self.preformatted = max(0, self.preformatted - 1)
        self.handle_starttag("" if tag == "pre" else tag, [])
        if tag == "pre":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        # Line breaks in the HTML source are spaces to a reader, except in preformatted text.
        self.parts.append(data if self.preformatted else data.replace("\n", " "))


def reply_plain_text(reply: str) -> str:
    """A reply as the customer reads it: Markdown rendered, markup dropped, spaces collapsed."""
    parser = _TextOfHtml()
    parser.feed(render_markdown(reply))
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def word_count(text: str) -> int:
    """Words of a plain text: runs between spaces with at least one letter or digit."""
    return sum(1 for word in text.split() if any(ch.isalnum() for ch in word))


def refused_at_door(text: str) -> bool:
    """Whether the chat door refuses a message: empty or invisible once stripped, or too long."""
    return is_blank(text) or len(text.strip()) > settings.CHAT_MAX_MESSAGE_CHARS


def _outcome(result: TurnResult, taxonomy: Taxonomy) -> TurnOutcome:
    handoff = result.decision == "handoff"
    pending = (result.dialog_state or {}).get("pending") or {}
    titles = []
    for item in result.articles or []:
        title = item.get("title")
        if not title and item.get("id") is not None:
            doc = taxonomy.articles.get(item["id"])
            title = doc.title if doc else ""
        if title:
            titles.append(title)
    return TurnOutcome(
        decision=result.decision,
        intent=result.intent,
        fallback=bool(result.is_fallback),
        handoff_category=(result.handoff_category or None) if handoff else None,
        asks_for=None if handoff else pending.get("detail") or None,
        entities=dict(result.entities or {}),
        reply=reply_plain_text(result.reply_text or ""),
        articles=titles,
    )


def _today(moment: dt.datetime, zone: str) -> dt.date:
    return moment.astimezone(zoneinfo.ZoneInfo(zone or settings.TIME_ZONE)).date()


def call_in_process(spec: ConnectorSpec, values: dict[str, str]) -> CallOutcome:
    """A data connector's call served by this process's own Django (the demo orders API at
    ``/demo/api/orders/``), so that an evaluation needs no running server.

    The served request keeps this thread's database connection open (as Django's test client
    does): the evaluation may be inside a transaction, which closing it would break.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        return connector_call(spec, values, transport=httpx2.WSGITransport(app=WSGIHandler()))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def run_dialog(taxonomy: Taxonomy, dialog: Dialog, *, start: dt.datetime | None = None
               ) -> list[TurnOutcome]:
    """Each turn's outcome, carrying state, history and the customer's texts between turns.

    ``start`` is the first turn's time when the dialog gives no ``now`` (default: now).
    """
    first = dialog.now or start or dt.datetime.now(dt.UTC)
    state: dict[str, Any] = {}
    messages: list[tuple[str, str]] = []  # (author, text), oldest first, as the task reads
    handed_off: TurnOutcome | None = None
    outcomes: list[TurnOutcome] = []
    lookups = {"call_connector": call_in_process} if getattr(taxonomy, "connectors", ()) else {}
    for index, turn in enumerate(dialog.turns):
        moment = first + index * TURN_INTERVAL
        text = turn.customer.strip()
        if refused_at_door(turn.customer):
            outcomes.append(TurnOutcome(decision="refused"))
            continue
        if handed_off is not None:
            outcomes.append(TurnOutcome(
                decision="handoff", intent=handed_off.intent, fallback=handed_off.fallback,
                handoff_category=handed_off.handoff_category,
            ))
            continue
        recent = messages[-HISTORY_TURNS * 2:]
        context = TurnContext(
            history=recent[-HISTORY_TURNS:],
            dialog_state=dict(state),
            customer_texts=[said for author, said in recent if author == "customer"],
            timezone=dialog.timezone,
            now=moment,
            verified_customer_id=dialog.verified_customer,
        )
        error = ""
        try:
            result = run_turn(taxonomy, text=text, context=context, use_claude=False,
                              respond=True, today=_today(moment, dialog.timezone), **lookups)
        except Exception as exc:  # the chat task hands over on a pipeline error; so do we
            result = failed_turn(error=exc, intent=state.get("last_intent", ""),
                                 dialog_state=state)
            error = f"{type(exc).__name__}: {exc}"
        outcome = _outcome(result, taxonomy)
        outcome.error = error
        outcomes.append(outcome)
        state = dict(result.dialog_state or {})
        messages.append(("customer", text))
        if result.reply_text:
            messages.append(("bot", result.reply_text))
        if result.decision == "handoff":
            handed_off = outcome
    return outcomes


def _same(expected: Any, actual: Any) -> bool:
    """Whether an extracted value matches an expected one (see the module's docstring)."""
    if isinstance(expected, dict):
        if isinstance(actual, dict):
            return all(key in actual and _same(value, actual[key])
                       for key, value in expected.items())
        return isinstance(actual, list) and any(_same(expected, item) for item in actual)
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(_same(e, a) for e, a in zip(expected, actual, strict=True)))
    if isinstance(actual, list):
        return any(_same(expected, item) for item in actual)
    if isinstance(actual, dict):
        return any(_same(expected, value) for value in actual.values()
                   if not isinstance(value, (dict, list)))
    if actual is None or isinstance(actual, bool):
        return str(expected).lower() == str(actual).lower()
    return str(expected).casefold() == str(actual).casefold()


def _entity(entities: dict[str, Any], name: str) -> Any:
    if name in entities:
        return entities[name]
    return entities.get(ENTITY_LISTS.get(name, ""))


def check_turn(expect: dict[str, Any], outcome: TurnOutcome
               ) -> tuple[dict[str, Any], list[str]]:
    """``(got, failed)``: the actual values of the expected keys, and the keys that differ."""
    got: dict[str, Any] = {}
    failed: list[str] = []
    reply = outcome.reply.casefold()
    for key, wanted in expect.items():
        if key == "decision":
            got[key] = outcome.decision
            ok = outcome.decision == wanted
        elif key == "intent":
            got[key] = outcome.intent
            ok = outcome.intent == wanted
        elif key == "fallback":
            got[key] = outcome.fallback
            ok = outcome.fallback == wanted
        elif key in {"handoff_category", "asks_for"}:
            got[key] = getattr(outcome, key)
            ok = got[key] == wanted
        elif key == "entities":
            got[key] = {name: _entity(outcome.entities, name) for name in wanted}
            ok = all(
                (got[key][name] in (None, "", [], {})) if value is None
                else _same(value, got[key][name])
                for name, value in wanted.items()
            )
        elif key == "reply_contains":
            got[key] = outcome.reply
            ok = all(part.casefold() in reply for part in wanted)
        elif key == "reply_not_contains":
            got[key] = outcome.reply
            ok = not any(part.casefold() in reply for part in wanted)
        elif key == "article":
            got[key] = outcome.articles[0] if outcome.articles else None
            titles = {title.casefold() for title in outcome.articles}
            ok = (not titles if wanted is None
                  else any(w.casefold() in titles
                           for w in (wanted if isinstance(wanted, list) else [wanted])))
        elif key == "max_words":
            got[key] = word_count(outcome.reply)
            ok = got[key] <= wanted
        else:  # the loader admits no other key
            raise KeyError(key)
        if not ok:
            failed.append(key)
    return got, failed


def run_dialogs(taxonomy: Taxonomy, dialogs: list[Dialog], *, start: dt.datetime | None = None
                ) -> DialogReport:
    """Runs every dialog and checks every turn; failures carry 1-based turn numbers."""
    report = DialogReport(dialogs=len(dialogs))
    for dialog in dialogs:
        outcomes = run_dialog(taxonomy, dialog, start=start)
        failed_turns = []
        for number, (turn, outcome) in enumerate(zip(dialog.turns, outcomes, strict=True), 1):
            report.turns += 1
            got, failed = check_turn(turn.expect, outcome)
            if not failed:
                report.turns_passed += 1
                continue
            report.failures.append(
                {"dialog": dialog.name, "turn": number, "expected": turn.expect, "got": got}
            )
            failed_turns.append({"turn": number, "line": turn.line, "customer": turn.customer,
                                 "expected": turn.expect, "got": got, "failed": failed,
                                 "error": outcome.error})
        if failed_turns:
            report.failed_dialogs.append(
                {"dialog": dialog.name, "line": dialog.line, "turns": failed_turns}
            )
        else:
            report.dialogs_passed += 1
    return report


def _shown(value: Any) -> str:
    """A value for the readable report; invisible characters show as escapes."""
    if isinstance(value, str):
        text = '"' + "".join(ch if ch.isprintable() or ch == "\n" else f"\\u{ord(ch):04x}"
                             for ch in value).replace("\n", " / ") + '"'
    else:
        text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


def report_text(report: DialogReport, *, source: str = "") -> str:
    """The readable report: the totals, then each failing turn with its differing keys."""
    lines = [
        f"Dialogs passed: {report.dialogs_passed}/{report.dialogs}; "
        f"turns passed: {report.turns_passed}/{report.turns}" + (f" ({source})" if source else "")
    ]
    for failed in report.failed_dialogs:
        lines += ["", f"FAIL {failed['dialog']} (line {failed['line']})"]
        for turn in failed["turns"]:
            lines.append(f"  turn {turn['turn']} (line {turn['line']}): {_shown(turn['customer'])}")
            for key in turn["failed"]:
                wanted, got = turn["expected"][key], turn["got"][key]
                lines.append(f"    {key}: expected {_shown(wanted)}, got {_shown(got)}")
            if turn["error"]:
                lines.append(f"    pipeline error: {turn['error']}")
    return "\n".join(lines)
