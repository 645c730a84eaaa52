"""Train the offline intent classifier from the database's training phrases."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from knowledge.models import ClassifierStatus
from knowledge.training import classifier_activate, classifier_create, classifier_train


class Command(BaseCommand):
    help = "Train a classifier from the active intents' phrases and activate it."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--keep-active",
            action="store_true",
            help="Activate the new model only if it is not worse than the active one.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        model = classifier_create()
        # The raw stream: Django's wrapper would end every redraw of the bar with a newline.
        stream = getattr(self.stderr, "_out", sys.stderr)
        # tqdm's disable=None: a bar on an interactive terminal only, never in a log.
        with tqdm(total=100, desc=f"training v{model.version}", unit="%", file=stream,
                  disable=True if options["verbosity"] == 0 else None) as bar:

            def progress(fraction: float) -> None:
                bar.update(round(fraction * 100) - bar.n)

            model = classifier_train(model=model, progress=progress)
        if model.status == ClassifierStatus.FAILED:
            raise CommandError(f"Training v{model.version} failed: {model.error}")
        if not model.is_active and not options["keep_active"]:
            model = classifier_activate(model=model)
        metrics = model.metrics
        accuracy, macro_f1 = metrics.get("accuracy"), metrics.get("macro_f1")
        if accuracy is None:
            summary = "too few phrases per intent to cross-validate"
        else:
            summary = (
                f"cross-validated accuracy {accuracy:.3f}, macro-F1 {macro_f1:.3f} "
                f"({metrics.get('n_folds')} folds)"
            )
        state = "active" if model.is_active else "not active"
        self.stdout.write(
            f"Classifier v{model.version}: {model.n_intents} intents, {model.n_phrases} phrases, "
            f"{summary}, trained in {metrics.get('train_seconds')} s; {state}."
        )
