from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        # The tasks module registers the bot task with the outbox (services never import it).
        from . import tasks  # noqa: F401
