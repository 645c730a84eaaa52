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
then looks once more (``drain_mark_release`` before ``owed_heads_in_shard``): a message
committed while the mark was still set, and which therefore queued nothing, is seen by that
look, since it committed before it checked the mark. A drain that died lets its mark expire; the
dispatcher then queues the shard's drain again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Min
from django.utils import timezone

from . import shared_redis
from .models import Conversation, ConversationStatus, Message, OwedAnswer

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


@lru_cache(maxsize=1)
def _heads_statement() -> str:
    qn = connection.ops.quote_name
    owed = qn(OwedAnswer._meta.db_table)
    # Only quoted identifiers are interpolated; every value is a parameter. The owed answer's
    # primary key is its message's id: the scan runs in message order along it.
    return (
        f"SELECT {qn('message_id')}, {qn('conversation_id')}, "  # noqa: S608
        f"CASE WHEN {qn('queued_at')} <= %s THEN 1 ELSE 0 END FROM {owed} "
        f"WHERE {qn('conversation_id')} %% %s = %s ORDER BY {qn('message_id')} LIMIT %s"
    )


def owed_heads_in_shard(
    shard: int, *, exclude: Iterable[int] = (), limit: int = 20
) -> list[tuple[int, int]]:
    """(message id, conversation id) of the customer messages a drain of ``shard`` may answer
    now, oldest first: the oldest owed message of each conversation, unless that one is
    deferred (``owed_answer_defer``: its turn runs on the connector queue) or in ``exclude``
    (it failed in this run). A conversation's later messages wait for it: they are answered
    in order.

    One plain statement over at most ``limit`` owed answers, built once (the table holds only
    the answers owed right now): ``SELECT message_id, conversation_id, queued_at <= %s FROM
    chat_owedanswer WHERE conversation_id % <drains> = %s ORDER BY message_id LIMIT %s``."""
    ahead = timezone.now() + timedelta(seconds=DRAIN_CLOCK_SLACK_SECONDS)
    queued_at = OwedAnswer._meta.get_field("queued_at")
    params = [queued_at.get_db_prep_value(ahead, connection, prepared=False),
              max(1, settings.CHAT_BOT_DRAINS), shard, limit]
    with connection.cursor() as cursor:
        cursor.execute(_heads_statement(), params)
        found = cursor.fetchall()
    skipped = set(exclude)
    seen: set[int] = set()
    heads: list[tuple[int, int]] = []
    for message_id, conversation_id, ready in found:
        if conversation_id in seen:
            continue
        seen.add(conversation_id)
        if message_id not in skipped and ready:
            heads.append((message_id, conversation_id))
    return heads


@lru_cache(maxsize=64)
def _load_statements(count: int) -> tuple[str, str]:
    qn = connection.ops.quote_name
    marks = ", ".join(["%s"] * count)

    def select(model: type[Any]) -> str:
        columns = ", ".join(qn(field.column) for field in model._meta.concrete_fields)
        return (
            f"SELECT {columns} FROM {qn(model._meta.db_table)} "  # noqa: S608
            f"WHERE {qn(model._meta.pk.column)} IN ({marks})"
        )

    return select(Message), select(Conversation)


def messages_with_conversations(heads: Sequence[tuple[int, int]]) -> list[Message]:
    """The messages of ``heads`` ((message id, conversation id) pairs of different
    conversations), each with its conversation loaded, in the order of ``heads``; a message
    deleted meanwhile is left out.

    Two plain statements built once per count (``SELECT <every column> FROM chat_message WHERE
    id IN (...)``, the same of ``chat_conversation``) read through ``Model.objects.raw``, which
    converts each column as the ORM does."""
    if not heads:
        return []
    messages_sql, conversations_sql = _load_statements(len(heads))
    messages = {m.pk: m for m in Message.objects.raw(messages_sql, [m for m, _ in heads])}
    conversations = {
        c.pk: c for c in Conversation.objects.raw(conversations_sql, [c for _, c in heads])
    }
    loaded = []
    for message_id, conversation_id in heads:
        message = messages.get(message_id)
        conversation = conversations.get(conversation_id)
        if message is not None and conversation is not None:
            message.conversation = conversation
            loaded.append(message)
    return loaded


def owed_messages_in_shard(
    shard: int, *, exclude: Iterable[int] = (), limit: int = 20
) -> list[Message]:
    """The messages ``owed_heads_in_shard`` names, with their conversations
    (``messages_with_conversations``): three statements."""
    return messages_with_conversations(owed_heads_in_shard(shard, exclude=exclude, limit=limit))


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
