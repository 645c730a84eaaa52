"""Loads the demo company, Acme Outfitters, idempotently: running it twice leaves the same data.

The intents, training phrases, escalation signals and articles are a knowledge export
(``supportdesk/demo/acme_outfitters.json``) imported through the same service as an admin's
upload at ``/knowledge/import/``: running the command again resets the demo's intents, signals
and articles to the file's, as importing the file again would. The widget and the staff users
are not knowledge; the command creates them itself.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.roles import ADMINS, AGENTS, MANAGERS, ensure_role_groups
from chat.models import Conversation, Widget
from knowledge.importexport import ImportRejected
from knowledge.models import ClassifierModel
from knowledge.services import ImportResult, taxonomy_import_json
from knowledge.training import classifier_activate, classifier_create, classifier_train

DEMO_KNOWLEDGE = Path(__file__).resolve().parents[2] / "demo" / "acme_outfitters.json"
DEMO_COMPANY = "Acme Outfitters"
DEMO_GREETING = (
    "Hi! I'm the Acme Outfitters assistant. Ask me about orders, returns, shipping or our gear."
)
DEMO_USERS = (("admin", ADMINS), ("agent", AGENTS), ("manager", MANAGERS))


class Command(BaseCommand):
    help = "Load the Acme Outfitters demo: taxonomy, articles, widget, staff users, classifier."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", help="Password for admin, agent and manager.")
        parser.add_argument(
            "--traffic-days",
            type=int,
            default=21,
            dest="traffic_days",
            help="Days of synthetic traffic for the dashboard (0 for none; skipped if present).",
        )
        parser.add_argument(
            "--retrain", action="store_true", help="Train a new classifier even if one is active."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbose = options["verbosity"] > 0
        with transaction.atomic():
            ensure_role_groups()
            result = load_knowledge(DEMO_KNOWLEDGE)
            widget = load_widget()
            passwords = load_users(options.get("password"))
        if verbose:
            counts = result.counts
            self.stdout.write(
                f"Demo taxonomy from {DEMO_KNOWLEDGE.name}: "
                f"{counts['intents_created'] + counts['intents_updated']} intents, "
                f"{counts['phrases']} phrases, "
                f"{counts['signals_created'] + counts['signals_updated']} signals, "
                f"{counts['articles_created'] + counts['articles_updated']} articles; "
                f"widget '{widget.public_key}'."
            )
        if options["retrain"] or not ClassifierModel.objects.filter(is_active=True).exists():
            model = classifier_train(model=classifier_create())
            if not model.is_active:
                classifier_activate(model=model)
            if verbose:
                accuracy = model.metrics.get("accuracy")
                shown = f"{accuracy:.3f}" if isinstance(accuracy, float) else "n/a"
                self.stdout.write(f"Classifier v{model.version} trained: accuracy {shown}.")
        if options["traffic_days"] > 0 and not Conversation.objects.exists():
            call_command(
                "generate_traffic",
                conversations=40 * options["traffic_days"],
                days=options["traffic_days"],
                verbosity=options["verbosity"],
            )
            call_command("rebuild_rollups", verbosity=options["verbosity"])
        if verbose:
            for username, password in passwords.items():
                shown = password if password else "(unchanged)"
                self.stdout.write(f"  login {username:<8} password {shown}")


def load_knowledge(path: Path) -> ImportResult:
    """Import a knowledge export (intents with their phrases, signals, articles)
    through ``knowledge.services.taxonomy_import_json``, as an admin's upload is imported.

    Raises ``CommandError`` with the validator's problems if the file is refused."""
    try:
        return taxonomy_import_json(actor=None, data=path.read_bytes())
    except ImportRejected as exc:
        raise CommandError(f"{path.name} was refused: " + "; ".join(exc.problems)) from None


def load_widget() -> Widget:
    widget, _ = Widget.objects.update_or_create(
        public_key="demo",
        defaults={
            "name": f"{DEMO_COMPANY} website",
            "display_name": DEMO_COMPANY,
            "allowed_origins": ["self"],
            "greeting": DEMO_GREETING,
            "is_active": True,
        },
    )
    return widget


def load_users(password: str | None) -> dict[str, str]:
    """Creates or updates the staff users; returns the passwords set (empty if unchanged)."""
    user_model = get_user_model()
    chosen: dict[str, str] = {}
    for username, role in DEMO_USERS:
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"email": f"{username}@acme-outfitters.example"}
        )
        new_password = password or (secrets.token_urlsafe(9) if created else "")
        if new_password:
            user.set_password(new_password)
        user.is_staff = role == ADMINS
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        chosen[username] = new_password
    return chosen
