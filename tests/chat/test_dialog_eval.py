"""evaluate_bot --dialogs: the dialog file format, the runner, and the public dialog set."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command

from chat import dialog_eval
from chat.bot.types import TurnResult
from chat.dialog_eval import (
    DialogFileError,
    TurnOutcome,
    check_turn,
    parse_dialogs,
    refused_at_door,
    reply_plain_text,
    run_dialog,
    word_count,
)
from knowledge.models import ArticleStatus, EscalationSignal, Intent, TrainingPhrase
from knowledge.services import article_create

DIALOGS_DIR = Path(__file__).resolve().parent.parent / "data" / "dialogs"

TRAIN = {
    "order_status": ["where is my order", "track my parcel", "has my order shipped",
                     "status of my order", "when does my package arrive", "is it on the way",
                     "my order is late where is it", "tracking number please",
                     "where has my delivery got to", "what's happening with my order"],
    "return_request": ["I want to return this", "how do I send it back", "refund please",
                       "I want my money back", "return label", "can I exchange it",
                       "how do returns work", "send back the shoes", "give me a refund",
                       "these boots don't fit, can I return them"],
    "billing_dispute": ["I was charged twice", "wrong amount on my card", "dispute a charge",
                        "double charge", "you overcharged me", "unknown charge on my card",
                        "billed two times", "payment taken twice", "my card was charged wrong",
                        "why did you bill me twice"],
    "general_inquiry": ["opening hours", "how can I contact you", "what time do you open",
                        "do you take paypal", "where is your store", "phone number",
                        "what is your phone number", "are you open on sunday",
                        "email address for support", "store address"],
}


def write(tmp_path: Path, text: str, name: str = "dialogs.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return str(path)


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("evaluate_bot", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def small_desk(db):
    """A four-intent taxonomy with an order-number detail, a person signal and a classifier."""
    for slug, texts in TRAIN.items():
        intent = Intent.objects.create(
            slug=slug, name=slug.replace("_", " ").title(),
            escalation_policy="always" if slug == "billing_dispute" else "never",
            required_details=[{"name": "order_number", "question": "What is your order number?"}]
            if slug == "order_status" else [],
        )
        TrainingPhrase.objects.bulk_create(TrainingPhrase(intent=intent, text=t) for t in texts)
    EscalationSignal.objects.create(phrase="manager", category="human_request")
    article_create(
        actor=None, title="Tracking an order", status=ArticleStatus.PUBLISHED,
        intents=[Intent.objects.get(slug="order_status")],
        body="Every order has a tracking link in its shipping e-mail.\n",
    )
    call_command("train_classifier", stdout=StringIO(), stderr=StringIO())


# --------------------------------------------------------------------------- the file format


def test_parse_reads_every_key_and_keeps_texts_as_written():
    dialogs = parse_dialogs(textwrap.dedent("""
        - name: all keys
          timezone: Europe/Paris
          now: "2026-03-01T09:00:00+01:00"
          turns:
            - customer: 40917
              expect:
                decision: reply
                intent: order_status
                fallback: false
                handoff_category: null
                asks_for: order_number
                entities: {order_number: 40917, email: null, dates: [{date: "2026-02-28"}]}
                reply_contains: total
                reply_not_contains: [refund, "wrong"]
                article: How to track your order
                max_words: 150
            - customer: "returns?"
              expect: {article: [Returns policy, How to start a return]}
            - customer: "no"
        - turns:
            - customer: yes
    """))
    first, second = dialogs
    assert first.name == "all keys" and first.timezone == "Europe/Paris"
    assert first.now.isoformat() == "2026-03-01T09:00:00+01:00"
    turn = first.turns[0]
    assert turn.customer == "40917"  # an unquoted number is still the customer's text
    assert turn.expect["entities"] == {"order_number": "40917", "email": None,
                                       "dates": [{"date": "2026-02-28"}]}
    assert turn.expect["fallback"] is False and turn.expect["max_words"] == 150
    assert turn.expect["reply_contains"] == ["total"]
    assert turn.expect["reply_not_contains"] == ["refund", "wrong"]
    assert turn.expect["handoff_category"] is None
    assert first.turns[1].expect["article"] == ["Returns policy", "How to start a return"]
    assert first.turns[2].customer == "no" and first.turns[2].expect == {}
    assert second.name == "dialog 2" and second.turns[0].customer == "yes"
    assert second.now is None and second.timezone == ""


def test_a_now_without_an_offset_is_utc():
    (dialog,) = parse_dialogs('- {now: "2026-11-28T02:30:00", turns: [{customer: hi}]}')
    assert dialog.now.utcoffset().total_seconds() == 0


MALFORMED = [
    ("- name: x\n  turns:\n    - customer: hi\n      expect: {intent: [a\n", 5, "not valid YAML"),
    ("- name: x\n  turns:\n    - customer: where is: my order\n", 3, "not valid YAML"),
    ("- name: x\n  turns:\n\t- customer: hi\n", 3, "not valid YAML"),
    ("name: not a list\n", 1, "must be a YAML list"),
    ("- name: x\n  colour: blue\n  turns: [{customer: hi}]\n", 2, "unknown key 'colour'"),
    ("- name: x\n  turns:\n    - customer: hi\n      answer: yes\n", 4, "unknown key 'answer'"),
    ("- name: x\n  turns:\n    - customer: hi\n      expect:\n        mood: happy\n", 5,
     "unknown key 'mood'"),
    ("- name: x\n  turns:\n    - customer: hi\n      expect: {fallback: maybe}\n", 4,
     "fallback must be true or false"),
    ("- name: x\n  turns:\n    - customer: hi\n      expect:\n        max_words: lots\n", 5,
     "max_words"),
    ("- name: x\n  turns:\n    - customer: hi\n      expect:\n        max_words: 0\n", 5,
     "max_words"),
    ("- name: x\n  turns:\n    - customer: hi\n      expect: {decision: transfer}\n", 4,
     "decision must be one of"),
    ("- name: x\n  turns:\n    - customer: hi\n      expect:\n        intent: [a, b]\n", 5,
     "intent must be a text"),
    ("- name: x\n  turns:\n    - customer: hi\n      expect:\n        entities: [a]\n", 5,
     "entities must be a mapping"),
    ("- name: x\n  turns:\n    - customer: hi\n      expect:\n"
     "        reply_contains: {a: b}\n", 5, "reply_contains must be a text"),
    ("- name: x\n  turns:\n    - customer: hi\n      expect:\n"
     "        reply_not_contains: [ok, [nested]]\n", 5, "an item of reply_not_contains"),
    ("- name: no turns here\n  now: \"2026-01-01T00:00:00Z\"\n", 1, "has no turns"),
    ("- name: x\n  turns: []\n", 2, "one turn or more"),
    ("- name: x\n  turns: hello\n", 2, "one turn or more"),
    ("- name: x\n  turns:\n    - expect: {intent: a}\n", 3, "a turn needs customer"),
    ("- name: x\n  turns:\n    - customer:\n", 3, "customer must be a text"),
    ("- name: x\n  turns:\n    - hello\n", 3, "a turn must be a mapping"),
    ("- name: x\n  timezone: Mars/Olympus_Mons\n  turns: [{customer: hi}]\n", 2,
     "unknown time zone"),
    ("- name: x\n  timezone: ../../etc/passwd\n  turns: [{customer: hi}]\n", 2,
     "unknown time zone"),
    ("- name: x\n\n\n  now: yesterday at noon\n  turns: [{customer: hi}]\n", 4,
     "now must be an ISO 8601 time"),
    ("- name: x\n  now: \"2026-13-45T00:00:00Z\"\n  turns: [{customer: hi}]\n", 2,
     "now must be an ISO 8601 time"),
    ("- name: x\n  name: y\n  turns: [{customer: hi}]\n", 2, "appears twice"),
]


@pytest.mark.parametrize(("text", "line", "problem"), MALFORMED)
def test_a_malformed_file_is_an_error_naming_the_line(text, line, problem):
    with pytest.raises(DialogFileError) as caught:
        parse_dialogs(text, path="bad.yaml")
    message = str(caught.value)
    assert message.startswith(f"bad.yaml, line {line}:"), message
    assert problem in message


def test_an_empty_file_is_an_error():
    with pytest.raises(DialogFileError, match="holds no dialogs"):
        parse_dialogs("# nothing yet\n", path="empty.yaml")


def test_the_command_turns_a_malformed_file_into_a_command_error(tmp_path, db):
    path = write(tmp_path, """
        - name: fine
          turns: [{customer: hi}]
        - name: broken
          turns:
            - customer: hi
              expect:
                asks_for: order_number
                sentiment: angry
    """)
    with pytest.raises(CommandError, match=r"dialogs\.yaml, line 8: unknown key 'sentiment'"):
        run_command("--dialogs", path)
    with pytest.raises(CommandError, match="No such file"):
        run_command("--dialogs", str(tmp_path / "missing.yaml"))
    with pytest.raises(CommandError, match="no CSV file"):
        run_command("data.csv", "--dialogs", path)


# --------------------------------------------------------------------------- checking a turn


def outcome(**fields) -> TurnOutcome:
    return TurnOutcome(**{"decision": "reply", "intent": "order_status", **fields})


def test_entities_match_values_lists_and_absence():
    got = outcome(entities={
        "order_number": "A-55102",
        "dates": [{"text": "yesterday", "date": "2026-11-26"}],
        "money": [{"text": "¥3,000", "amount": "3000", "currency": "JPY"}],
    })
    assert not check_turn({"entities": {"order_number": "a-55102"}}, got)[1]
    assert not check_turn({"entities": {"date": "2026-11-26", "dates": "2026-11-26"}}, got)[1]
    assert not check_turn({"entities": {"money": {"amount": "3000", "currency": "JPY"}}}, got)[1]
    assert not check_turn({"entities": {"amount": "3000"}}, got)[1]
    assert not check_turn({"entities": {"email": None, "phone": None}}, got)[1]
    assert check_turn({"entities": {"order_number": None}}, got)[1]
    assert check_turn({"entities": {"order_number": "55102"}}, got)[1]
    assert check_turn({"entities": {"date": "2026-11-27"}}, got)[1]
    assert check_turn({"entities": {"money": {"currency": "USD"}}}, got)[1]
    assert check_turn({"entities": {"dates": ["2026-11-26", "2026-11-25"]}}, got)[1]
    got_values, failed = check_turn({"entities": {"order_number": None, "email": None}}, got)
    assert failed == ["entities"]
    assert got_values == {"entities": {"order_number": "A-55102", "email": None}}


def test_every_key_reports_what_it_got():
    got = outcome(
        decision="handoff", intent="billing_dispute", fallback=False,
        handoff_category="policy", reply="A colleague from billing will reply here shortly.",
        articles=["Payment methods we accept"],
    )
    expect = {"decision": "handoff", "intent": "billing_dispute", "fallback": False,
              "handoff_category": "policy", "asks_for": None, "reply_contains": ["BILLING"],
              "reply_not_contains": ["refund"], "article": "payment methods we accept",
              "max_words": 9}
    values, failed = check_turn(expect, got)
    assert failed == []
    assert values == {"decision": "handoff", "intent": "billing_dispute", "fallback": False,
                      "handoff_category": "policy", "asks_for": None,
                      "reply_contains": got.reply, "reply_not_contains": got.reply,
                      "article": "Payment methods we accept", "max_words": 8}
    assert not check_turn({"article": ["Returns", "Payment Methods We Accept"]}, got)[1]
    assert check_turn({"article": ["Returns", "Refunds"]}, got)[1] == ["article"]
    for key, wrong in [("decision", "reply"), ("intent", "complaint"), ("fallback", True),
                       ("handoff_category", "anger"), ("asks_for", "order_number"),
                       ("reply_contains", ["refund"]), ("reply_not_contains", ["shortly"]),
                       ("article", None), ("article", "How to track your order"),
                       ("max_words", 7)]:
        assert check_turn({key: wrong}, got)[1] == [key]


def test_the_plain_text_of_a_reply_is_what_the_customer_reads():
    reply = (
        "Here's what our article says:\n\n"
        "| option | cost |\n| --- | --- |\n| Express | $14.95 |\n\n"
        "Use the code `SPRING_SALE_25` at checkout. Fish &amp; chips, **bold** and _soft_.\n\n"
        "[Read the whole article](/help/articles/7-shipping/)"
    )
    text = reply_plain_text(reply)
    assert "option cost" in text and "Express $14.95" in text
    assert "SPRING_SALE_25" in text and "Fish & chips, bold and soft." in text
    assert "Read the whole article" in text
    assert reply_plain_text("```\nline one\nline two\n```\nafter") == "line one\nline two\nafter"
    assert "|" not in text and "**" not in text and "`" not in text and "](" not in text
    assert word_count(text) == word_count(" ".join(text.split()))
    assert word_count("one - two | three ...") == 3


@pytest.mark.parametrize("text", ["", "   ", "\u200b\u200b", "\u200b \u2060\ufeff",
                                  "\u3164\u3164", "\u2800", "\u00ad\u200d\n\t", "\ufe0f\u034f",
                                  "\u17b4 \U000e0100", "x" * 2001])
def test_the_door_refuses_empty_invisible_and_oversized_messages(text):
    assert refused_at_door(text)


@pytest.mark.parametrize("text", ["ok", "?", "\u200bhi", "😡", "x" * 2000, "مرحبا"])
def test_the_door_takes_any_visible_message(text):
    assert not refused_at_door(text)


# --------------------------------------------------------------------------- running a dialog


def turn_result(text: str, state: dict, **fields) -> TurnResult:
    values = {
        "decision": "reply", "reply_text": f"You said **{text}**.", "intent": "order_status",
        "confidence": 0.9, "top_intents": [], "is_fallback": False, "entities": {},
        "sentiment": "neutral", "urgency": "low", "signals": [], "articles": [],
        "handoff_reason": "", "handoff_category": "", "dialog_state": state, "backend": "offline",
        "trace": {}, "total_ms": 0.0,
    }
    return TurnResult(**{**values, **fields})


def test_turns_carry_state_history_and_their_own_time(monkeypatch):
    calls = []

    def fake_run_turn(taxonomy, *, text, context, use_claude, respond, today):
        calls.append(SimpleNamespace(text=text, context=context, today=today,
                                     use_claude=use_claude, respond=respond))
        state = {"turns": context.dialog_state.get("turns", 0) + 1}
        return turn_result(text, state)

    monkeypatch.setattr(dialog_eval, "run_turn", fake_run_turn)
    (dialog,) = parse_dialogs(textwrap.dedent("""
        - name: across midnight in New York
          timezone: America/New_York
          now: "2026-11-28T04:59:15Z"
          turns:
            - customer: "  first  "
            - customer: "\u200b"
            - customer: second
            - customer: third
    """))
    outcomes = run_dialog(SimpleNamespace(), dialog)
    assert [o.decision for o in outcomes] == ["reply", "refused", "reply", "reply"]
    assert outcomes[0].reply == "You said first."  # plain text, as the customer reads it
    assert [c.text for c in calls] == ["first", "second", "third"]
    assert all(c.use_claude is False and c.respond is True for c in calls)
    assert [c.context.dialog_state for c in calls] == [{}, {"turns": 1}, {"turns": 2}]
    assert [c.context.now for c in calls] == [
        dt.datetime(2026, 11, 28, 4, 59, 15, tzinfo=dt.UTC) + dt.timedelta(seconds=30 * i)
        for i in (0, 2, 3)
    ]
    assert {c.context.timezone for c in calls} == {"America/New_York"}
    assert [c.today for c in calls] == [dt.date(2026, 11, 27), dt.date(2026, 11, 28),
                                        dt.date(2026, 11, 28)]
    assert calls[0].context.history == [] and calls[0].context.customer_texts == []
    assert calls[2].context.history == [("customer", "first"), ("bot", "You said **first**."),
                                        ("customer", "second"), ("bot", "You said **second**.")]
    assert calls[2].context.customer_texts == ["first", "second"]


def test_without_a_zone_the_desk_zone_gives_the_date(monkeypatch, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    seen = []
    monkeypatch.setattr(dialog_eval, "run_turn", lambda taxonomy, **kw: seen.append(kw) or
                        turn_result(kw["text"], {}))
    (dialog,) = parse_dialogs('- {now: "2026-11-27T16:30:00Z", turns: [{customer: hi}]}')
    run_dialog(SimpleNamespace(), dialog)
    assert seen[0]["today"] == dt.date(2026, 11, 28) and seen[0]["context"].timezone == ""


def test_after_a_handoff_the_bot_no_longer_answers(monkeypatch):
    calls = []

    def fake_run_turn(taxonomy, *, text, context, **options):
        calls.append(text)
        return turn_result(text, {"turns": 1}, decision="handoff", intent="complaint",
                           handoff_category="anger", reply_text="A person will reply.",
                           entities={"order_number": "55102"})

    monkeypatch.setattr(dialog_eval, "run_turn", fake_run_turn)
    (dialog,) = parse_dialogs(
        "- turns: [{customer: furious}, {customer: 'hello?'}, {customer: ''}, {customer: '55102'}]")
    outcomes = run_dialog(SimpleNamespace(), dialog)
    assert calls == ["furious"]
    assert [o.decision for o in outcomes] == ["handoff", "handoff", "refused", "handoff"]
    later = outcomes[3]
    assert (later.intent, later.handoff_category, later.reply, later.entities) == (
        "complaint", "anger", "", {})


def test_a_pipeline_error_hands_over_as_the_chat_task_does(monkeypatch):
    def broken_run_turn(taxonomy, **kw):
        raise RuntimeError("boom")

    monkeypatch.setattr(dialog_eval, "run_turn", broken_run_turn)
    (dialog,) = parse_dialogs("- turns: [{customer: hi}, {customer: again}]")
    first, second = run_dialog(SimpleNamespace(), dialog)
    assert (first.decision, first.handoff_category) == ("handoff", "error")
    assert "RuntimeError: boom" in first.error
    assert (second.decision, second.handoff_category) == ("handoff", "error")


# --------------------------------------------------------------------------- the command


SMALL_FILE = """
    - name: order number asked, then given
      timezone: America/New_York
      now: "2026-11-28T02:30:00Z"
      turns:
        - customer: "where is my order?"
          expect: {decision: reply, intent: order_status, asks_for: order_number}
        - customer: "it's 55102, I ordered it yesterday"
          expect:
            intent: order_status
            asks_for: null
            entities: {order_number: "55102", date: "2026-11-26", email: null}
            reply_contains: ["55102"]
    - name: two wrong expectations
      turns:
        - customer: "I was charged twice for one jacket"
          expect: {decision: reply, intent: return_request}
        - customer: "hello?"
        - customer: "I want to talk to a manager"
          expect: {decision: handoff, entities: {order_number: "12345"}}
    - name: a person takes over and the bot falls silent
      turns:
        - customer: "get me a manager please"
          expect: {decision: handoff, handoff_category: human_request}
        - customer: "\\u200b\\u200b"
          expect: {decision: refused}
        - customer: "where is my order 55102?"
          expect: {decision: handoff, handoff_category: human_request, asks_for: null,
                   entities: {order_number: null}, article: null, max_words: 1}
"""


def test_json_counts_dialogs_and_turns_and_lists_each_failing_turn(small_desk, tmp_path):
    path = write(tmp_path, SMALL_FILE)
    report = json.loads(run_command("--dialogs", path, "--json"))
    assert set(report) == {"dialogs", "dialogs_passed", "turns", "turns_passed", "failures"}
    assert report["dialogs"] == 3 and report["dialogs_passed"] == 2
    assert report["turns"] == 8 and report["turns_passed"] == 6
    assert report["failures"] == [
        {"dialog": "two wrong expectations", "turn": 1,
         "expected": {"decision": "reply", "intent": "return_request"},
         "got": {"decision": "handoff", "intent": "billing_dispute"}},
        {"dialog": "two wrong expectations", "turn": 3,
         "expected": {"decision": "handoff", "entities": {"order_number": "12345"}},
         "got": {"decision": "handoff", "entities": {"order_number": None}}},
    ]


def test_the_readable_report_names_failing_dialogs_turns_and_lines(small_desk, tmp_path):
    path = write(tmp_path, SMALL_FILE)
    out = run_command("--dialogs", path)
    assert out.startswith("Dialogs passed: 2/3; turns passed: 6/8")
    assert "FAIL two wrong expectations (line 13)" in out
    assert 'turn 1 (line 15): "I was charged twice for one jacket"' in out
    assert 'intent: expected "return_request", got "billing_dispute"' in out
    assert "FAIL order number asked" not in out and "FAIL a person takes over" not in out


def test_everything_passing_is_a_full_score(small_desk, tmp_path):
    path = write(tmp_path, """
        - name: returns
          turns:
            - customer: "can I send back these shoes?"
              expect: {decision: reply, intent: return_request, fallback: false}
            - customer: "what time do you open on sunday"
              expect: {intent: general_inquiry, handoff_category: null}
    """)
    report = json.loads(run_command("--dialogs", path, "--json"))
    assert report == {"dialogs": 1, "dialogs_passed": 1, "turns": 2, "turns_passed": 2,
                      "failures": []}


def test_without_an_active_classifier_the_command_says_so(db, tmp_path):
    path = write(tmp_path, "- turns: [{customer: hi}]\n")
    with pytest.raises(CommandError, match="No active classifier"):
        run_command("--dialogs", path)


# --------------------------------------------------------------------------- the public set


def test_the_public_dialog_set_passes_in_full_on_the_demo(db):
    """CI: every dialog of tests/data/dialogs/ passes on the demo taxonomy and classifier."""
    call_command("load_demo", password="dialogs-pass-123", traffic_days=0, verbosity=0)
    files = sorted(DIALOGS_DIR.glob("*.yaml"))
    assert files, f"no dialog files in {DIALOGS_DIR}"
    dialogs = 0
    problems = []
    for file in files:
        report = json.loads(run_command("--dialogs", str(file), "--json"))
        dialogs += report["dialogs"]
        problems += [f"{file.name}: {json.dumps(f, ensure_ascii=False)}"
                     for f in report["failures"]]
    assert dialogs >= 80
    assert not problems, f"{len(problems)} failing turns:\n" + "\n".join(problems)
