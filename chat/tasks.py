"""Celery tasks of the chat: the bot's answer to a customer message, and the inactivity sweep.

Tasks are thin: load by id, call the pipeline, persist through a service. Both survive a
missing row quietly (a flushed test database, a deleted conversation) and are safe to run
twice (the unique reply-to constraint keeps one bot reply per inbound message).
"""

from __future__ import annotations

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
    """Each worker process sends real-time events through one long-lived loop, and loads the
    bot's taxonomy (classifier included) before its first customer rather than during it."""
    realtime.use_private_loop()
    try:
        from chat.bot import taxonomy_snapshot

        taxonomy_snapshot()
    except Exception:  # no database or no trained classifier yet: the first turn loads it
        logger.info("the bot's taxonomy was not preloaded", exc_info=True)


def answer_turn(*, text: str, context: Any, on_delta=None) -> Any:
    """The bot pipeline (``chat.bot.answer_turn``), imported when first needed."""
    from chat.bot import answer_turn as pipeline_answer_turn

    return pipeline_answer_turn(text=text, context=context, on_delta=on_delta)


def _load_turn(message_id: int) -> tuple[Message | None, list[tuple[str, str]], bool]:
    """The message with its conversation, the 20 messages before it, and whether it is answered.

    Two small queries; the second is plain SQL because the ORM's compiling of it cost several
    times the query itself, on every turn.
    """
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
    answered = any(reply_to == message_id for _, _, reply_to in rows)
    earlier = [(a, text) for a, text, reply_to in reversed(rows) if reply_to != message_id]
    return message, earlier[-HISTORY_TURNS * 2 :], answered


def _context_for(message: Message, recent: list[tuple[str, str]]) -> Any:
    from chat.bot.types import TurnContext

    return TurnContext(
        history=recent[-HISTORY_TURNS:],
        dialog_state=dict(message.conversation.dialog_state or {}),
        customer_texts=[text for author, text in recent if author == Author.CUSTOMER],
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
        reply = services.bot_turn_record(message=message, result=result)
    except Exception:
        realtime.broadcast_typing(conversation.pk, Author.BOT, False)
        raise
    if reply is None:
        realtime.broadcast_typing(conversation.pk, Author.BOT, False)


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
