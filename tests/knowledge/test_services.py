"""Every write goes through a service: checked, audited, and followed by an invalidation."""

import pytest
from django.core.exceptions import ValidationError

from knowledge import services
from knowledge.models import (
    Article,
    ArticleVersion,
    AuditLogEntry,
    EscalationSignal,
    Intent,
    TrainingPhrase,
)

pytestmark = pytest.mark.django_db


def make_intent(actor, slug="order_status", phrases=()):
    return services.intent_create(
        actor=actor, slug=slug, name=slug.replace("_", " ").title(), phrases=phrases
    )


def test_intent_create_records_audit_and_invalidates_on_commit(
    admin_user, invalidations, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        intent = services.intent_create(
            actor=admin_user, slug="order_status", name="Order status",
            escalation_policy="negative",
            required_details=[{"name": "order_number", "question": "What is your order number?"}],
            phrases=["where is my order", "  where   is my order ", "track my parcel"],
        )
    assert list(intent.phrases.values_list("text", flat=True)) == [
        "where is my order", "track my parcel"
    ]
    assert intent.required_details == [
        {"name": "order_number", "question": "What is your order number?"}
    ]
    entry = AuditLogEntry.objects.get()
    assert (entry.actor, entry.action, entry.object_repr) == (
        admin_user, "intent.create", "order_status"
    )
    assert invalidations == ["x"]


def test_nothing_is_invalidated_when_the_transaction_rolls_back(admin_user, invalidations):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        make_intent(admin_user)
        raise RuntimeError("rolled back")
    assert invalidations == []
    assert not Intent.objects.exists()
    assert not AuditLogEntry.objects.exists()


@pytest.mark.parametrize(
    ("slug", "field"),
    [("order_status", "slug"), ("has space", "slug"), ("", "slug"), ("x" * 81, "slug")],
)
def test_intent_create_rejects_bad_or_duplicate_slugs(admin_user, slug, field):
    make_intent(admin_user)
    with pytest.raises(ValidationError) as caught:
        services.intent_create(actor=admin_user, slug=slug, name="Other")
    assert field in caught.value.error_dict
    assert Intent.objects.count() == 1


def test_intent_update_records_only_changed_fields(admin_user):
    intent = make_intent(admin_user)
    services.intent_update(
        actor=admin_user, intent=intent, slug="order_status", name="Where is my order",
        description="Customers asking where an order is.", escalation_policy="never",
        required_details=[],
    )
    entry = AuditLogEntry.objects.filter(action="intent.update").get()
    assert set(entry.changes) == {"name", "description"}
    assert entry.changes["name"] == ["Order Status", "Where is my order"]


def test_intent_update_refuses_another_intents_slug(admin_user):
    make_intent(admin_user, "refund")
    intent = make_intent(admin_user)
    with pytest.raises(ValidationError):
        services.intent_update(
            actor=admin_user, intent=intent, slug="refund", name="x", description="",
            escalation_policy="never", required_details=[],
        )
    intent.refresh_from_db()
    assert intent.slug == "order_status"


def test_required_details_need_a_name_and_a_question(admin_user):
    with pytest.raises(ValidationError):
        services.intent_create(
            actor=admin_user, slug="a", name="A", required_details=[{"name": "x", "question": ""}]
        )
    with pytest.raises(ValidationError):
        services.intent_create(
            actor=admin_user, slug="a", name="A",
            required_details=[{"name": "bad name", "question": "Why?"}],
        )


def test_deactivating_an_intent_is_audited(admin_user):
    intent = make_intent(admin_user)
    services.intent_set_active(actor=admin_user, intent=intent, is_active=False)
    intent.refresh_from_db()
    assert intent.is_active is False
    assert AuditLogEntry.objects.filter(action="intent.deactivate").count() == 1


def test_phrase_add_warns_about_other_intents_and_refuses_duplicates(admin_user):
    refund = make_intent(admin_user, "refund", ["I want my money back"])
    intent = make_intent(admin_user)
    added = services.phrase_add(actor=admin_user, intent=intent, text="i want my MONEY back")
    assert added.other_intents == ["refund"]
    assert refund.phrases.count() == 1
    with pytest.raises(ValidationError) as caught:
        services.phrase_add(actor=admin_user, intent=intent, text="I want my money back")
    assert "text" in caught.value.error_dict
    assert intent.phrases.count() == 1


@pytest.mark.parametrize("text", ["", "   ", "x" * 501, "y" * 100_000])
def test_phrase_add_rejects_empty_and_oversized_text(admin_user, text):
    intent = make_intent(admin_user)
    with pytest.raises(ValidationError):
        services.phrase_add(actor=admin_user, intent=intent, text=text)
    assert not TrainingPhrase.objects.exists()


def test_phrase_remove_is_audited(admin_user, invalidations, django_capture_on_commit_callbacks):
    intent = make_intent(admin_user, phrases=["track my parcel"])
    with django_capture_on_commit_callbacks(execute=True):
        services.phrase_remove(actor=admin_user, phrase=intent.phrases.get())
    assert not intent.phrases.exists()
    entry = AuditLogEntry.objects.get(action="phrase.remove")
    assert entry.changes == {"phrase": ["track my parcel", None]}
    assert invalidations == ["x"]


def test_signals_are_unique_ignoring_case_and_can_be_disabled(admin_user):
    signal = services.signal_create(
        actor=admin_user, phrase="  speak to a   manager", category="human_request"
    )
    assert signal.phrase == "speak to a manager"
    with pytest.raises(ValidationError):
        services.signal_create(actor=admin_user, phrase="Speak to a Manager", category="other")
    with pytest.raises(ValidationError):
        services.signal_create(actor=admin_user, phrase="lawyer", category="nonsense")
    services.signal_set_active(actor=admin_user, signal=signal, is_active=False)
    services.signal_update(
        actor=admin_user, signal=signal, phrase="talk to a manager", category="human_request",
        is_active=False,
    )
    signal.refresh_from_db()
    assert (signal.phrase, signal.is_active) == ("talk to a manager", False)
    assert EscalationSignal.objects.count() == 1
    assert list(
        AuditLogEntry.objects.order_by("id").values_list("action", flat=True)
    ) == ["signal.create", "signal.disable", "signal.update"]


def test_article_versions_record_each_change_and_restore(admin_user, manager_user):
    intent = make_intent(admin_user)
    article = services.article_create(
        actor=admin_user, title="Tracking", body="Version one", status="draft", intents=[intent]
    )
    services.article_update(
        actor=manager_user, article=article, title="Tracking an order", body="Version two",
        status="published", intents=[],
    )
    # Saving without a change makes no version.
    services.article_update(
        actor=manager_user, article=article, title="Tracking an order", body="Version two",
        status="published", intents=[],
    )
    versions = list(article.versions.order_by("number"))
    assert [(v.number, v.body, v.author) for v in versions] == [
        (1, "Version one", admin_user), (2, "Version two", manager_user)
    ]
    assert versions[0].intent_slugs == ["order_status"]

    services.article_version_restore(actor=admin_user, article=article, version=versions[0])
    article.refresh_from_db()
    assert (article.title, article.body, article.status) == ("Tracking", "Version one", "draft")
    assert list(article.intents.values_list("slug", flat=True)) == ["order_status"]
    assert article.versions.count() == 3
    restore = AuditLogEntry.objects.get(action="article.restore")
    assert restore.changes["restored_from"] == [None, 1]
    assert restore.changes["body"] == ["Version two", "Version one"]


def test_restoring_a_version_of_another_article_is_refused(admin_user):
    a = services.article_create(actor=admin_user, title="A", body="a")
    b = services.article_create(actor=admin_user, title="B", body="b")
    with pytest.raises(ValidationError):
        services.article_version_restore(
            actor=admin_user, article=a, version=ArticleVersion.objects.get(article=b)
        )


def test_article_body_with_script_is_stored_as_written(admin_user):
    body = "Hello <script>alert(1)</script>"
    article = services.article_create(actor=admin_user, title="X", body=body)
    assert Article.objects.get(pk=article.pk).body == body


def test_article_needs_a_title_and_a_known_status(admin_user):
    with pytest.raises(ValidationError):
        services.article_create(actor=admin_user, title=" ", body="x")
    with pytest.raises(ValidationError):
        services.article_create(actor=admin_user, title="x", body="x", status="archived")
    assert not Article.objects.exists()


def test_an_article_made_without_versions_keeps_its_first_state(admin_user):
    article = Article.objects.create(title="Bulk", body="loaded", status="published")
    services.article_update(
        actor=admin_user, article=article, title="Bulk", body="edited", status="published",
        intents=[],
    )
    versions = list(article.versions.order_by("number").values_list("number", "body", "author"))
    assert versions == [(1, "loaded", None), (2, "edited", admin_user.pk)]


@pytest.mark.parametrize("label", ["x" * 41, " ".join(["word"] * 9)])
def test_a_button_label_over_40_characters_is_refused(admin_user, label):
    with pytest.raises(ValidationError) as caught:
        services.intent_create(actor=admin_user, slug="refund", name="Refund", button_label=label)
    assert "button_label" in caught.value.message_dict
    assert not Intent.objects.filter(slug="refund").exists()


def test_the_button_label_is_kept_and_audited(admin_user):
    intent = services.intent_create(
        actor=admin_user, slug="refund", name="Refund", button_label=" Get\tmy money back "
    )
    assert intent.button_label == "Get my money back"
    services.intent_update(
        actor=admin_user, intent=intent, slug="refund", name="Refund", description="",
        escalation_policy="never", required_details=[], button_label="Refunds",
    )
    entry = AuditLogEntry.objects.filter(action="intent.update").latest("pk")
    assert entry.changes["button_label"] == ["Get my money back", "Refunds"]
    # Left out (an older caller): the label stays.
    services.intent_update(
        actor=admin_user, intent=intent, slug="refund", name="Refund", description="x",
        escalation_policy="never", required_details=[],
    )
    intent.refresh_from_db()
    assert intent.button_label == "Refunds"
