"""Import and export: exact JSON round trips, and uploads refused whole with every problem."""

import csv
import io
import json

import pytest

from knowledge import services
from knowledge.importexport import MAX_CSV_ROWS, ImportRejected, taxonomy_export
from knowledge.models import (
    Article,
    AuditLogEntry,
    EscalationSignal,
    Intent,
    TrainingPhrase,
)

pytestmark = pytest.mark.django_db


def build_taxonomy(actor):
    order = services.intent_create(
        actor=actor, slug="order_status", name="Order status", description="Where an order is.",
        escalation_policy="never",
        required_details=[{"name": "order_number", "question": "What is your order number?"}],
        phrases=["where is my order", "track my parcel", "has it shipped yet"],
    )
    dispute = services.intent_create(
        actor=actor, slug="billing_dispute", name="Billing dispute", escalation_policy="always",
        phrases=["you charged me twice", "this charge is wrong"],
    )
    services.intent_set_active(actor=actor, intent=dispute, is_active=False)
    services.signal_create(actor=actor, phrase="lawyer", category="legal")
    signal = services.signal_create(
        actor=actor, phrase="speak to a human", category="human_request"
    )
    services.signal_set_active(actor=actor, signal=signal, is_active=False)
    services.article_create(
        actor=actor, title="Tracking your order", body="# Tracking\n\nUse the link — ünïcode.",
        status="published", intents=[order, dispute],
    )
    services.article_create(actor=actor, title="Draft note", body="", status="draft")


def dump(doc) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


def wipe():
    Article.objects.all().delete()
    Intent.objects.all().delete()
    EscalationSignal.objects.all().delete()


def test_export_then_import_into_an_empty_base_round_trips_exactly(admin_user):
    build_taxonomy(admin_user)
    exported = taxonomy_export()
    assert [i["slug"] for i in exported["intents"]] == ["billing_dispute", "order_status"]
    assert exported["intents"][0]["is_active"] is False
    wipe()
    result = services.taxonomy_import_json(actor=admin_user, data=dump(exported))
    assert result.counts["intents_created"] == 2
    assert result.counts["phrases"] == 5
    assert taxonomy_export() == exported


def test_button_labels_travel_with_the_export(admin_user):
    build_taxonomy(admin_user)
    order = Intent.objects.get(slug="order_status")
    order.button_label = "Track my order"
    order.save()
    exported = taxonomy_export()
    assert [i["button_label"] for i in exported["intents"]] == ["", "Track my order"]
    wipe()
    services.taxonomy_import_json(actor=admin_user, data=dump(exported))
    assert Intent.objects.get(slug="order_status").button_label == "Track my order"
    # A file from before quick replies (no key) imports with no button.
    for item in exported["intents"]:
        del item["button_label"]
    services.taxonomy_import_json(actor=admin_user, data=dump(exported))
    assert Intent.objects.get(slug="order_status").button_label == ""


def test_importing_an_export_over_itself_changes_nothing(admin_user):
    build_taxonomy(admin_user)
    exported = taxonomy_export()
    phrase_ids = set(TrainingPhrase.objects.values_list("id", flat=True))
    services.taxonomy_import_json(actor=admin_user, data=dump(exported))
    assert taxonomy_export() == exported
    assert set(TrainingPhrase.objects.values_list("id", flat=True)) == phrase_ids
    assert AuditLogEntry.objects.filter(action="taxonomy.import").count() == 1


def test_import_replaces_an_intents_phrases_with_the_files(admin_user):
    build_taxonomy(admin_user)
    doc = taxonomy_export()
    doc["intents"][1]["phrases"] = ["where is my stuff"]
    services.taxonomy_import_json(actor=admin_user, data=dump(doc))
    assert list(
        Intent.objects.get(slug="order_status").phrases.values_list("text", flat=True)
    ) == ["where is my stuff"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.pop("signals"), 'missing key "signals"'),
        (lambda d: d["intents"][0].pop("slug"), 'missing key "slug"'),
        (lambda d: d["intents"][0].pop("phrases"), 'missing key "phrases"'),
        (lambda d: d["intents"][1]["phrases"].append(""), "the phrase is empty"),
        (lambda d: d["intents"][1]["phrases"].append("x" * 100_000), "limit 500"),
        (lambda d: d["intents"][1].update(slug="billing_dispute"), "more than once"),
        (lambda d: d["intents"][0].update(escalation_policy="sometimes"), "escalation_policy"),
        (lambda d: d["signals"][0].update(category="weird"), "category"),
        (lambda d: d["articles"][0].update(intents=["nope"]), 'unknown intent "nope"'),
        (lambda d: d["articles"].append(dict(d["articles"][0])), "appears more than once"),
        (lambda d: d["intents"][1].update(button_label="x" * 41), "the limit is 40"),
        (lambda d: d["intents"][1].update(button_label=["Track"]), '"button_label" must be a'),
    ],
)
def test_json_import_with_a_problem_changes_nothing(admin_user, mutate, expected):
    build_taxonomy(admin_user)
    before = taxonomy_export()
    doc = json.loads(json.dumps(before))
    doc["intents"][0]["name"] = "Renamed, but this must not stick"
    mutate(doc)
    with pytest.raises(ImportRejected) as caught:
        services.taxonomy_import_json(actor=admin_user, data=dump(doc))
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems
    assert taxonomy_export() == before


def test_json_problems_name_their_line(admin_user):
    text = (
        '{"format": "supportdesk-knowledge", "version": 1,\n'
        ' "intents": [\n'
        '  {"slug": "ok", "name": "Fine", "phrases": ["hello"]},\n'
        '  {"slug": "bad slug!", "name": "Broken",\n'
        '   "phrases": [""]}\n'
        ' ],\n'
        ' "signals": [],\n'
        ' "articles": [\n'
        '  {"title": "T", "body": "b", "status": "draft", "intents": ["missing"]}\n'
        ' ]}\n'
    )
    with pytest.raises(ImportRejected) as caught:
        services.taxonomy_import_json(actor=admin_user, data=text.encode())
    problems = caught.value.problems
    assert problems[0].startswith('Line 4, intents[1] "bad slug!": the slug may only')
    assert any(p.startswith('Line 4, intents[1] "bad slug!".phrases[0]') for p in problems)
    assert problems[-1] == 'Line 9, articles[0]: unknown intent "missing"'
    assert not Intent.objects.exists()


def test_json_import_lists_every_problem(admin_user):
    doc = {"intents": [{"name": "No slug", "phrases": ["", 3]}], "signals": [{}], "articles": []}
    with pytest.raises(ImportRejected) as caught:
        services.taxonomy_import_json(actor=admin_user, data=dump(doc))
    problems = caught.value.problems
    assert len(problems) >= 5
    assert any("intents[0]" in p and "slug" in p for p in problems)
    assert any("phrases[1]" in p and "string" in p for p in problems)
    assert any("signals[0]" in p and "phrase" in p for p in problems)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"intents": [', "Line 1, column"),
        (b"[]", "one JSON object"),
        ('{"intents": []}'.encode("utf-16"), "not UTF-8"),
    ],
)
def test_unreadable_json_is_refused_with_a_reason(admin_user, data, expected):
    with pytest.raises(ImportRejected) as caught:
        services.taxonomy_import_json(actor=admin_user, data=data)
    assert expected in caught.value.problems[0]


def csv_bytes(rows, header="text,intent") -> bytes:
    out = io.StringIO()
    out.write(header + "\r\n")
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def test_csv_import_creates_missing_intents_and_skips_known_phrases(admin_user, invalidations,
                                                                   django_capture_on_commit_callbacks):
    services.intent_create(actor=admin_user, slug="card_lost", name="Lost card",
                           phrases=["I lost my card"])
    data = csv_bytes([
        ["I lost my card", "card_lost"],
        ["my card is gone, help", "card_lost"],
        ["what does a transfer cost", "transfer_fee"],
        ["what does a transfer cost", "transfer_fee"],
        ["  fee   for sending money ", "transfer_fee"],
    ])
    with django_capture_on_commit_callbacks(execute=True):
        result = services.phrases_import_csv(actor=admin_user, data=data)
    assert result.counts == {
        "rows": 5, "intents_created": 1, "phrases_added": 3, "duplicates_skipped": 2
    }
    fee = Intent.objects.get(slug="transfer_fee")
    assert fee.name == "Transfer fee"
    assert list(fee.phrases.values_list("text", flat=True)) == [
        "what does a transfer cost", "fee for sending money"
    ]
    assert invalidations == ["x"]


def test_csv_import_lists_every_bad_line_and_imports_nothing(admin_user):
    data = csv_bytes([
        ["fine row", "good_intent"],
        ["", "good_intent"],
        ["no intent", ""],
        ["x" * 600, "good_intent"],
        ["bad slug", "?!?"],
        ["too", "many", "columns"],
    ])
    with pytest.raises(ImportRejected) as caught:
        services.phrases_import_csv(actor=admin_user, data=data)
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == [
        "Line 3", "Line 4", "Line 5", "Line 6", "Line 7"
    ]
    assert not Intent.objects.exists()
    assert not TrainingPhrase.objects.exists()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (csv_bytes([["a", "b"]], header="sentence,label"), "header must be exactly text,intent"),
        (b"", "empty"),
        (b"text,intent\n", "no rows"),
        (
            "text,intent\ncaf\u00e9 au lait,coffee\n".encode("latin-1"),
            "Line 2: the file is not UTF-8",
        ),
        (b"text,intent\nab\x00c,d\n", "NUL"),
    ],
)
def test_csv_with_a_bad_header_or_encoding_is_refused(admin_user, data, expected):
    with pytest.raises(ImportRejected) as caught:
        services.phrases_import_csv(actor=admin_user, data=data)
    assert expected in caught.value.problems[0]
    assert not Intent.objects.exists()


def test_csv_with_too_many_rows_is_refused(admin_user):
    data = csv_bytes([[f"message number {n}", "bulk"] for n in range(200_000)])
    with pytest.raises(ImportRejected) as caught:
        services.phrases_import_csv(actor=admin_user, data=data)
    assert f"more than {MAX_CSV_ROWS:,} rows" in caught.value.problems[0]
    assert not Intent.objects.exists()


def test_csv_labels_that_are_not_slugs_become_slugs_with_a_warning(admin_user):
    data = csv_bytes([["has my payment been reversed", "reverted_card_payment?"],
                      ["when does the card come", "Card arrival"]])
    result = services.phrases_import_csv(actor=admin_user, data=data)
    reverted = Intent.objects.get(slug="reverted_card_payment")
    assert reverted.name == "reverted_card_payment?"
    assert Intent.objects.get(slug="card_arrival").name == "Card arrival"
    assert len(result.warnings) == 2 and '"reverted_card_payment?"' in result.warnings[1]


def test_csv_with_a_byte_order_mark_is_read(admin_user):
    data = "\ufefftext,intent\nhello there,greeting\n".encode()
    result = services.phrases_import_csv(actor=admin_user, data=data)
    assert result.counts["phrases_added"] == 1
