"""The knowledge pages through the Django test client, as full pages and as htmx fragments."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from knowledge import services
from knowledge.bot import bot_registered
from knowledge.importexport import taxonomy_export
from knowledge.models import (
    Article,
    AuditLogEntry,
    ClassifierModel,
    EscalationSignal,
    Intent,
    TrainingPhrase,
)

pytestmark = pytest.mark.django_db


def is_fragment(response) -> bool:
    return b"<html" not in response.content


@pytest.fixture
def intent(admin_user):
    return services.intent_create(
        actor=admin_user, slug="order_status", name="Order status",
        phrases=["where is my order", "track my parcel"],
    )


# --- Intents ----------------------------------------------------------------------------------


def test_intent_list_shows_counts_warnings_and_the_active_models_figures(admin_client, intent):
    services.article_create(actor=None, title="Tracking", body="x", intents=[intent])
    ClassifierModel.objects.create(
        version=1, status="ready", is_active=True,
        metrics={"accuracy": 0.9, "per_intent": {
            "order_status": {"precision": 0.875, "recall": 0.5, "f1": 0.7, "support": 8}
        }},
    )
    response = admin_client.get(reverse("knowledge:intent_list"))
    html = response.content.decode()
    assert response.status_code == 200
    row = html[html.index('data-slug="order_status"'):]
    assert "<td>2 <span" in row and "too few" in row  # two phrases, under the minimum
    assert "<td>1</td>" in row  # one article
    assert "<td>0.88</td>" in row and "<td>0.50</td>" in row


def test_intent_create_answers_field_errors_for_duplicate_and_bad_slugs(admin_client, intent):
    url = reverse("knowledge:intent_create")
    response = admin_client.post(
        url, {"slug": "order_status", "name": "Again", "escalation_policy": "never"}
    )
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    response = admin_client.post(
        url, {"slug": "bad slug", "name": "X", "escalation_policy": "never"}
    )
    assert response.status_code == 400
    response = admin_client.post(
        url, {"slug": "refund", "name": "X", "escalation_policy": "never",
              "required_details": "just a line without a bar"},
    )
    assert response.status_code == 400
    assert "name | question" in response.content.decode()
    assert Intent.objects.count() == 1


def test_intent_create_and_edit(admin_client):
    response = admin_client.post(
        reverse("knowledge:intent_create"),
        {"slug": "refund", "name": "Refund", "escalation_policy": "negative",
         "description": "Money back.", "required_details": "order_number | Which order?"},
    )
    refund = Intent.objects.get(slug="refund")
    assert response.status_code == 302
    assert response["Location"] == reverse("knowledge:intent_edit", args=[refund.pk])
    assert refund.required_details == [{"name": "order_number", "question": "Which order?"}]
    page = admin_client.get(response["Location"]).content.decode()
    assert "order_number | Which order?" in page
    response = admin_client.post(
        reverse("knowledge:intent_edit", args=[refund.pk]),
        {"slug": "refund_request", "name": "Refund", "escalation_policy": "always"},
    )
    refund.refresh_from_db()
    assert (refund.slug, refund.escalation_policy, refund.required_details) == (
        "refund_request", "always", []
    )


def test_the_intent_form_offers_the_when_angry_policy(admin_client):
    page = admin_client.get(reverse("knowledge:intent_create")).content.decode()
    assert 'value="angry"' in page and "When the customer is angry" in page
    admin_client.post(
        reverse("knowledge:intent_create"),
        {"slug": "complaint", "name": "Complaint", "escalation_policy": "angry"},
    )
    assert Intent.objects.get(slug="complaint").escalation_policy == "angry"


def test_intent_toggle_deactivates(admin_client, intent, htmx_headers):
    response = admin_client.post(reverse("knowledge:intent_toggle", args=[intent.pk]))
    assert response.status_code == 302
    intent.refresh_from_db()
    assert not intent.is_active
    response = admin_client.post(
        reverse("knowledge:intent_toggle", args=[intent.pk]), **htmx_headers
    )
    assert response["HX-Redirect"] == reverse("knowledge:intent_edit", args=[intent.pk])
    intent.refresh_from_db()
    assert intent.is_active


def test_phrase_add_with_htmx_returns_the_phrase_list_fragment(admin_client, intent, htmx_headers):
    response = admin_client.post(
        reverse("knowledge:phrase_add", args=[intent.pk]), {"text": "has it shipped"},
        **htmx_headers,
    )
    assert response.status_code == 200
    assert is_fragment(response)
    html = response.content.decode()
    assert html.strip().startswith('<section class="card" id="phrases"')
    assert "has it shipped" in html
    assert intent.phrases.count() == 3


def test_phrase_add_without_htmx_redirects_to_the_intent(admin_client, intent):
    response = admin_client.post(
        reverse("knowledge:phrase_add", args=[intent.pk]), {"text": "has it shipped"}
    )
    assert response.status_code == 302
    assert intent.phrases.filter(text="has it shipped").exists()


@pytest.mark.parametrize("text", ["", "   ", "z" * 100_000])
def test_bad_phrases_get_a_field_error_not_a_500(admin_client, intent, htmx_headers, text):
    for headers in ({}, htmx_headers):
        response = admin_client.post(
            reverse("knowledge:phrase_add", args=[intent.pk]), {"text": text}, **headers
        )
        assert response.status_code == 400
        assert 'class="errorlist' in response.content.decode()
    assert intent.phrases.count() == 2


def test_phrase_in_another_intent_is_warned_about(admin_client, admin_user, intent, htmx_headers):
    other = services.intent_create(actor=admin_user, slug="shipping", name="Shipping")
    response = admin_client.post(
        reverse("knowledge:phrase_add", args=[other.pk]), {"text": "Track my parcel"},
        **htmx_headers,
    )
    html = response.content.decode()
    assert 'data-sd="phrase-conflict"' in html and "order_status" in html
    page = admin_client.get(reverse("knowledge:intent_edit", args=[intent.pk])).content.decode()
    assert "also in shipping" in page


def test_phrase_remove_with_and_without_htmx(admin_client, intent, htmx_headers):
    first, second = intent.phrases.order_by("pk")
    response = admin_client.post(
        reverse("knowledge:phrase_remove", args=[first.pk]), **htmx_headers
    )
    assert response.status_code == 200 and is_fragment(response)
    assert first.text not in response.content.decode()
    response = admin_client.post(reverse("knowledge:phrase_remove", args=[second.pk]))
    assert response.status_code == 302
    assert not intent.phrases.exists()


def test_phrase_endpoints_refuse_get(admin_client, intent):
    assert admin_client.get(reverse("knowledge:phrase_add", args=[intent.pk])).status_code == 405


# --- Signals ----------------------------------------------------------------------------------


def customer_messages(texts, age=timedelta(hours=1)):
    from chat.models import Conversation, Message, Widget

    widget = Widget.objects.create(public_key="w1", name="Shop")
    conversation = Conversation.objects.create(widget=widget, token_hash="0" * 64)
    when = timezone.now() - age
    for seq, text in enumerate(texts, 1):
        Message.objects.create(
            conversation=conversation, seq=seq, author="customer", text=text, created_at=when
        )
    return conversation


def test_signal_preview_matches_words_in_context_from_the_last_week(admin_client, htmx_headers):
    customer_messages(["I want to speak to your manager now", "is this chair good for managers?",
                       "mismanagerial nonsense"])
    customer_messages_old = customer_messages
    del customer_messages_old
    from chat.models import Conversation, Message

    old = Conversation.objects.get()
    Message.objects.create(
        conversation=old, seq=99, author="customer", text="get me a manager",
        created_at=timezone.now() - timedelta(days=9),
    )
    response = admin_client.get(
        reverse("knowledge:signal_preview"),
        {"phrase": "manager", "category": "human_request"}, **htmx_headers,
    )
    html = response.content.decode()
    assert is_fragment(response)
    assert "<strong>1</strong> of the 3 customer messages" in html
    assert "speak to your manager" in html
    assert "chair" not in html and "get me a manager" not in html


def test_signal_create_edit_and_disable(admin_client, htmx_headers):
    response = admin_client.post(
        reverse("knowledge:signal_list"), {"phrase": "lawyer", "category": "legal"}
    )
    assert response.status_code == 302
    signal = EscalationSignal.objects.get()
    response = admin_client.post(
        reverse("knowledge:signal_list"), {"phrase": "LAWYER", "category": "legal"}
    )
    assert response.status_code == 400 and "already exists" in response.content.decode()
    response = admin_client.post(
        reverse("knowledge:signal_list"), {"phrase": "", "category": "legal"}
    )
    assert response.status_code == 400
    response = admin_client.post(
        reverse("knowledge:signal_edit", args=[signal.pk]),
        {"phrase": "attorney", "category": "legal", "is_active": "on"},
    )
    assert response.status_code == 302
    response = admin_client.post(
        reverse("knowledge:signal_toggle", args=[signal.pk]), **htmx_headers
    )
    assert is_fragment(response) and "Enable" in response.content.decode()
    signal.refresh_from_db()
    assert (signal.phrase, signal.is_active) == ("attorney", False)


# --- Articles ---------------------------------------------------------------------------------


def test_article_list_searches_filters_and_pages(admin_client, admin_user, intent, htmx_headers):
    for n in range(30):
        services.article_create(
            actor=admin_user, title=f"Article {n:02d}", body=f"body {n} parcel" if n % 2 else "x",
            status="published" if n < 10 else "draft", intents=[intent] if n < 5 else [],
        )
    url = reverse("knowledge:article_list")
    page = admin_client.get(url).content.decode()
    assert page.count('data-sd="article-row"') == 25 and "Page 1 of 2" in page
    response = admin_client.get(url, {"q": "PARCEL", "status": "published"}, **htmx_headers)
    assert is_fragment(response)
    assert response.content.decode().count('data-sd="article-row"') == 5  # 1,3,5,7,9
    response = admin_client.get(url, {"intent": "order_status"}, **htmx_headers)
    assert response.content.decode().count('data-sd="article-row"') == 5
    response = admin_client.get(url, {"q": "  ARTICLE   07 "}, **htmx_headers)
    assert response.content.decode().count('data-sd="article-row"') == 1


def test_article_list_queries_do_not_grow_with_the_page(
    admin_client, admin_user, intent, django_assert_max_num_queries
):
    for n in range(40):
        services.article_create(actor=admin_user, title=f"A{n}", body="b", intents=[intent])
    admin_client.get(reverse("knowledge:article_list"))  # warm the session
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("knowledge:article_list"), {"q": "a"})
    assert response.content.decode().count("<code>order_status</code>") == 25


def test_article_with_script_is_stored_but_never_rendered_as_script(admin_client, intent):
    body = "Hi <script>alert('x')</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>"
    response = admin_client.post(
        reverse("knowledge:article_create"),
        {"title": "Hostile", "body": body, "status": "draft", "intents": ["order_status"]},
    )
    assert response.status_code == 302
    article = Article.objects.get()
    assert article.body == body
    html = admin_client.get(reverse("knowledge:article_edit", args=[article.pk])).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html  # shown as text in the editor and the preview
    assert 'href="javascript' not in html and "<img src=x" not in html


def test_article_preview_fragment_is_sanitised(admin_client, htmx_headers):
    response = admin_client.post(
        reverse("knowledge:article_preview"),
        {"body": "**bold** <script>alert(1)</script> [a](javascript:x)"}, **htmx_headers,
    )
    html = response.content.decode()
    assert is_fragment(response)
    assert "<strong>bold</strong>" in html
    assert "<script>" not in html and 'href="javascript' not in html


def test_article_form_errors(admin_client):
    response = admin_client.post(
        reverse("knowledge:article_create"), {"title": "", "body": "", "status": "gone"}
    )
    assert response.status_code == 400
    assert not Article.objects.exists()


def test_article_history_and_restore(admin_client, admin_user, intent, htmx_headers):
    article = services.article_create(actor=admin_user, title="T", body="one", intents=[intent])
    admin_client.post(
        reverse("knowledge:article_edit", args=[article.pk]),
        {"title": "T", "body": "two", "status": "published"},
    )
    history = admin_client.get(reverse("knowledge:article_versions", args=[article.pk]))
    html = history.content.decode()
    assert html.count('data-sd="version-row"') == 2
    assert "body, status, intents" in html and "ada" in html
    version = admin_client.get(reverse("knowledge:article_version", args=[article.pk, 1]))
    assert "<p>one</p>" in version.content.decode()
    version = admin_client.get(reverse("knowledge:article_version", args=[article.pk, 2]))
    html = version.content.decode()
    assert "-one\n+two" in html and "draft → published" in html
    response = admin_client.post(
        reverse("knowledge:article_version_restore", args=[article.pk, 1]), **htmx_headers
    )
    assert response["HX-Redirect"] == reverse("knowledge:article_edit", args=[article.pk])
    article.refresh_from_db()
    assert (article.body, article.status) == ("one", "draft")
    assert list(article.intents.values_list("slug", flat=True)) == ["order_status"]
    assert admin_client.post(
        reverse("knowledge:article_version_restore", args=[article.pk, 99])
    ).status_code == 404


# --- Import and export ------------------------------------------------------------------------


def upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def test_export_download_round_trips_through_the_import_page(admin_client, intent):
    response = admin_client.get(reverse("knowledge:export_json"))
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    exported = json.loads(response.content)
    assert exported == taxonomy_export()
    Intent.objects.all().delete()
    response = admin_client.post(
        reverse("knowledge:import_export"),
        {"kind": "json", "file": upload("k.json", response.content)},
    )
    assert response.status_code == 200
    assert 'data-sd="import-result"' in response.content.decode()
    assert taxonomy_export() == exported


def test_import_with_problems_answers_400_listing_them(admin_client, intent, htmx_headers):
    response = admin_client.post(
        reverse("knowledge:import_export"),
        {"kind": "json", "file": upload("k.json", b'{"intents": [], "signals": []}')},
        **htmx_headers,
    )
    assert response.status_code == 400
    assert is_fragment(response)
    assert "Nothing was imported" in response.content.decode()
    assert 'missing key &quot;articles&quot;' in response.content.decode()
    response = admin_client.post(
        reverse("knowledge:import_export"),
        {"kind": "csv", "file": upload("p.csv", b"label,sentence\nx,y\n")},
    )
    assert response.status_code == 400
    assert "header must be exactly text,intent" in response.content.decode()
    response = admin_client.post(reverse("knowledge:import_export"), {"kind": "csv"})
    assert response.status_code == 400
    assert Intent.objects.count() == 1


def test_wrongly_encoded_csv_through_the_page_is_a_400_with_the_reason(admin_client):
    data = "text,intent\nça ne marche pas,broken\n".encode("cp1252")
    response = admin_client.post(
        reverse("knowledge:import_export"), {"kind": "csv", "file": upload("p.csv", data)}
    )
    assert response.status_code == 400
    assert "not UTF-8" in response.content.decode()
    assert not Intent.objects.exists()


def test_history_restore_gets_the_whole_page(admin_client):
    response = admin_client.get(
        reverse("knowledge:article_list"),
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert not is_fragment(response)
    assert "HX-Request" in response["Vary"]


def test_csv_import_through_the_page(admin_client):
    data = b"text,intent\nmy card never came,card_arrival\nwhere is the new card,card_arrival\n"
    response = admin_client.post(
        reverse("knowledge:import_export"), {"kind": "csv", "file": upload("p.csv", data)}
    )
    assert response.status_code == 200
    assert TrainingPhrase.objects.filter(intent__slug="card_arrival").count() == 2


# --- Training ---------------------------------------------------------------------------------


def test_model_status_polls_while_training_and_stops_when_done(admin_client, htmx_headers):
    model = ClassifierModel.objects.create(version=1, status="training", progress=0.4)
    url = reverse("knowledge:model_detail", args=[model.pk])
    response = admin_client.get(url, **htmx_headers)
    html = response.content.decode()
    assert response.status_code == 200 and is_fragment(response)
    assert 'hx-trigger="every 1s"' in html and "40%" in html
    model.status, model.progress = "ready", 1.0
    model.metrics = {
        "accuracy": 0.8123, "macro_f1": 0.8, "n_folds": 5, "train_seconds": 1.5,
        "confusions": [{"a": "refund", "b": "order_status", "count": 3,
                        "examples": ["where's my money"]}],
    }
    model.save()
    response = admin_client.get(url, **htmx_headers)
    html = response.content.decode()
    assert response.status_code == 286  # htmx stops polling
    assert "every 1s" not in html
    assert "0.812" in html and "where&#x27;s my money" in html
    assert 'data-sd="model-activate"' in html
    full = admin_client.get(url)
    assert full.status_code == 200 and not is_fragment(full)


def test_training_page_lists_models(admin_client):
    ClassifierModel.objects.create(version=3, status="ready", is_active=True,
                                   metrics={"accuracy": 0.75})
    ClassifierModel.objects.create(version=4, status="ready", metrics={"accuracy": 0.8})
    html = admin_client.get(reverse("knowledge:training")).content.decode()
    assert html.count('data-sd="model-row"') == 2
    assert html.count('data-sd="model-activate"') == 1


def test_train_is_refused_while_a_model_trains_but_not_behind_a_dead_one(admin_client):
    from knowledge.selectors import TRAINING_STALE_AFTER

    running = ClassifierModel.objects.create(version=1, status="training")
    response = admin_client.post(reverse("knowledge:training"))
    assert response.status_code == 302 and ClassifierModel.objects.count() == 1
    assert "disabled" in admin_client.get(reverse("knowledge:training")).content.decode()
    ClassifierModel.objects.filter(pk=running.pk).update(
        created_at=timezone.now() - TRAINING_STALE_AFTER - timedelta(minutes=1)
    )
    html = admin_client.get(reverse("knowledge:training")).content.decode()
    assert 'data-sd="train">' in html


def test_activating_an_unfinished_model_is_refused(admin_client):
    model = ClassifierModel.objects.create(version=1, status="training")
    response = admin_client.post(reverse("knowledge:model_activate", args=[model.pk]))
    assert response.status_code == 302
    model.refresh_from_db()
    assert not model.is_active


# --- Playground and audit ---------------------------------------------------------------------


def test_playground_form_errors(admin_client, htmx_headers):
    response = admin_client.post(reverse("knowledge:playground"), {"text": ""}, **htmx_headers)
    assert response.status_code == 400 and is_fragment(response)
    response = admin_client.post(reverse("knowledge:playground"), {"text": "x" * 50_000})
    assert response.status_code == 400


def test_audit_log_page_lists_and_filters(admin_client, intent):
    services.signal_create(actor=None, phrase="lawyer", category="legal")
    html = admin_client.get(reverse("knowledge:audit_log")).content.decode()
    assert "intent.create" in html and "signal.create" in html
    html = admin_client.get(reverse("knowledge:audit_log"), {"type": "escalationsignal"}).content
    assert b"signal.create" in html and b"intent.create" not in html
    assert AuditLogEntry.objects.count() == 2


def fake_turn(calls):
    from chat.bot.types import TurnResult

    def playground_turn(*, text, history=(), dialog_state=None):
        calls.append({"text": text, "history": list(history), "dialog_state": dialog_state})
        return TurnResult(
            decision="reply", reply_text="Use the <b>link</b> in your email.",
            intent="order_status", confidence=0.91,
            top_intents=[("order_status", 0.91), ("refund", 0.05), ("greeting", 0.02),
                         ("other", 0.01)],
            is_fallback=False, entities={"order_number": "55102"}, sentiment="neutral",
            urgency="low", signals=[{"phrase": "lawyer", "category": "legal"}],
            articles=[{"id": 1, "title": "Tracking <i>orders</i>", "score": 0.8}],
            handoff_reason="", handoff_category="",
            dialog_state={"pending": None, "turns": len(history) + 1},
            backend="offline", trace={"quality": {"ok": True}, "classify": {"ms": 1.0}},
            total_ms=12.5,
        )

    return playground_turn


def test_playground_shows_every_stage_and_stores_no_conversation(
    admin_client, htmx_headers, monkeypatch
):
    from chat.models import Conversation, Message

    calls = []
    monkeypatch.setattr(bot_registered(), "playground_turn", fake_turn(calls))
    response = admin_client.post(
        reverse("knowledge:playground"),
        {"text": "where is order 55102", "history": "hi\n\n  there  \n"}, **htmx_headers,
    )
    html = response.content.decode()
    assert response.status_code == 200 and is_fragment(response)
    assert calls == [{"text": "where is order 55102", "history": ["hi", "there"],
                      "dialog_state": None}]
    assert '<code data-sd="pg-intent">order_status</code>' in html
    assert html.count("<li><code>") == 3  # the top three only
    assert "55102" in html and "lawyer" in html and "0.800" in html
    assert "Tracking &lt;i&gt;orders&lt;/i&gt;" in html  # titles and replies are escaped
    assert "&lt;b&gt;link&lt;/b&gt;" in html
    assert "&quot;ok&quot;: true" in html  # the quality check
    assert not Conversation.objects.exists() and not Message.objects.exists()

    # The follow-up form carries the history and the dialog state into the next turn.
    admin_client.post(
        reverse("knowledge:playground"),
        {"text": "it's 55102", "history": "hi\nthere\nwhere is order 55102",
         "dialog_state": '{"pending": {"intent": "order_status", "detail": "order_number"}}'},
        **htmx_headers,
    )
    assert calls[1]["dialog_state"] == {
        "pending": {"intent": "order_status", "detail": "order_number"}
    }
    assert calls[1]["history"] == ["hi", "there", "where is order 55102"]
    response = admin_client.post(
        reverse("knowledge:playground"), {"text": "x", "dialog_state": "[1, 2]"}
    )
    assert response.status_code == 400
    assert len(calls) == 2


# --- Training and the playground on the real pipeline ----------------------------------------

GREETINGS = ["hello there", "hi", "good morning", "hey team", "hiya", "hello, anyone around",
             "good afternoon", "hey there", "hi folks", "morning all", "greetings", "howdy"]
PARCELS = ["where is my parcel", "track my parcel", "has my parcel shipped", "parcel status",
           "when will my parcel arrive", "my parcel is late", "is my parcel on the way",
           "parcel tracking please", "where's the parcel I ordered", "parcel not delivered yet",
           "check on my parcel", "parcel delivery date"]


def test_train_activate_and_the_playground_answers_from_the_article(
    admin_client, admin_user, django_capture_on_commit_callbacks, invalidations
):
    services.intent_create(actor=admin_user, slug="greeting", name="Greeting", phrases=GREETINGS)
    parcel = services.intent_create(
        actor=admin_user, slug="parcel_status", name="Parcel status", phrases=PARCELS
    )
    services.article_create(
        actor=admin_user, title="Following your parcel", status="published", intents=[parcel],
        body="Every parcel has a tracking link in the dispatch email from Acme.",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("knowledge:training"))
    model = ClassifierModel.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("knowledge:model_detail", args=[model.pk])
    assert model.status == "ready" and model.n_intents == 2
    assert model.is_active  # the first model activates itself
    assert AuditLogEntry.objects.filter(action="classifier.train").exists()
    html = admin_client.get(response["Location"]).content.decode()
    assert 'data-sd="model-active"' in html and 'data-sd="model-accuracy"' in html

    # A second model, activated by hand, and the first one re-activated.
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("knowledge:training"))
    second = ClassifierModel.objects.get(version=2)
    admin_client.post(reverse("knowledge:model_activate", args=[model.pk]))
    model.refresh_from_db()
    second.refresh_from_db()
    assert model.is_active and not second.is_active
    assert AuditLogEntry.objects.filter(action="classifier.activate").count() == 1

    response = admin_client.post(
        reverse("knowledge:playground"), {"text": "any news on where my parcel is?"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert '<code data-sd="pg-intent">parcel_status</code>' in html
    assert "Following your parcel" in html
    assert "tracking link" in html
    assert 'data-sd="pg-smalltalk"' not in html

    # The taxonomy has its own greeting intent: a greeting goes to it, not to the built-in
    # small talk.
    html = admin_client.post(
        reverse("knowledge:playground"), {"text": "hey there!"}, headers={"HX-Request": "true"},
    ).content.decode()
    assert '<code data-sd="pg-intent">greeting</code>' in html
    assert 'data-sd="pg-smalltalk"' not in html


def test_the_playground_shows_a_pleasantry_answered_in_kind(admin_client, htmx_headers):
    from chat.bot.taxonomy import taxonomy_invalidate

    taxonomy_invalidate()  # an earlier test's taxonomy (with a greeting intent) may be cached
    # This taxonomy is empty: no greeting intent of its own.
    html = admin_client.post(
        reverse("knowledge:playground"), {"text": "Good morning!"}, **htmx_headers
    ).content.decode()
    assert "Hello! What can I help you with today?" in html
    assert 'data-sd="pg-smalltalk">Small talk (greeting)' in html
    assert "not needed: the bot" in html


def test_intent_list_queries_do_not_grow_with_intents(
    admin_client, admin_user, django_assert_max_num_queries
):
    for n in range(30):
        intent = services.intent_create(
            actor=admin_user, slug=f"i{n}", name=f"I{n}", phrases=[f"p{n}a", f"p{n}b"]
        )
        services.article_create(actor=admin_user, title=f"A{n}", body="b", intents=[intent])
    admin_client.get(reverse("knowledge:intent_list"))
    with django_assert_max_num_queries(6):
        html = admin_client.get(reverse("knowledge:intent_list")).content.decode()
    assert html.count('data-sd="intent-row"') == 30


def test_admins_choose_an_intent_s_quick_reply_button(admin_client, intent):
    url = reverse("knowledge:intent_edit", args=[intent.pk])
    page = admin_client.get(url).content.decode()
    assert "Quick-reply button" in page
    base = {"slug": intent.slug, "name": intent.name, "escalation_policy": "never"}
    response = admin_client.post(url, {**base, "button_label": "  Track   my order "})
    assert response.status_code == 302
    intent.refresh_from_db()
    assert intent.button_label == "Track my order"
    assert 'value="Track my order"' in admin_client.get(url).content.decode()
    # Too long: a field error, nothing changed.
    response = admin_client.post(url, {**base, "button_label": "x" * 41})
    assert response.status_code == 400
    intent.refresh_from_db()
    assert intent.button_label == "Track my order"
    # Emptied: no button.
    admin_client.post(url, {**base, "button_label": ""})
    intent.refresh_from_db()
    assert intent.button_label == ""
