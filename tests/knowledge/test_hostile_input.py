"""Hostile uploads and forms: a 400 with a clear message, nothing changed (issue 15, items 6-7)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from knowledge import services
from knowledge.importexport import ImportRejected, taxonomy_export
from knowledge.models import AuditLogEntry, Intent, TrainingPhrase

pytestmark = pytest.mark.django_db


def doc_with(intents: list[dict] | str) -> bytes:
    body = intents if isinstance(intents, str) else json.dumps(intents)
    return ('{"format": "supportdesk-knowledge", "version": 1, "intents": ' + body
            + ', "signals": [], "articles": []}').encode()


def intent(slug: str, phrases: list[str]) -> dict:
    return {"slug": slug, "name": slug.title(), "phrases": phrases}


def csv_bytes(rows: list[tuple[str, str]]) -> bytes:
    out = io.StringIO()
    out.write("text,intent\r\n")
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def post_import(client, kind: str, data: bytes):
    return client.post(
        reverse("knowledge:import_export"),
        {"kind": kind, "file": SimpleUploadedFile(f"upload.{kind}", data)},
    )


@pytest.fixture
def before(admin_user):
    services.intent_create(actor=admin_user, slug="kept", name="Kept", phrases=["keep me"])
    return taxonomy_export()


HOSTILE_JSON = {
    "a 4,300-digit integer": (doc_with('[{"slug": "x", "name": "X", "phrases": [], "version": '
                                       + "7" * 4300 + "}]"), "4,300 digits"),
    "a 5,000-digit version": (b'{"version": ' + b"9" * 5000 + b', "intents": []}', "digits"),
    "100,000 nested brackets": (doc_with("[" * 100_000), "nest too deeply"),
    "deep objects": (doc_with('[{"a": ' * 5000 + "1" + "}" * 5000 + "]"), "nest too deeply"),
    "NaN": (doc_with('[{"slug": NaN}]'), "NaN"),
}


@pytest.mark.parametrize("case", list(HOSTILE_JSON))
def test_hostile_json_upload_is_a_400_with_its_reason_and_changes_nothing(
    admin_client, before, case
):
    data, reason = HOSTILE_JSON[case]
    audits = AuditLogEntry.objects.count()
    response = post_import(admin_client, "json", data)
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert taxonomy_export() == before
    assert AuditLogEntry.objects.count() == audits


@override_settings(IMPORT_MAX_NEW_INTENTS=3)
def test_json_import_creating_too_many_intents_is_refused_with_the_counts(admin_user, before):
    intents = [intent(f"new_{n}", [f"phrase {n}"]) for n in range(4)]
    kept = intent("kept", ["keep me"])
    with pytest.raises(ImportRejected) as caught:
        services.taxonomy_import_json(actor=admin_user, data=doc_with([*intents, kept]))
    assert "4 new intents" in caught.value.problems[0]
    assert "at most 3" in caught.value.problems[0]
    assert taxonomy_export() == before
    # Existing intents do not count as new: three new ones and "kept" go through.
    services.taxonomy_import_json(actor=admin_user, data=doc_with([*intents[:3], kept]))
    assert Intent.objects.count() == 4


@override_settings(IMPORT_MAX_PHRASES_PER_INTENT=5)
def test_json_import_with_too_many_phrases_for_an_intent_is_refused(admin_user, before):
    data = doc_with([intent("kept", [f"way {n}" for n in range(6)])])
    with pytest.raises(ImportRejected) as caught:
        services.taxonomy_import_json(actor=admin_user, data=data)
    assert caught.value.problems == [
        'The intent "kept" would have 6 phrases; the limit is 5 per intent '
        "(setting IMPORT_MAX_PHRASES_PER_INTENT)."
    ]
    assert taxonomy_export() == before


@override_settings(IMPORT_MAX_NEW_INTENTS=20)
def test_csv_of_many_distinct_labels_is_refused_through_the_page(admin_client, before):
    rows = [(f"text number {n}", f"label_{n}") for n in range(50)]
    response = post_import(admin_client, "csv", csv_bytes(rows))
    assert response.status_code == 400
    assert "would create 50 new intents" in response.content.decode()
    assert "at most 20" in response.content.decode()
    assert taxonomy_export() == before


@override_settings(IMPORT_MAX_PHRASES_PER_INTENT=3)
def test_csv_phrases_per_intent_count_what_is_there_once(admin_user, before):
    # "keep me" is there already: two more fit, three more do not.
    services.phrases_import_csv(actor=admin_user, data=csv_bytes(
        [("keep me", "kept"), ("second way", "kept"), ("third way", "kept")]
    ))
    assert TrainingPhrase.objects.filter(intent__slug="kept").count() == 3
    with pytest.raises(ImportRejected) as caught:
        services.phrases_import_csv(actor=admin_user, data=csv_bytes([("fourth way", "kept")]))
    assert '"kept" would have 4 phrases' in caught.value.problems[0]
    assert TrainingPhrase.objects.filter(intent__slug="kept").count() == 3


HOSTILE_STATES = {
    "a huge integer": ('{"turns": ' + "9" * 4300 + "}", "digits"),
    "a big integer": ('{"fallbacks": 99999999}', "whole number"),
    "deep nesting": ('{"details": ' + "[" * 5000 + "]" * 5000 + "}", "nest too deeply"),
    "pending as text": ('{"pending": "order_number"}', "pending"),
    "turns as text": ('{"turns": "3"}', "turns"),
    "details as a list": ('{"details": [1, 2]}', "details"),
    "a detail as an object": ('{"details": {"order_number": {"x": 1}}}', "details.order_number"),
    "last_intent as a number": ('{"last_intent": 5}', "last_intent"),
    "infinity": ('{"turns": Infinity}', "Infinity"),
}


@pytest.mark.parametrize("case", list(HOSTILE_STATES))
def test_playground_refuses_a_hostile_dialog_state_with_a_400(admin_client, case):
    state, reason = HOSTILE_STATES[case]
    response = admin_client.post(
        reverse("knowledge:playground"), {"text": "where is my order", "dialog_state": state}
    )
    assert response.status_code == 400
    assert reason in response.content.decode()


def full_doc(**parts: list[dict]) -> bytes:
    """An export document with the given parts; json.dumps escapes NUL and lone surrogates."""
    doc = {"format": "supportdesk-knowledge", "version": 1,
           "intents": [], "signals": [], "articles": []}
    doc.update(parts)
    return json.dumps(doc).encode()


UNSTORABLE_IMPORTS = {
    "half an emoji ending a phrase": (
        full_doc(intents=[intent("refunds", ["money back please \ud83d"])]),
        "intents[0].phrases[0]"),
    "a NUL in an intent name": (
        full_doc(intents=[{"slug": "refunds", "name": "Re\x00funds", "phrases": ["a"]}]),
        "intents[0].name"),
    "a NUL in an article body": (
        full_doc(articles=[{"title": "Returns", "body": "Send it\x00 back", "status": "published",
                            "intents": []}]),
        "articles[0].body"),
    "a low surrogate in a signal": (
        full_doc(signals=[{"phrase": "\udc00lawyer", "category": "legal", "is_active": True}]),
        "signals[0].phrase"),
    "a NUL in a key": (full_doc(intents=[{"slug": "refunds", "name": "Refunds", "phrases": [],
                                          "no\x00te": "x"}]), "key of the object at intents[0]"),
}


@pytest.mark.parametrize("case", list(UNSTORABLE_IMPORTS))
def test_json_upload_with_nul_or_half_an_emoji_is_a_400_naming_where(admin_client, before, case):
    data, where = UNSTORABLE_IMPORTS[case]
    audits = AuditLogEntry.objects.count()
    response = post_import(admin_client, "json", data)
    assert response.status_code == 400
    page = response.content.decode()
    assert where in page and "NUL character or half of an emoji" in page
    assert taxonomy_export() == before
    assert AuditLogEntry.objects.count() == audits


@pytest.mark.parametrize(
    "state", [r'{"last_intent": "re\u0000funds"}', r'{"details": {"x": "\ud83d"}}']
)
def test_playground_refuses_unstorable_text_in_the_dialog_state(admin_client, state):
    response = admin_client.post(
        reverse("knowledge:playground"), {"text": "where is my order", "dialog_state": state}
    )
    assert response.status_code == 400
    assert "NUL character or half of an emoji" in response.content.decode()


def nul_posts(kept_pk: int) -> dict[str, tuple[str, dict]]:
    """Each knowledge form with a NUL in one text field (a form post can carry one as %00)."""
    return {
        "intent name": (reverse("knowledge:intent_create"),
                        {"slug": "refunds", "name": "Re\x00funds", "escalation_policy": "never"}),
        "intent description": (reverse("knowledge:intent_edit", args=[kept_pk]),
                               {"slug": "kept", "name": "Kept", "description": "a\x00b",
                                "escalation_policy": "never"}),
        "phrase": (reverse("knowledge:phrase_add", args=[kept_pk]), {"text": "keep\x00 it"}),
        "signal": (reverse("knowledge:signal_list"), {"phrase": "law\x00yer", "category": "legal",
                                                      "is_active": "on"}),
        "article body": (reverse("knowledge:article_create"),
                         {"title": "Returns", "body": "Send\x00 it back", "status": "draft"}),
    }


@pytest.mark.parametrize(
    "case", ["intent name", "intent description", "phrase", "signal", "article body"]
)
def test_knowledge_forms_refuse_a_nul_and_change_nothing(admin_client, before, case):
    url, data = nul_posts(Intent.objects.get(slug="kept").pk)[case]
    response = admin_client.post(url, data)
    assert response.status_code == 400
    assert "Null characters are not allowed." in response.content.decode()
    assert taxonomy_export() == before


def test_the_audit_log_ignores_a_nul_in_its_type_filter(admin_client, before):
    response = admin_client.get(reverse("knowledge:audit_log") + "?type=intent%00")
    assert response.status_code == 200
    assert "kept" in response.content.decode()  # unfiltered: the intent's creation is listed
