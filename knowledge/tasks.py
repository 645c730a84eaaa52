"""Celery tasks of the knowledge app: thin doors onto ``knowledge.training``."""

from __future__ import annotations

from celery import shared_task

from .models import ClassifierModel, ClassifierStatus
from .training import classifier_train


@shared_task(name="knowledge.tasks.train_classifier")
def train_classifier(model_id: int) -> None:
    """Train the classifier row ``model_id``; a row that is no longer training is left alone."""
    model = ClassifierModel.objects.filter(pk=model_id, status=ClassifierStatus.TRAINING).first()
    if model is not None:
        classifier_train(model=model)
