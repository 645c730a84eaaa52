"""``rebuild_rollups``: recompute every row of the dashboard's rollup from the raw events."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from analytics.rollup import rollup_refresh


class Command(BaseCommand):
    help = (
        "Rebuild the analytics rollup (cohort days, event counts, histograms, knowledge-gap "
        "messages) from the reporting events, messages and bot traces, in one transaction. "
        "Needed after rows were deleted or inserted with ids below the latest refresh, or "
        "after the fallback settings changed; new traffic is picked up by the refresh that "
        "Celery beat runs."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        verbose = options["verbosity"] > 0

        def progress(runs):
            # tqdm's disable=None: a bar on an interactive terminal only, never in a log.
            return tqdm(runs, desc="weeks", unit="week", disable=None if verbose else True,
                        file=sys.stderr)

        refresh = rollup_refresh(full=True, progress=progress)
        if verbose:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Rebuilt the rollup: {refresh.days} days in {refresh.seconds:.1f} s."
                )
            )
