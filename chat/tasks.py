"""Celery tasks of the chat: the bot's answer to a customer message, and the inactivity sweep.

Tasks are thin: load by id, call the pipeline, persist through a service. Both survive a
missing row quietly (a flushed test database, a deleted conversation) and are safe to run
twice (the unique reply-to constraint keeps one bot reply per inbound message).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings
from django.db import connection
from django.utils import timezone

from . import realtime, selectors, services
from .models import Author, ConversationStatus, Message, Resolution

logger = logging.getLogger(__name__)

HISTORY_TURNS = 10
DELTA_INTERVAL_SECONDS = 0.05


@worker_process_init.connect
def _prepare_worker_process(**kwargs: Any) -> None:
    """Each worker process prepares its real-time sends (a Redis client, or one long-lived
    loop), and loads the bot's taxonomy (classifier included), its language word lists and the
    sentence-embedding model before its first customer rather than during it."""
    realtime.use_private_loop()
    try:
        from chat.bot import language, taxonomy_snapshot

        taxonomy_snapshot()
        language.prepare()
    except Exception:  # no database or no trained classifier yet: the first turn loads it
        logger.info("the bot's taxonomy was not preloaded", exc_info=True)
    from chat.bot.embeddings import embedder

    embedder()  # the sentence-embedding model (None when off or not installed; never raises)


def answer_turn(*, text: str, context: Any, on_delta=None) -> Any:
    """The bot pipeline (``chat.bot.answer_turn``), imported when first needed."""
    from chat.bot import answer_turn as pipeline_answer_turn

    return pipeline_answer_turn(text=text, context=context, on_delta=on_delta)


def _load_turn(message_id: int) -> tuple[Message | None, list[tuple[str, str]], bool]:
    """The message with its conversation, the 20 messages before it, and whether it is answered.

    On PostgreSQL one plain-SQL query (the history as a JSON array beside the two rows); the
    ORM's compiling of the same took several times the queries themselves, on every turn.
    """
    if connection.vendor == "postgresql":
        return _load_turn_one_query(message_id)
    try:
        message = Message.objects.select_related("conversation").get(pk=message_id)
    except Message.DoesNotExist:
        return None, [], False
    table = connection.ops.quote_name(Message._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT author, text, in_reply_to_id FROM {table} "  # noqa: S608 (a table name)
            "WHERE (conversation_id = %s AND seq < %s) OR in_reply_to_id = %s "
            "ORDER BY seq DESC LIMIT %s",
            [message.conversation_id, message.seq, message_id, HISTORY_TURNS * 2 + 1],
        )
        rows = cursor.fetchall()
    return (message, *_history(message_id, rows))


def _history(message_id: int, rows: list) -> tuple[list[tuple[str, str]], bool]:
    """(the earlier messages, oldest first; whether a reply to ``message_id`` is among rows)."""
    answered = any(reply_to == message_id for _, _, reply_to in rows)
    earlier = [(a, text) for a, text, reply_to in reversed(rows) if reply_to != message_id]
    return earlier[-HISTORY_TURNS * 2 :], answered


_ONE_QUERY: dict[str, Any] = {}


def _row_reader(model: Any) -> tuple[list[str], list[str], list[tuple[Any, list]]]:
    """(attnames, quoted columns, (field, converters)) of a model's concrete fields."""
    fields = model._meta.concrete_fields
    qn = connection.ops.quote_name
    converters = [
        (field, connection.ops.get_db_converters(field.get_col(model._meta.db_table))
         + field.get_db_converters(connection))
        for field in fields
    ]
    return [f.attname for f in fields], [qn(f.column) for f in fields], converters


def _instance(model: Any, reader: tuple, values: tuple | list) -> Any:
    names, _, converters = reader
    converted = []
    for (field, funcs), value in zip(converters, values, strict=True):
        for func in funcs:
            value = func(value, field, connection)
        converted.append(value)
    return model.from_db(connection.alias, names, converted)


def _load_turn_one_query(message_id: int) -> tuple[Message | None, list[tuple[str, str]], bool]:
    from .models import Conversation

    query = _ONE_QUERY.get(connection.alias)
    if query is None:
        qn = connection.ops.quote_name
        message_reader, conversation_reader = _row_reader(Message), _row_reader(Conversation)
        columns = [f"m.{c}" for c in message_reader[1]] + [
            f"c.{c}" for c in conversation_reader[1]
        ]
        table = qn(Message._meta.db_table)
        sql = (  # only quoted identifiers are interpolated
            f"SELECT {', '.join(columns)}, "  # noqa: S608
            "(SELECT json_agg(json_build_array(h.author, h.text, h.in_reply_to_id) "
            "ORDER BY h.seq DESC) FROM ("
            f"SELECT author, text, in_reply_to_id, seq FROM {table} "
            "WHERE (conversation_id = m.conversation_id AND seq < m.seq) OR in_reply_to_id = m.id "
            "ORDER BY seq DESC LIMIT %s) h) "
            f"FROM {table} m JOIN {qn(Conversation._meta.db_table)} c "
            "ON c.id = m.conversation_id WHERE m.id = %s"
        )
        query = _ONE_QUERY[connection.alias] = (sql, message_reader, conversation_reader)
    sql, message_reader, conversation_reader = query
    with connection.cursor() as cursor:
        cursor.execute(sql, [HISTORY_TURNS * 2 + 1, message_id])
        row = cursor.fetchone()
    if row is None:
        return None, [], False
    split = len(message_reader[0])
    message = _instance(Message, message_reader, row[:split])
    message.conversation = _instance(Conversation, conversation_reader, row[split:-1])
    history = row[-1]
    if isinstance(history, (str, bytes)):
        history = json.loads(history)
    return (message, *_history(message_id, [tuple(h) for h in history or []]))


def _context_for(message: Message, recent: list[tuple[str, str]]) -> Any:
    """The pipeline's view of the conversation before ``message``.

    Dates are counted from the message's own time in the customer's zone: a message answered
    minutes later (after a requeue) still means its own "yesterday".
    """
    from chat.bot.types import TurnContext

    return TurnContext(
        history=recent[-HISTORY_TURNS:],
        dialog_state=dict(message.conversation.dialog_state or {}),
        customer_texts=[text for author, text in recent if author == Author.CUSTOMER],
        timezone=message.conversation.timezone,
        now=message.created_at,
    )


@shared_task(name="chat.tasks.answer_message", ignore_result=True)
def answer_message(message_id: int) -> None:
    """Runs the pipeline on one customer message and stores the reply or the handoff."""
    message, earlier, answered = _load_turn(message_id)
    if message is None or message.author != Author.CUSTOMER or answered:
        return  # gone, not the customer's, or answered already (a re-delivered task)
    conversation = message.conversation
    if conversation.status != ConversationStatus.BOT:
        return
    # The customer's socket already shows the bot typing (see ChatConsumer.frame_message).
    last_delta = [0.0]

    def on_delta(partial_text: str) -> None:
        now = time.monotonic()
        if now - last_delta[0] >= DELTA_INTERVAL_SECONDS:
            last_delta[0] = now
            realtime.broadcast_delta(conversation.pk, message.seq, partial_text)

    try:
        context = _context_for(message, earlier)
        result = answer_turn(text=message.text, context=context, on_delta=on_delta)
    except Exception as error:
        # A bug or a broken taxonomy must not leave the customer waiting for nothing: a
        # person takes over, and the handoff (category "error") shows in the analytics.
        logger.exception("the bot failed on message %s; handing over to a person", message_id)
        from chat.bot import failed_turn

        result = failed_turn(
            error=error, intent=conversation.intent, dialog_state=conversation.dialog_state
        )
    try:
        reply = services.bot_turn_record(message=message, result=result)
    except Exception:
        realtime.broadcast_typing(conversation.pk, Author.BOT, False)
        raise
    if reply is None:
        realtime.broadcast_typing(conversation.pk, Author.BOT, False)


_PUBLISH_OPTIONS: dict[str, Any] = {}


def answer_message_enqueue(message_id: int) -> None:
    """Queues ``answer_message`` for one customer message: ``delay``, with less work per call.

    The options are worked out once: the task's queue from Celery's router, published through
    the broker's default exchange straight to that queue (no exchange binding to look up or
    declare per message, one Redis command instead of two), and the task's argument shown in
    the worker's logs without ``saferepr``. About half of ``delay``'s CPU in Daphne.
    """
    options = _PUBLISH_OPTIONS
    if not options:
        queue = answer_message.app.amqp.router.route({}, answer_message.name)["queue"]
        options.update(exchange="", routing_key=queue.name, declare=[], kwargsrepr="{}")
    answer_message.apply_async((message_id,), argsrepr=f"({int(message_id)},)", **options)


@shared_task(name="chat.tasks.requeue_unanswered_messages", ignore_result=True)
def requeue_unanswered_messages() -> int:
    """Queues the bot task again for customer messages it owes an answer; returns how many.

    A queued task is lost if Redis restarts without persistence, and a reply committed
    without waiting for the disk (``CHAT_BOT_REPLY_ASYNC_COMMIT``) if PostgreSQL crashes. The
    task stores at most one reply per message, so queueing it twice is harmless. Messages
    older than the inactivity window are left to ``resolve_inactive_conversations``.
    """
    now = timezone.now()
    owed = selectors.messages_unanswered(
        since=now - timedelta(minutes=settings.CHAT_INACTIVITY_RESOLVE_MINUTES),
        before=now - timedelta(seconds=settings.CHAT_BOT_REQUEUE_AFTER_SECONDS),
    )
    for message_id in owed:
        answer_message_enqueue(message_id)
    if owed:
        logger.warning("queued the bot again for %d unanswered customer message(s)", len(owed))
    return len(owed)


def _bot_awaits_answer(dialog_state: dict) -> bool:
    """Whether the bot's last turn asked the customer for a detail (an open question)."""
    return any(
        value
        for key, value in (dialog_state or {}).items()
        if key.startswith(("pending", "awaiting"))
    )


@shared_task(name="chat.tasks.resolve_inactive_conversations", ignore_result=True)
def resolve_inactive_conversations() -> int:
    """Closes conversations quiet for the inactivity window; returns how many it closed.

    A bot answer the customer left without asking anything further counts as resolved by the
    bot (assumed); anything else left unanswered (waiting for an agent, a bot question left
    open, a message the bot never answered) counts as abandoned. The change is dated at the
    moment the window ran out.
    """
    window = timedelta(minutes=settings.CHAT_INACTIVITY_RESOLVE_MINUTES)
    now = timezone.now()
    closed = 0
    for conversation in selectors.conversations_inactive(before=now - window):
        moments = [
            conversation.created_at,
            conversation.last_customer_message_at,
            conversation.last_bot_reply_at,
            conversation.handed_off_at,
        ]
        at = min(now, max(m for m in moments if m is not None) + window)
        bot_answered_last = conversation.last_bot_reply_at is not None and (
            conversation.last_customer_message_at is None
            or conversation.last_bot_reply_at >= conversation.last_customer_message_at
        )
        try:
            if (
                conversation.status == ConversationStatus.BOT
                and bot_answered_last
                and not _bot_awaits_answer(conversation.dialog_state)
            ):
                services.conversation_resolve(
                    conversation=conversation, resolution=Resolution.BOT_ASSUMED, at=at
                )
            else:
                services.conversation_abandon(conversation=conversation, at=at)
            closed += 1
        except Exception:
            logger.exception("could not close inactive conversation %s", conversation.pk)
    return closed
