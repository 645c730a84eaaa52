"""knowledge.training: train, store and activate classifier models; the training task."""

import pytest

from chat.bot.classifier import IntentClassifier
from knowledge.models import (
    AuditLogEntry,
    ClassifierModel,
    ClassifierStatus,
    Intent,
    TrainingPhrase,
)
from knowledge.training import (
    activation_verdict,
    classifier_activate,
    classifier_create,
    classifier_train,
    classifier_training_start,
)

pytestmark = pytest.mark.django_db

PHRASES = {
    "order_status": ["where is my order", "track my parcel", "has my order shipped",
                     "status of my order", "when does my package arrive", "is it on the way"],
    "return_request": ["I want to return this", "how do I send it back", "refund please",
                       "I want my money back", "return label", "can I exchange it"],
    "general_inquiry": ["opening hours", "how can I contact you", "hello",
                        "do you take paypal", "where is your store", "hi there"],
}


@pytest.fixture
def phrases(db):
    for slug, texts in PHRASES.items():
        intent = Intent.objects.create(slug=slug, name=slug.replace("_", " ").title())
        TrainingPhrase.objects.bulk_create(TrainingPhrase(intent=intent, text=t) for t in texts)


def test_train_stores_the_artifact_and_metrics_and_activates_the_first_model(phrases):
    seen = []
    model = classifier_train(model=classifier_create(), progress=seen.append)
    model.refresh_from_db()
    assert model.status == ClassifierStatus.READY
    assert model.is_active and model.activated_at and model.finished_at
    assert model.progress == 1.0 and seen[-1] == 1.0
    assert model.n_intents == 3 and model.n_phrases == 18
    metrics = model.metrics
    for key in ("accuracy", "macro_f1", "per_intent", "confusions", "n_folds", "train_seconds"):
        assert key in metrics, key
    assert metrics["n_folds"] == 3
    assert set(metrics["per_intent"]) == set(PHRASES)
    loaded = IntentClassifier.from_bytes(model.artifact)
    assert loaded.predict("where is my parcel")[0][0] == "order_status"


def test_inactive_intents_are_left_out(phrases):
    Intent.objects.filter(slug="general_inquiry").update(is_active=False)
    model = classifier_train(model=classifier_create())
    assert model.n_intents == 2
    assert set(model.metrics["intents"]) == {"order_status", "return_request"}


def test_a_worse_model_does_not_replace_the_active_one(phrases):
    first = classifier_train(model=classifier_create())
    ClassifierModel.objects.filter(pk=first.pk).update(
        metrics={**first.metrics, "accuracy": 1.01}
    )
    second = classifier_train(model=classifier_create())
    assert second.status == ClassifierStatus.READY
    assert not second.is_active
    assert second.metrics["activation"].startswith("kept v1 active")
    assert ClassifierModel.objects.get(is_active=True).pk == first.pk


def test_a_model_not_worse_replaces_the_active_one(phrases):
    first = classifier_train(model=classifier_create())
    second = classifier_train(model=classifier_create())
    assert second.is_active
    first.refresh_from_db()
    assert not first.is_active
    assert ClassifierModel.objects.filter(is_active=True).count() == 1


def test_a_self_activated_model_is_in_the_audit_log(phrases):
    first = classifier_train(model=classifier_create())
    second = classifier_train(model=classifier_create())
    entries = AuditLogEntry.objects.filter(action="classifier.auto_activate").order_by("id")
    assert [e.object_id for e in entries] == [str(first.pk), str(second.pk)]
    assert entries[0].actor is None
    assert entries[1].changes["active_version"] == [first.version, second.version]
    assert entries[1].changes["reason"][1] == second.metrics["activation"]


def test_a_kept_model_writes_no_activation_entry(phrases):
    first = classifier_train(model=classifier_create())
    ClassifierModel.objects.filter(pk=first.pk).update(
        metrics={**first.metrics, "accuracy": 1.01}
    )
    classifier_train(model=classifier_create())
    assert AuditLogEntry.objects.filter(action="classifier.auto_activate").count() == 1


@pytest.mark.parametrize("change", ["add", "edit", "delete"])
def test_changed_phrases_activate_the_new_model_whatever_its_accuracy(phrases, change):
    """Accuracies of models trained on different phrases do not compare; only the new model
    knows the new phrases (a knowledge gap taught as phrases, say)."""
    first = classifier_train(model=classifier_create())
    ClassifierModel.objects.filter(pk=first.pk).update(metrics={**first.metrics, "accuracy": 1.01})
    phrase = TrainingPhrase.objects.filter(intent__slug="order_status").first()
    if change == "add":
        TrainingPhrase.objects.create(intent=phrase.intent, text="parcel gone missing en route")
    elif change == "edit":
        TrainingPhrase.objects.filter(pk=phrase.pk).update(text=phrase.text + " please")
    else:
        phrase.delete()
    second = classifier_train(model=classifier_create())
    assert second.is_active
    assert second.metrics["activation"] == "activated: the training phrases changed since v1"
    assert second.metrics["phrases_digest"] != first.metrics["phrases_digest"]


def test_phrases_digest_ignores_order_and_tells_intents_apart():
    from knowledge.training import phrases_digest

    a = phrases_digest(["x", "y"], ["one", "two"])
    assert a == phrases_digest(["y", "x"], ["two", "one"])
    assert a != phrases_digest(["x", "y"], ["two", "one"])
    assert len(a) == 64


@pytest.mark.django_db(transaction=True)
def test_ready_is_seen_only_with_the_activation(phrases, monkeypatch):
    """The training page waits for "ready": by then the verdict and activation are in."""
    from knowledge import training

    seen = []
    real = training.classifier_activate

    def spy(*, model, user=None):
        from django.db import connection

        seen.append(connection.in_atomic_block)
        return real(model=model, user=user)

    monkeypatch.setattr(training, "classifier_activate", spy)
    model = classifier_train(model=classifier_create())
    assert model.is_active and seen == [True]


def test_a_changed_taxonomy_activates_the_new_model(phrases):
    first = classifier_train(model=classifier_create())
    ClassifierModel.objects.filter(pk=first.pk).update(metrics={**first.metrics, "accuracy": 1.0})
    Intent.objects.filter(slug="general_inquiry").update(is_active=False)
    second = classifier_train(model=classifier_create())
    assert second.is_active
    assert "intents changed" in second.metrics["activation"]


def test_an_admin_activates_an_older_model(phrases):
    first = classifier_train(model=classifier_create())
    second = classifier_train(model=classifier_create())
    assert second.is_active
    classifier_activate(model=first)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.is_active and not second.is_active


def test_only_a_ready_model_can_be_activated(phrases):
    model = classifier_create()
    with pytest.raises(ValueError):
        classifier_activate(model=model)
    assert not ClassifierModel.objects.filter(is_active=True).exists()


def test_training_without_enough_intents_fails_cleanly(db):
    intent = Intent.objects.create(slug="only", name="Only")
    TrainingPhrase.objects.create(intent=intent, text="hello")
    model = classifier_train(model=classifier_create())
    assert model.status == ClassifierStatus.FAILED
    assert "two intents" in model.error
    assert not model.is_active


def test_versions_increase(db):
    assert [classifier_create().version for _ in range(3)] == [1, 2, 3]


def test_training_start_queues_the_task_after_the_commit(
    phrases, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        model = classifier_training_start()
    assert model.status == ClassifierStatus.TRAINING
    assert len(callbacks) == 1
    callbacks[0]()  # eager Celery: the task runs here
    model.refresh_from_db()
    assert model.status == ClassifierStatus.READY and model.is_active


def test_the_task_leaves_a_finished_model_alone(phrases):
    from knowledge.tasks import train_classifier

    model = classifier_train(model=classifier_create())
    finished_at = model.finished_at
    train_classifier(model.pk)
    model.refresh_from_db()
    assert model.finished_at == finished_at


def test_activation_verdict_without_an_active_model(phrases):
    model = classifier_create()
    assert activation_verdict(model) == "activated: no model was active"


def test_activation_reloads_the_bot(phrases, django_capture_on_commit_callbacks):
    from chat.bot.taxonomy import taxonomy_snapshot

    with django_capture_on_commit_callbacks(execute=True):
        model = classifier_train(model=classifier_create())
    assert taxonomy_snapshot().classifier_version == model.version
    with django_capture_on_commit_callbacks(execute=True):
        newer = classifier_train(model=classifier_create())
    assert taxonomy_snapshot().classifier_version == newer.version


@pytest.mark.services
def test_the_real_worker_trains_a_model_started_by_an_admin(celery_worker):
    import time

    for slug, texts in PHRASES.items():
        intent = Intent.objects.create(slug=slug, name=slug.replace("_", " ").title())
        TrainingPhrase.objects.bulk_create(TrainingPhrase(intent=intent, text=t) for t in texts)
    model = classifier_training_start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        model.refresh_from_db()
        if model.status != ClassifierStatus.TRAINING:
            break
        time.sleep(0.2)
    assert model.status == ClassifierStatus.READY, model.error
    assert model.is_active and model.progress == 1.0
    assert model.metrics["n_folds"] == 3


@pytest.mark.services
def test_invalidation_reaches_other_processes_through_the_shared_cache(db):
    from django.core.cache import cache

    # (tests/knowledge/conftest.py stands in for chat.bot.taxonomy_invalidate: use the real one)
    from chat.bot.taxonomy import REVISION_KEY, taxonomy_invalidate

    before = cache.get(REVISION_KEY, 0)
    taxonomy_invalidate()
    assert cache.get(REVISION_KEY) == before + 1
