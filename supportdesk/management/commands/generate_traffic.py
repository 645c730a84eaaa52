"""``generate_traffic``: synthetic conversations so that a new install shows a full dashboard."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from supportdesk.traffic import traffic_generate


class Command(BaseCommand):
    help = (
        "Create realistic synthetic conversations (messages, bot turns, handoffs, agent "
        "replies, resolutions, ratings and their reporting events) over the last D days, "
        "through the chat services."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--conversations", type=int, default=500)
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--bulk",
            action="store_true",
            help="Insert the same rows with bulk_create instead of calling the services one "
            "conversation at a time (for large volumes such as the benchmark).",
        )
        parser.add_argument(
            "--pipeline",
            action="store_true",
            help="Let the real bot pipeline answer each customer message (slower; needs a "
            "trained classifier). Without it the bot's decisions are scripted.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        n, days = options["conversations"], options["days"]
        if n < 0:
            raise CommandError("--conversations must be 0 or more.")
        if days < 1:
            raise CommandError("--days must be at least 1.")
        if options["bulk"] and options["pipeline"]:
            raise CommandError("--pipeline runs through the services; leave out --bulk.")
        verbose = options["verbosity"] > 0

        def progress(items):
            # tqdm's disable=None: a bar on an interactive terminal only, never in a log.
            return tqdm(items, desc="conversations", unit="conv",
                        disable=None if verbose else True, file=sys.stderr)

        traffic_generate(
            conversations=n,
            days=days,
            seed=options["seed"],
            bulk=options["bulk"],
            pipeline=options["pipeline"],
            progress=progress,
        )
        if verbose:
            how = "bulk insert" if options["bulk"] else "the chat services"
            self.stdout.write(
                self.style.SUCCESS(f"Generated {n} conversations over {days} days via {how}.")
            )
