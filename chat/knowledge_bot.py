"""The bot as knowledge's pages use it (``knowledge.bot.Bot``), registered by
``chat.apps.ChatConfig.ready``: training the classifier, the playground and its dialog state,
the customer messages an escalation signal would match, and the classifier's words and top
guess for analytics' gap groups."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from .bot import classifier, playground_turn, taxonomy_snapshot
from .bot.dialog import check_state
from .bot.signals import SignalMatcher
from .bot.text import normalize, tokens
from .bot.types import TurnResult
from .models import Author, Message


class ChatBot:
    """``knowledge.bot.Bot`` over ``chat.bot`` and the stored messages."""

    def classifier_train(
        self,
        texts: list[str],
        labels: list[str],
        *,
        progress: Callable[[float], None] | None = None,
    ) -> tuple[classifier.IntentClassifier, dict[str, Any]]:
        """``chat.bot.classifier.train`` with its defaults."""
        return classifier.train(texts, labels, progress=progress)

    def playground_turn(
        self, *, text: str, history: Iterable[str] = (), dialog_state: dict | None = None
    ) -> TurnResult:
        return playground_turn(text=text, history=history, dialog_state=dialog_state)

    def content_words(self, text: str) -> list[str]:
        """``chat.bot.classifier.content_words``."""
        return classifier.content_words(text)

    def intent_guesser(self) -> Callable[[str], str] | None:
        """The active classifier's best intent for a message on its word features
        (``predict_words``), leaving out the fallback intent: teaching a gap message to the
        fallback intent would keep it a gap. "" when the classifier knows no other intent;
        None without a model."""
        taxonomy = taxonomy_snapshot(fresh=True)  # a model activated a moment ago counts
        model = taxonomy.classifier
        if model is None:
            return None
        fallback = taxonomy.fallback_intent

        def guess(text: str) -> str:
            ranked = model.predict_words(text, top=len(model.classes))
            return next((slug for slug, _ in ranked if slug != fallback), "")

        return guess

    def dialog_state_check(self, state: Any) -> dict:
        """``chat.bot.dialog.check_state``."""
        return check_state(state)

    def customer_messages_matching(
        self, *, phrase: str, category: str, since: datetime, scan: int
    ) -> tuple[int, list[Message]]:
        """Matched by the pipeline's own ``SignalMatcher`` (words in context, not substrings);
        the database first narrows to the messages that hold every word of ``phrase``."""
        words = tokens(phrase)
        if not words:
            return 0, []
        recent = Message.objects.filter(author=Author.CUSTOMER, created_at__gte=since)
        scanned = recent.count()
        candidates = recent
        for word in words:
            candidates = candidates.filter(text__icontains=word)
        candidates = candidates.order_by("-created_at").only(
            "id", "text", "created_at", "conversation_id"
        )[:scan]
        matcher = SignalMatcher([(phrase, category)])
        return scanned, [m for m in candidates if matcher.find(normalize(m.text))]
