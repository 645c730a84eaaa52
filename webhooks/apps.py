from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # The receiver writes the outbox rows in the chat's own transaction; the tasks module
        # registers how a delivery is queued (the services never import the tasks).
        from chat.hooks import chat_event

        from . import tasks  # noqa: F401
        from .services import events_record_for_hook

        chat_event.connect(events_record_for_hook, dispatch_uid="webhooks-record-events")
