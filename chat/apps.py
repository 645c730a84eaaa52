from typing import Any

from django.apps import AppConfig


def _taxonomy_reload(**kwargs: Any) -> None:
    from .bot import taxonomy_invalidate

    taxonomy_invalidate()


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        # The tasks module registers the bot task with the outbox (services never import it).
        # knowledge sits below chat and never imports it: chat gives it the bot and listens
        # for its changes.
        from knowledge.bot import bot_register
        from knowledge.changes import taxonomy_changed

        from . import tasks  # noqa: F401
        from .knowledge_bot import ChatBot

        bot_register(ChatBot())
        taxonomy_changed.connect(_taxonomy_reload, dispatch_uid="chat-taxonomy-reload")
