"""Services for the offline classifier: train, store and activate ``ClassifierModel`` rows.

A model is trained from the active intents' training phrases, stored with its artifact and
cross-validated metrics, and becomes the active one only if it is not worse than the model
already active (or when the taxonomy changed, which the old model cannot classify), unless
an admin activates it explicitly.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from .audit import audit_record
from .bot import bot_registered
from .changes import taxonomy_changed_on_commit
from .models import ClassifierModel, ClassifierStatus, TrainingPhrase

log = logging.getLogger(__name__)

# A retrained model may be this much less accurate (cross-validated) and still replace the
# active one: the folds are random, so equal models differ by noise.
NOT_WORSE_TOLERANCE = 0.002
PROGRESS_STEP = 0.05


def _next_version() -> int:
    return (ClassifierModel.objects.aggregate(v=Max("version"))["v"] or 0) + 1


def classifier_create(*, user: Any = None) -> ClassifierModel:
    """A new row in status "training", with the next free version number."""
    for _ in range(5):
        try:
            with transaction.atomic():
                return ClassifierModel.objects.create(
                    version=_next_version(), status=ClassifierStatus.TRAINING, trained_by=user
                )
        except IntegrityError:  # another process took the version; take the next one
            continue
    raise RuntimeError("could not allocate a classifier version")


def classifier_training_start(*, user: Any = None) -> ClassifierModel:
    """Create the row and queue the training task once the row is committed."""
    from .tasks import train_classifier

    with transaction.atomic():
        model = classifier_create(user=user)
        transaction.on_commit(partial(train_classifier.delay, model.pk))
    return model


def training_data() -> tuple[list[str], list[str]]:
    """(texts, intent slugs) of the active intents' training phrases."""
    rows = TrainingPhrase.objects.filter(intent__is_active=True).values_list(
        "text", "intent__slug"
    ).order_by("id")
    texts = [text for text, _ in rows]
    labels = [slug for _, slug in rows]
    return texts, labels


def _progress_writer(
    model: ClassifierModel, progress: Callable[[float], None] | None
) -> Callable[[float], None]:
    last = {"value": -1.0}

    def report(fraction: float) -> None:
        fraction = max(0.0, min(1.0, fraction))
        if progress is not None:
            progress(fraction)
        if fraction - last["value"] >= PROGRESS_STEP or fraction >= 1.0:
            last["value"] = fraction
            ClassifierModel.objects.filter(pk=model.pk).update(progress=round(fraction, 3))

    return report


def classifier_train(
    *, model: ClassifierModel, progress: Callable[[float], None] | None = None
) -> ClassifierModel:
    """Train ``model`` from the database, store it, and activate it if it is not worse."""
    texts, labels = training_data()
    started = time.perf_counter()
    try:
        trained, metrics = bot_registered().classifier_train(
            texts, labels, progress=_progress_writer(model, progress)
        )
    except Exception as error:  # stored on the row for the admin; the worker goes on
        log.exception("training classifier v%s failed", model.version)
        model.status = ClassifierStatus.FAILED
        model.error = f"{type(error).__name__}: {error}"[:2000]
        model.finished_at = timezone.now()
        model.save(update_fields=["status", "error", "finished_at"])
        return model
    metrics["intents"] = sorted(set(labels))
    metrics["phrases_digest"] = phrases_digest(texts, labels)
    metrics["train_seconds"] = round(time.perf_counter() - started, 2)
    # "Ready" and the activation verdict commit together: a page that sees the model ready
    # sees it active too (when it is to be).
    with transaction.atomic():
        return _store_trained(model, trained.to_bytes(), metrics, texts, labels)


def _store_trained(
    model: ClassifierModel, artifact: bytes, metrics: dict[str, Any], texts: list[str],
    labels: list[str],
) -> ClassifierModel:
    model.artifact = artifact
    model.metrics = metrics
    model.n_intents = len(set(labels))
    model.n_phrases = len(texts)
    model.status = ClassifierStatus.READY
    model.progress = 1.0
    model.error = ""
    model.finished_at = timezone.now()
    verdict = activation_verdict(model)
    model.metrics["activation"] = verdict
    model.save(update_fields=["artifact", "metrics", "n_intents", "n_phrases", "status",
                              "progress", "error", "finished_at"])
    if verdict.startswith("activated"):
        previous = (
            ClassifierModel.objects.filter(is_active=True).values_list("version", flat=True).first()
        )
        model = classifier_activate(model=model)
        # No admin said so: the audit log names the system and the verdict's reason.
        audit_record(
            actor=None, action="classifier.auto_activate", obj=model,
            changes={"active_version": [previous, model.version], "reason": [None, verdict]},
        )
    return model


def phrases_digest(texts: list[str], labels: list[str]) -> str:
    """A SHA-256 of the (intent, phrase) pairs trained on, in any order: whether two models
    learnt from the same phrases."""
    digest = hashlib.sha256()
    for label, text in sorted(zip(labels, texts, strict=True)):
        digest.update(f"{label}\x1f{text}\x1e".encode())
    return digest.hexdigest()


def activation_verdict(model: ClassifierModel) -> str:
    """Whether a freshly trained model replaces the active one, and why (for the metrics).

    Cross-validated accuracies compare two models only when they learnt the same phrases
    (a retraining): then a model judged worse is kept aside. When the intents or the
    training phrases changed since the active model (an admin taught new phrases, from a
    knowledge gap for instance), the new model is the only one that knows them, and it
    replaces the active one whatever its accuracy on the new, harder set."""
    active = ClassifierModel.objects.filter(is_active=True).exclude(pk=model.pk).first()
    if active is None:
        return "activated: no model was active"
    new_accuracy = model.metrics.get("accuracy")
    old_accuracy = (active.metrics or {}).get("accuracy")
    if sorted((active.metrics or {}).get("intents", [])) != model.metrics.get("intents", []):
        return f"activated: the intents changed since v{active.version}"
    old_digest = (active.metrics or {}).get("phrases_digest")
    new_digest = model.metrics.get("phrases_digest")
    if old_digest and new_digest and old_digest != new_digest:
        return f"activated: the training phrases changed since v{active.version}"
    if not isinstance(old_accuracy, int | float):
        return f"activated: v{active.version} has no accuracy to compare"
    if not isinstance(new_accuracy, int | float):
        return f"kept v{active.version} active: this model has no cross-validated accuracy"
    if new_accuracy + NOT_WORSE_TOLERANCE >= old_accuracy:
        return f"activated: accuracy {new_accuracy:.3f} vs {old_accuracy:.3f} of v{active.version}"
    return (
        f"kept v{active.version} active: accuracy {new_accuracy:.3f} is worse than "
        f"{old_accuracy:.3f}"
    )


@transaction.atomic
def classifier_activate(*, model: ClassifierModel, user: Any = None) -> ClassifierModel:
    """Make ``model`` the active classifier (one active at a time), and reload the bot."""
    model = ClassifierModel.objects.select_for_update().get(pk=model.pk)
    if model.status != ClassifierStatus.READY or not model.artifact:
        raise ValueError("Only a model that finished training can be activated.")
    if model.is_active:
        return model
    ClassifierModel.objects.filter(is_active=True).exclude(pk=model.pk).update(is_active=False)
    model.is_active = True
    model.activated_at = timezone.now()
    model.save(update_fields=["is_active", "activated_at"])
    taxonomy_changed_on_commit()
    return model
