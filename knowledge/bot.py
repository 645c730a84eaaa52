"""The bot, as knowledge's pages use it: training the classifier, the playground and the
preview of an escalation signal.

The bot lives in ``chat`` and reads the taxonomy through ``knowledge.selectors``, so chat
imports knowledge and never the reverse: chat registers its bot here when the apps are ready
(``chat.apps.ChatConfig.ready``), and knowledge calls it through ``bot_registered()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured


class TrainedClassifier(Protocol):
    def to_bytes(self) -> bytes:
        """The model as the bytes stored in ``ClassifierModel.artifact``."""
        ...


class Bot(Protocol):
    def classifier_train(
        self,
        texts: list[str],
        labels: list[str],
        *,
        progress: Callable[[float], None] | None = None,
    ) -> tuple[TrainedClassifier, dict[str, Any]]:
        """Train on (text, intent slug) pairs; returns the model and its cross-validated
        metrics (a JSON-able dict with at least ``accuracy``). ``progress`` gets 0.0-1.0."""
        ...

    def playground_turn(
        self, *, text: str, history: Iterable[str] = (), dialog_state: dict | None = None
    ) -> Any:
        """One turn of the pipeline on the current taxonomy, storing nothing; the result
        has ``reply``, ``trace`` and ``dialog_state`` among the fields the playground shows."""
        ...

    def content_words(self, text: str) -> list[str]:
        """The words the classifier reads as content (lower case, no stop words), in order."""
        ...

    def intent_guesser(self) -> Callable[[str], str] | None:
        """A function giving the active classifier's top intent (slug) for a message on its
        word features, never the fallback intent ("" when there is no other), or None
        without a trained classifier."""
        ...

    def dialog_state_check(self, state: Any) -> dict:
        """A playground's dialog state (decoded JSON) checked against the dialog manager's
        shape; raises ``ValueError`` saying what is wrong."""
        ...

    def customer_messages_matching(
        self, *, phrase: str, category: str, since: datetime, scan: int
    ) -> tuple[int, list[Any]]:
        """Customer messages since ``since`` that an escalation signal ``phrase`` would match,
        as the pipeline matches signals: (messages scanned, matching messages, newest first,
        from the ``scan`` newest candidates). Each message has ``text``, ``created_at`` and
        ``conversation_id``."""
        ...


class _Registry:
    bot: Bot | None = None


def bot_register(bot: Bot) -> None:
    """Make ``bot`` the one knowledge calls (the last registration wins)."""
    _Registry.bot = bot


def bot_registered() -> Bot:
    """The registered bot; raises ``ImproperlyConfigured`` when no app registered one."""
    if _Registry.bot is None:
        raise ImproperlyConfigured(
            "No bot is registered with knowledge.bot: is the chat app in INSTALLED_APPS?"
        )
    return _Registry.bot
