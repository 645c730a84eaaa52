"""Celery tasks of the chat: the bot's answer to a customer message, the owed-answer
dispatcher, the heartbeat behind /healthz and the inactivity sweep.

Tasks are thin: load by id, call the pipeline, persist through a service. They survive a
missing row quietly (a flushed test database, a deleted conversation) and are safe to run
twice (the answer owed to a message is settled once, see ``chat.outbox``).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.signals import before_task_publish, worker_process_init
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from . import liveness, mail, outbox, realtime, selectors, services
from .models import (
    Author,
    Contact,
    Conversation,
    ConversationStatus,
    Message,
    OwedEmail,
    Resolution,
)

logger = logging.getLogger(__name__)

HISTORY_TURNS = 10
DELTA_INTERVAL_SECONDS = 0.05


def bot_preload() -> None:
    """Loads the bot's taxonomy (classifier included), its language word lists and the
    sentence-embedding model, so that the first customer does not wait for them.

    Never raises: with no database or no trained classifier yet, the first turn loads them.
    """
    try:
        from chat.bot import language, taxonomy_snapshot

        taxonomy_snapshot()
        language.prepare()
    except Exception:
        logger.info("the bot's taxonomy was not preloaded", exc_info=True)
    from chat.bot.embeddings import embedder

    embedder()  # the sentence-embedding model (None when off or not installed; never raises)


@worker_process_init.connect
def _prepare_worker_process(**kwargs: Any) -> None:
    """Each worker process prepares its real-time sends and loads the bot before its first
    customer rather than during it."""
    realtime.use_private_loop()
    bot_preload()


def answer_turn(*, text: str, context: Any, on_delta=None, call_connector=None) -> Any:
    """The bot pipeline (``chat.bot.answer_turn``), imported when first needed."""
    from chat.bot import answer_turn as pipeline_answer_turn

    return pipeline_answer_turn(
        text=text, context=context, on_delta=on_delta, call_connector=call_connector
    )


def _defer_connector_call(spec: Any, values: dict[str, str]) -> Any:
    """The default queue calls no data connector: the turn moves to the connector queue."""
    from chat.bot.lookup import DeferTurn

    raise DeferTurn(spec.name)


def _load_turn(message_id: int) -> tuple[Message | None, list[tuple[str, str]], bool]:
    """The message with its conversation, the messages before it, and whether it is owed.

    Two queries: the message with its conversation, if an answer is still owed to it (a join
    of two tables: the owed row itself is not loaded); then the last ``HISTORY_TURNS * 2``
    messages before it. (None, [], False) when nothing is owed (answered already, taken by an
    agent, or gone).
    """
    try:
        message = Message.objects.select_related("conversation").get(
            pk=message_id, owed_answer__isnull=False
        )
    except Message.DoesNotExist:
        return None, [], False
    recent = selectors.messages_before(
        conversation_id=message.conversation_id, seq=message.seq, limit=HISTORY_TURNS * 2
    )
    return message, recent, True


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
        verified_customer_id=message.conversation.verified_user_id,
        verified_details=_verified_details(message.conversation),
    )


def _verified_details(conversation: Conversation) -> dict[str, str]:
    """The e-mail address and name the host page gave with a verified customer's signed id
    (their verified contact's), so that the bot never asks for them; {} when unverified."""
    if not conversation.verified_user_id:
        return {}
    row = Contact.objects.filter(
        widget_id=conversation.widget_id, external_id=conversation.verified_user_id,
        is_verified=True,
    ).values("email", "name").first()
    return {k: v for k, v in (row or {}).items() if v}


# A dead database connection (PostgreSQL restarted) fails the task: it is queued again with
# backoff, not acknowledged away; the next attempt's connection is checked first
# (``supportdesk.celery``). The outbox queues it again anyway while the answer is owed.
RETRY_ON = (OperationalError, InterfaceError)


@shared_task(
    name="chat.tasks.answer_message",
    ignore_result=True,
    autoretry_for=RETRY_ON,
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=12,
)
def answer_message(message_id: int, lookups: bool = False) -> None:
    """Runs the pipeline on one customer message and stores the reply or the handoff.

    Does nothing for a message no answer is owed to (answered already by an earlier delivery
    of this task, or taken by an agent). With ``CONNECTOR_QUEUE`` set, a turn that needs a
    data connector's call is run again on that queue (``lookups=True``), so that a slow
    company API holds up no other conversation's answer; with eager Celery it runs here.
    """
    from chat.bot.lookup import DeferTurn

    message, earlier, owed = _load_turn(message_id)
    if message is None or message.author != Author.CUSTOMER or not owed:
        return  # gone, not the customer's, or settled already (a re-delivered task)
    conversation = message.conversation
    if conversation.status != ConversationStatus.BOT:
        services.owed_answer_settle(message=message)
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
        extra = {}
        if settings.CONNECTOR_QUEUE and not (
            lookups or answer_message.app.conf.task_always_eager
        ):
            extra["call_connector"] = _defer_connector_call
        result = answer_turn(text=message.text, context=context, on_delta=on_delta, **extra)
    except DeferTurn:
        answer_message.apply_async(
            (message_id,), {"lookups": True}, queue=settings.CONNECTOR_QUEUE
        )
        return
    except RETRY_ON:
        raise
    except Exception as error:
        # A bug or a broken taxonomy must not leave the customer waiting for nothing: a
        # person takes over, and the handoff (category "error") shows in the analytics.
        logger.exception("the bot failed on message %s; handing over to a person", message_id)
        from chat.bot import failed_turn

        result = failed_turn(
            error=error, intent=conversation.intent, dialog_state=conversation.dialog_state
        )
    if result.decision == "handoff" and not selectors.agents_online_count():
        # One clear notice: no "a person will reply here" when no one is there to.
        from chat.bot import offline_handoff

        result = offline_handoff(result)
    try:
        reply = services.bot_turn_record(message=message, result=result)
    except Exception:
        realtime.broadcast_typing(conversation.pk, Author.BOT, False)
        raise
    if reply is None:
        realtime.broadcast_typing(conversation.pk, Author.BOT, False)


def answer_message_enqueue(message_id: int) -> None:
    """Queues ``answer_message`` for one customer message (Celery's ``delay``).

    On the embedded defaults (eager Celery, no broker) the task runs here through
    ``Task.apply``: ``delay`` in eager mode still borrows a producer from the broker's
    connection pool to serialise the arguments, reaching for a broker that does not exist.
    """
    if answer_message.app.conf.task_always_eager:
        answer_message.apply((message_id,), throw=True)
    else:
        answer_message.delay(message_id)


outbox.register_queue(answer_message_enqueue)


@shared_task(name="chat.tasks.owed_answers_dispatch", ignore_result=True)
def owed_answers_dispatch() -> int:
    """Queues the bot again for answers still owed after the requeue delay; returns how many.

    A queued task is lost if Redis restarts without persistence, or was never queued while
    Redis was down; a killed worker's prefetched tasks would wait for the visibility timeout.
    The task settles each owed answer once, so queueing it twice is harmless.
    """
    return outbox.owed_answers_dispatch()


@shared_task(
    name="chat.tasks.owed_email_send",
    ignore_result=True,
    autoretry_for=RETRY_ON,
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=12,
)
def owed_email_send(email_id: int) -> str:
    """Sends one e-mail the desk owes a customer, if it is due (``chat.mail``); returns what
    happened. A failed SMTP send keeps it pending with a backoff: beat queues it again."""
    return mail.owed_email_send(email_id)


def owed_email_enqueue(email_id: int) -> None:
    """Queues ``owed_email_send`` for one outbox row that is due now; a row due later (a reply
    in its batching window) is left to beat's dispatcher, rather than held in the broker as
    a countdown that Redis would redeliver after its visibility timeout. With eager Celery
    the send runs here."""
    due = OwedEmail.objects.filter(pk=email_id).values_list("send_after", flat=True).first()
    if due is None or due > timezone.now():
        return
    if owed_email_send.app.conf.task_always_eager:
        owed_email_send.apply((email_id,), throw=True)
    else:
        owed_email_send.delay(email_id)


mail.register_queue(owed_email_enqueue)


@shared_task(name="chat.tasks.owed_emails_dispatch", ignore_result=True)
def owed_emails_dispatch() -> int:
    """Queues the send task for every owed e-mail that is due and unsent (beat, every 30 s);
    returns how many. A mail is sent once however often it is queued (``chat.mail``)."""
    return mail.owed_emails_dispatch()


HEARTBEAT_TASK = "chat.tasks.heartbeat"


@shared_task(name=HEARTBEAT_TASK, ignore_result=True)
def heartbeat() -> None:
    """Sent by beat every few seconds and run by a worker: each records when it was last seen.

    The beat's side is recorded when it publishes the task (``record_beat_publish``).
    """
    liveness.seen("worker")


@before_task_publish.connect
def record_beat_publish(sender: str | None = None, **kwargs: Any) -> None:
    """Only beat publishes the heartbeat: its publishing shows the scheduler alive."""
    if sender == HEARTBEAT_TASK:
        liveness.seen("beat")


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
