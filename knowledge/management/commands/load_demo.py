"""Loads the demo company, Acme Outfitters, idempotently: running it twice leaves the same data."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from chat.models import Widget
from knowledge import demo_data
from knowledge.models import (
    Article,
    ArticleStatus,
    ClassifierModel,
    EscalationSignal,
    Intent,
    TrainingPhrase,
)
from supportdesk.roles import ADMINS, AGENTS, MANAGERS, ensure_role_groups

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
            counts = load_taxonomy()
            widget = load_widget()
            passwords = load_users(options.get("password"))
        if verbose:
            self.stdout.write(
                f"Demo taxonomy: {counts['intents']} intents, {counts['phrases']} phrases, "
                f"{counts['signals']} signals, {counts['articles']} articles; "
                f"widget '{widget.public_key}'."
            )
        if options["retrain"] or not ClassifierModel.objects.filter(is_active=True).exists():
            from knowledge.training import classifier_activate, classifier_create, classifier_train

            model = classifier_train(model=classifier_create())
            if not model.is_active:
                classifier_activate(model=model)
            if verbose:
                accuracy = model.metrics.get("accuracy")
                shown = f"{accuracy:.3f}" if isinstance(accuracy, float) else "n/a"
                self.stdout.write(f"Classifier v{model.version} trained: accuracy {shown}.")
        if options["traffic_days"] > 0:
            from chat.models import Conversation

            if not Conversation.objects.exists():
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


def load_taxonomy() -> dict[str, int]:
    intents: dict[str, Intent] = {}
    for item in demo_data.INTENTS:
        intent, _ = Intent.objects.update_or_create(
            slug=item["slug"],
            defaults={
                "name": item["name"],
                "description": item["description"],
                "escalation_policy": item["escalation_policy"],
                "required_details": item.get("required_details", []),
                "is_active": True,
            },
        )
        intents[intent.slug] = intent
        existing = set(intent.phrases.values_list("text", flat=True))
        TrainingPhrase.objects.bulk_create(
            [TrainingPhrase(intent=intent, text=text) for text in item["phrases"]
             if text not in existing]
        )
    for phrase, category in demo_data.SIGNALS:
        EscalationSignal.objects.update_or_create(
            phrase=phrase, defaults={"category": category, "is_active": True}
        )
    for item in demo_data.ARTICLES:
        article, _ = Article.objects.update_or_create(
            title=item["title"],
            defaults={
                "body": item["body"],
                "status": item.get("status", ArticleStatus.PUBLISHED),
            },
        )
        article.intents.set([intents[slug] for slug in item["intents"]])
    return {
        "intents": Intent.objects.count(),
        "phrases": TrainingPhrase.objects.count(),
        "signals": EscalationSignal.objects.count(),
        "articles": Article.objects.count(),
    }


def load_widget() -> Widget:
    widget, _ = Widget.objects.update_or_create(
        public_key="demo",
        defaults={
            "name": f"{demo_data.COMPANY['name']} website",
            "allowed_origins": ["self"],
            "greeting": demo_data.GREETING,
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
