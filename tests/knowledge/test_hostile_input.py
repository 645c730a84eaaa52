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
