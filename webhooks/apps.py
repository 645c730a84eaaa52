from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # The receiver writes the outbox rows in the chat's own transaction; the tasks module
        # registers how a delivery is queued (the services never import the tasks).
        from django.db.models.signals import post_delete, post_save

        from chat.hooks import chat_event

        from . import tasks  # noqa: F401
        from .models import Endpoint
        from .services import endpoint_changed, events_record_for_hook

        chat_event.connect(events_record_for_hook, dispatch_uid="webhooks-record-events")
        # Whatever saves or deletes an endpoint, the next event reads who subscribes afresh.
        post_save.connect(endpoint_changed, sender=Endpoint, dispatch_uid="webhooks-endpoint-saved")
        post_delete.connect(endpoint_changed, sender=Endpoint,
                            dispatch_uid="webhooks-endpoint-deleted")
