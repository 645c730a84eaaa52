"""Loads the demo company, Acme Outfitters, idempotently: running it twice leaves the same data.

The intents, training phrases, escalation signals and articles are a knowledge export
(``supportdesk/demo/acme_outfitters.json``) imported through the same service as an admin's
upload at ``/knowledge/import/``: running the command again resets the demo's intents, signals
and articles to the file's, as importing the file again would. The widget and the staff users
are not knowledge; the command creates them itself.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.roles import ADMINS, AGENTS, MANAGERS, ensure_role_groups
from chat.identity import widget_secret_rotate
from chat.models import CannedResponse, Conversation, Label, Widget
from knowledge.importexport import ImportRejected
from knowledge.models import ClassifierModel, Connector
from knowledge.services import ImportResult, connector_headers_set, taxonomy_import_json
from knowledge.training import classifier_activate, classifier_create, classifier_train

DEMO_KNOWLEDGE = Path(__file__).resolve().parents[2] / "demo" / "acme_outfitters.json"
DEMO_COMPANY = "Acme Outfitters"
FILE_DEMO_API_BASE = "http://127.0.0.1:8000"
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
            load_workspace()
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


# The agents' workspace of the demo: labels to file conversations under, and saved replies
# that show the canned-response variables (issue 14). Made once; an admin's edits are kept.
DEMO_LABELS = [("vip", "#8a3ffc"), ("bug", "#b42318"), ("follow-up", "#0b7285")]
DEMO_CANNED = [
    ("hello", "Greeting",
     "Hi {{ contact.name }}, I'm {{ agent.name }} from the Acme Outfitters team. "
     "I'm reading your conversation now."),
    ("order", "Order in hand",
     "Thanks! I have order {{ conversation.order_number }} open and I'm checking it now."),
    ("bye", "Closing",
     "Glad I could help. If anything else comes up, just write here again."),
]


def load_workspace() -> None:
    """Creates the demo's labels and canned responses, unless they exist."""
    for name, color in DEMO_LABELS:
        Label.objects.get_or_create(name=name, defaults={"color": color})
    for shortcut, title, text in DEMO_CANNED:
        CannedResponse.objects.get_or_create(
            shortcut=shortcut, defaults={"title": title, "text": text}
        )


def load_knowledge(path: Path) -> ImportResult:
    """Import a knowledge export (intents with their phrases, signals, articles, connectors)
    through ``knowledge.services.taxonomy_import_json``, as an admin's upload is imported.

    The file's connectors call the demo orders API at ``http://127.0.0.1:8000``; they are
    pointed at ``DEMO_API_BASE_URL`` first, and given the bearer token ``DEMO_API_TOKEN``
    afterwards (an export carries no header values).
    Raises ``CommandError`` with the validator's problems if the file is refused."""
    doc = json.loads(path.read_text())
    base = settings.DEMO_API_BASE_URL
    host = urlsplit(base).netloc
    for item in doc.get("connectors", []):
        item["url_template"] = item["url_template"].replace(FILE_DEMO_API_BASE, base, 1)
        item["allowed_hosts"] = [host]
    try:
        result = taxonomy_import_json(actor=None, data=json.dumps(doc).encode())
    except ImportRejected as exc:
        raise CommandError(f"{path.name} was refused: " + "; ".join(exc.problems)) from None
    for item in doc.get("connectors", []):
        connector = Connector.objects.get(name=item["name"])
        connector_headers_set(
            actor=None, connector=connector,
            headers={"Authorization": f"Bearer {settings.DEMO_API_TOKEN}"},
        )
    return result


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
    if not widget.identity_secret:
        # The demo page signs its demo customer itself (supportdesk.views.demo_store).
        widget_secret_rotate(actor=None, widget=widget)
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
