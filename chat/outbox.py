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

**Drains.** With a broker, owed answers are not one Celery task each: conversations are split
into ``CHAT_BOT_DRAINS`` shards (``conversation id % CHAT_BOT_DRAINS``), and one drain task at
a time answers what is owed in a shard, oldest first, a batch per run, queueing itself again
while more is owed (``chat.tasks.owed_answers_drain``). A committed message queues its shard's
drain only if none is queued or running: a mark in Redis (``drain_mark_take``, ``SET NX`` with
a lifetime of ``CHAT_BOT_DRAIN_MARK_SECONDS``, renewed while the drain runs). A burst of
messages thus costs one task and one publish, not one each. The drain gives the mark back,
then looks once more (``drain_mark_release`` before ``owed_messages_in_shard``): a message
committed while the mark was still set, and which therefore queued nothing, is seen by that
look, since it committed before it checked the mark. A drain that died lets its mark expire; the
dispatcher then queues the shard's drain again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Min
from django.db.models.functions import Mod
from django.utils import timezone

from . import shared_redis
from .models import ConversationStatus, Message, OwedAnswer

logger = logging.getLogger(__name__)

# (message id, conversation id) -> None: queues the bot for that message (registered by tasks).
_queue: Callable[[int, int], None] | None = None
# A drain takes answers queued up to this far ahead of its own clock (another host's clock);
# an answer deferred to the connector queue is set further ahead than this (``owed_answer_defer``).
DRAIN_CLOCK_SLACK_SECONDS = 5.0


def register_queue(queue: Callable[[int, int], None]) -> None:
    """Sets the function that queues the bot for one customer message:
    ``queue(message_id, conversation_id)``."""
    global _queue
    _queue = queue


def _queue_each(owed: Iterable[tuple[int, int]]) -> list[int]:
    """Queues the bot for each (message id, conversation id); returns the message ids queued
    (a broker failure stops it)."""
    if _queue is None:
        logger.error("no bot task is registered: the owed answers wait for the dispatcher")
        return []
    queued: list[int] = []
    for message_id, conversation_id in owed:
        try:
            _queue(message_id, conversation_id)
        except Exception:
            # Redis down or the like: the rows stay owed; the beat dispatcher tries again.
            logger.warning(
                "could not queue the bot for message %s; it stays owed", message_id,
                exc_info=True,
            )
            break
        queued.append(message_id)
    return queued


def owed_answer_queue_on_commit(message_id: int, conversation_id: int) -> None:
    """Queues the bot for ``message_id`` (of ``conversation_id``) once the current transaction
    commits.

    The row was written as queued (``queued_at`` its creation): no second write per message;
    if this queueing fails, the dispatcher's delay runs from the message's own time.
    """

    def queue() -> None:
        _queue_each([(message_id, conversation_id)])

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
        .values_list("message_id", "conversation_id")[:limit]
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


def owed_answer_defer(message_id: int, *, seconds: float) -> None:
    """Neither a drain nor the dispatcher queues the answer owed to ``message_id`` for the next
    ``seconds``: its turn runs elsewhere (the connector queue) and may take that long. Still
    owed afterwards, it is queued again (after ``CHAT_OWED_ANSWER_REQUEUE_SECONDS`` more)."""
    OwedAnswer.objects.filter(message_id=message_id).update(
        queued_at=timezone.now() + timedelta(seconds=seconds)
    )


# --- Drains ------------------------------------------------------------------------------------


def drain_shard(conversation_id: int) -> int:
    """The drain shard of a conversation: ``conversation_id % CHAT_BOT_DRAINS`` (the setting
    must be the same on every process)."""
    return conversation_id % max(1, settings.CHAT_BOT_DRAINS)


def owed_messages_in_shard(
    shard: int, *, exclude: Iterable[int] = (), limit: int = 20
) -> list[Message]:
    """The customer messages a drain of ``shard`` may answer now, with their conversations,
    oldest first: the oldest owed message of each conversation, unless that one is deferred
    (``owed_answer_defer``: its turn runs on the connector queue) or in ``exclude`` (it failed
    in this run). A conversation's later messages wait for it: they are answered in order.

    One statement over at most ``limit`` owed messages (the messages joined to their owed
    answers and conversations); the table holds only the answers owed right now."""
    ahead = timezone.now() + timedelta(seconds=DRAIN_CLOCK_SLACK_SECONDS)
    found = (
        Message.objects.select_related("conversation")
        .alias(shard=Mod("conversation_id", max(1, settings.CHAT_BOT_DRAINS)))
        .annotate(owed_queued_at=F("owed_answer__queued_at"))
        .filter(shard=shard, owed_answer__isnull=False)
        .order_by("pk")[:limit]
    )
    skipped = set(exclude)
    seen: set[int] = set()
    first: list[Message] = []
    for message in found:
        if message.conversation_id in seen:
            continue
        seen.add(message.conversation_id)
        if message.pk not in skipped and message.owed_queued_at <= ahead:
            first.append(message)
    return first


def _drain_mark(shard: int) -> str:
    return shared_redis.key("chat", "drain", shard)


def drain_mark_take(shard: int) -> bool:
    """Sets ``shard``'s drain mark unless it is set; True when this call set it (the caller
    then queues the drain). One ``SET NX EX`` in Redis (this process's cache without
    ``REDIS_URL``). A store that fails answers True: a drain too many is harmless."""
    seconds = settings.CHAT_BOT_DRAIN_MARK_SECONDS
    try:
        client = shared_redis.client()
        if client is None:
            return cache.add(_drain_mark(shard), 1, seconds)
        return bool(client.set(_drain_mark(shard), 1, ex=seconds, nx=True))
    except Exception:
        logger.warning("the drain mark of shard %s could not be read", shard, exc_info=True)
        return True


def drain_mark_hold(shard: int) -> None:
    """Renews ``shard``'s drain mark for ``CHAT_BOT_DRAIN_MARK_SECONDS`` (its drain runs on)."""
    seconds = settings.CHAT_BOT_DRAIN_MARK_SECONDS
    try:
        client = shared_redis.client()
        if client is None:
            cache.set(_drain_mark(shard), 1, seconds)
        else:
            client.set(_drain_mark(shard), 1, ex=seconds)
    except Exception:
        logger.warning("the drain mark of shard %s could not be renewed", shard, exc_info=True)


def drain_mark_release(shard: int) -> None:
    """Clears ``shard``'s drain mark: the next committed message queues a drain."""
    try:
        client = shared_redis.client()
        if client is None:
            cache.delete(_drain_mark(shard))
        else:
            client.delete(_drain_mark(shard))
    except Exception:
        logger.warning("the drain mark of shard %s could not be cleared", shard, exc_info=True)
