"""The chat's transactional outbox: answers the bot owes, kept as data and queued until settled.

``chat.services`` writes an ``OwedAnswer`` row in the same transaction as the customer message
and deletes it in the same transaction as the bot's reply or handoff notice (or as an agent's
claim, or the conversation's close). This module queues the bot task for owed answers: once
when the message commits (``owed_answer_queue_on_commit``), and again from beat for every
answer still owed after ``CHAT_OWED_ANSWER_REQUEUE_SECONDS`` (``owed_answers_dispatch``),
wherever the message sits in its conversation.

The services never import the tasks: ``chat.tasks`` registers the function that queues the
bot task (``register_queue``) when Celery or Django loads it (``ChatConfig.ready``). A
failed queueing (Redis down) is logged and changes nothing: the row stays owed and the beat
dispatcher queues it once the broker is back. Queueing twice is harmless: the task settles the
row once (``chat.services.bot_turn_record``) and a second run finds nothing owed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min
from django.utils import timezone

from .models import ConversationStatus, OwedAnswer

logger = logging.getLogger(__name__)

_queue: Callable[[int], None] | None = None


def register_queue(queue: Callable[[int], None]) -> None:
    """Sets the function that queues the bot task for one customer message id."""
    global _queue
    _queue = queue


def _queue_each(message_ids: Iterable[int]) -> list[int]:
    """Queues the bot task for each id; returns the ids queued (a broker failure stops it)."""
    if _queue is None:
        logger.error("no bot task is registered: the owed answers wait for the dispatcher")
        return []
    queued: list[int] = []
    for message_id in message_ids:
        try:
            _queue(message_id)
        except Exception:
            # Redis down or the like: the rows stay owed; the beat dispatcher tries again.
            logger.warning(
                "could not queue the bot for message %s; it stays owed", message_id,
                exc_info=True,
            )
            break
        queued.append(message_id)
    return queued


def owed_answer_queue_on_commit(message_id: int) -> None:
    """Queues the bot task for ``message_id`` once the current transaction commits.

    The row was written as queued (``queued_at`` its creation): no second write per message;
    if this queueing fails, the dispatcher's delay runs from the message's own time.
    """

    def queue() -> None:
        _queue_each([message_id])

    # Robust: with eager Celery the bot runs inside this call; a failing bot must not turn
    # the customer's stored and echoed message into an error (the answer stays owed).
    transaction.on_commit(queue, robust=True)


def owed_answers_dispatch(*, limit: int = 500) -> int:
    """Queues the bot task again for every answer owed longer than the requeue delay.

    Returns how many were queued. Oldest first, at most ``limit`` per call; a conversation an
    agent has taken is queued too (the task settles its rows without answering).
    """
    now = timezone.now()
    before = now - timedelta(seconds=settings.CHAT_OWED_ANSWER_REQUEUE_SECONDS)
    due = list(
        OwedAnswer.objects.filter(created_at__lt=before)
        .exclude(queued_at__gte=before)
        .order_by("created_at")
        .values_list("message_id", flat=True)[:limit]
    )
    queued = _queue_each(due)
    if queued:
        OwedAnswer.objects.filter(message_id__in=queued).update(
            queued_at=now, attempts=F("attempts") + 1
        )
        logger.warning("queued the bot again for %d owed answer(s)", len(queued))
    return len(queued)


def owed_answer_oldest_age(*, now=None) -> float | None:
    """Seconds since the oldest answer still owed was stored, or None when nothing is owed.

    Only conversations the bot has: a message in an agent's conversation is the agent's.
    """
    oldest = OwedAnswer.objects.filter(conversation__status=ConversationStatus.BOT).aggregate(
        oldest=Min("created_at")
    )["oldest"]
    if oldest is None:
        return None
    return max(0.0, ((now or timezone.now()) - oldest).total_seconds())
