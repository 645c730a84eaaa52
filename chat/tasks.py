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
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

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


# An answer sent to the connector queue is not queued again for this long: the longest a
# connector may take (``knowledge.connectors.MAX_TIMEOUT_SECONDS``) and the requeue delay.
LOOKUP_GRACE_SECONDS = 45.0


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
# The same for Redis (the shared cache) unreachable mid-turn: an outage is retried, never
# handed to a person as if the bot had failed.
RETRY_ON = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)
# The bot's tasks: retried with backoff (1 s doubling to 30 s, jittered) on a dead connection.
BOT_TASK_OPTIONS: dict[str, Any] = {
    "ignore_result": True,
    "autoretry_for": RETRY_ON,
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 12,
}


@shared_task(name="chat.tasks.answer_message", **BOT_TASK_OPTIONS)
def answer_message(message_id: int, lookups: bool = False) -> None:
    """Runs the pipeline on one customer message and stores the reply or the handoff.

    Does nothing for a message no answer is owed to (answered already by an earlier delivery
    of this task, or taken by an agent). With ``CONNECTOR_QUEUE`` set, a turn that needs a
    data connector's call is run again on that queue (``lookups=True``), so that a slow
    company API holds up no other conversation's answer; with eager Celery it runs here.
    Drains (``owed_answers_drain``) answer each of their messages the same way.
    """
    answer_owed(message_id, lookups=lookups)


def answer_owed(message_id: int, *, lookups: bool = False) -> None:
    """The body of ``answer_message``, for one message, in this process.

    Raises what the database raises on a dead connection (``RETRY_ON``) and what storing the
    outcome raises; a failing pipeline is a handoff instead (``chat.bot.failed_turn``).
    """
    message, earlier, owed = _load_turn(message_id)
    if message is None or message.author != Author.CUSTOMER or not owed:
        return  # gone, not the customer's, or settled already (a re-delivered task)
    result = _turn_result(message, earlier, lookups=lookups)
    if result is not None:
        _turn_store(message, result)
    if lookups:
        # The conversation's later messages waited for this one (drains answer in order).
        try:
            answer_message_enqueue(message_id, message.conversation_id, wake_only=True)
        except Exception:  # broker down: the dispatcher queues the drain once it is back
            logger.warning("could not queue the drain after message %s's lookup", message_id,
                           exc_info=True)


def _turn_result(message: Message, earlier: list[tuple[str, str]], *, lookups: bool) -> Any:
    """The pipeline's outcome for ``message`` (owed an answer), or None when there is nothing
    to store: the bot no longer has the conversation (the debt is settled here), or the turn
    was sent to the connector queue."""
    from chat.bot.lookup import DeferTurn

    conversation = message.conversation
    if conversation.status != ConversationStatus.BOT:
        services.owed_answer_settle(message=message)
        return None
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
        # Neither a drain nor the dispatcher runs it again while the connector queue may.
        outbox.owed_answer_defer(message.pk, seconds=LOOKUP_GRACE_SECONDS)
        answer_message.apply_async(
            (message.pk,), {"lookups": True}, queue=settings.CONNECTOR_QUEUE
        )
        return None
    except RETRY_ON:
        raise
    except Exception as error:
        # A bug or a broken taxonomy must not leave the customer waiting for nothing: a
        # person takes over, and the handoff (category "error") shows in the analytics.
        logger.exception("the bot failed on message %s; handing over to a person", message.pk)
        from chat.bot import failed_turn

        result = failed_turn(
            error=error, intent=conversation.intent, dialog_state=conversation.dialog_state
        )
    if result.decision == "handoff" and not selectors.agents_online_count():
        # One clear notice: no "a person will reply here" when no one is there to.
        from chat.bot import offline_handoff

        result = offline_handoff(result)
    return result


def _turn_store(message: Message, result: Any) -> None:
    """Stores one turn's outcome (``services.bot_turn_record``); the bot stops typing when
    nothing was stored (answered already, or an agent took over) or storing failed."""
    try:
        reply = services.bot_turn_record(message=message, result=result)
    except Exception:
        realtime.broadcast_typing(message.conversation_id, Author.BOT, False)
        raise
    if reply is None:
        realtime.broadcast_typing(message.conversation_id, Author.BOT, False)


def answer_message_enqueue(
    message_id: int, conversation_id: int | None = None, *, wake_only: bool = False
) -> None:
    """Queues the bot for one customer message of ``conversation_id``.

    With a broker and ``CHAT_BOT_DRAINS`` (the default), the conversation's shard drain is
    queued unless it is queued or running already (``chat.outbox``: it will find the message);
    with ``CHAT_BOT_DRAINS=0``, or no conversation id, ``answer_message`` is queued for the
    message alone. On the embedded defaults (eager Celery, no broker) the task runs here
    through ``Task.apply``: ``delay`` in eager mode still borrows a producer from the broker's
    connection pool to serialise the arguments, reaching for a broker that does not exist.
    With ``wake_only`` only a drain is queued (for what else its conversation owes), never
    a task for ``message_id`` itself.
    """
    if wake_only and (answer_message.app.conf.task_always_eager or not settings.CHAT_BOT_DRAINS
                      or conversation_id is None):
        return  # without drains each message has a task of its own
    if answer_message.app.conf.task_always_eager:
        answer_message.apply((message_id,), throw=True)
    elif settings.CHAT_BOT_DRAINS and conversation_id is not None:
        shard = outbox.drain_shard(conversation_id)
        if outbox.drain_mark_take(shard):
            try:
                owed_answers_drain.delay(shard)
            except Exception:
                outbox.drain_mark_release(shard)  # the next message tries again
                raise
    else:
        answer_message.delay(message_id)


outbox.register_queue(answer_message_enqueue)

# A drain stores the outcomes of its turns together, in one transaction, until the oldest has
# waited this long since its turn began (seconds): the offline bot's turns share a commit; once
# one turn of a run takes this long (a model over the network), each is stored as it ends.
DRAIN_HOLD_SECONDS = 0.02
# Owed answers a drain takes up in one run; then it queues itself again behind the other
# shards' drains if more are owed (a busy shard never starves the others).
DRAIN_BATCH = 20


def _turns_store(turns: list[tuple[Message, Any]]) -> list[int]:
    """Stores the outcomes of ``turns`` (messages of different conversations) in one
    transaction (``services.bot_turns_record``); if that fails, one by one. Returns the ids of
    the messages whose outcome could not be stored (they stay owed)."""
    if not turns:
        return []
    if len(turns) > 1:
        try:
            replies = services.bot_turns_record(turns)
        except RETRY_ON:
            raise
        except Exception:
            logger.warning("storing %d turns together failed; storing them one by one",
                           len(turns), exc_info=True)
        else:
            for (message, _), reply in zip(turns, replies, strict=True):
                if reply is None:
                    realtime.broadcast_typing(message.conversation_id, Author.BOT, False)
            return []
    failed = []
    for message, result in turns:
        try:
            _turn_store(message, result)
        except RETRY_ON:
            raise
        except Exception:
            logger.exception("could not store the answer to message %s; it stays owed",
                             message.pk)
            failed.append(message.pk)
    return failed


@shared_task(name="chat.tasks.owed_answers_drain", **BOT_TASK_OPTIONS)
def owed_answers_drain(shard: int) -> int:
    """Answers the answers owed in drain ``shard`` (``chat.outbox``), oldest first, at most
    ``DRAIN_BATCH`` and one per conversation, read with their conversations in three
    statements and their histories in one; returns how many messages it took up.

    Each message is answered as ``answer_message`` would, so a message answered already is
    skipped and none is answered twice; the outcomes of turns ready within
    ``DRAIN_HOLD_SECONDS`` of the first one's start are stored in one transaction (each at
    once after a slow turn). A conversation whose oldest owed turn runs on the connector queue
    waits for it. A message whose answer fails is left owed for the dispatcher. Then the drain
    clears its mark and looks again: if anything is still owed in the shard (more than a
    batch, or a message stored meanwhile, which queued nothing while the mark was set) and no
    other drain has been queued since, it queues itself again, at the back of the queue. A
    dead database connection or an unreachable Redis (``RETRY_ON``) fails the drain, which is
    retried with backoff like ``answer_message``.
    """
    due = outbox.owed_messages_in_shard(shard, limit=DRAIN_BATCH)
    histories = selectors.histories_before(
        [(message.conversation_id, message.seq) for message in due], limit=HISTORY_TURNS * 2
    )
    failed: list[int] = []
    held: list[tuple[Message, Any]] = []
    held_since = 0.0
    slow = False  # a turn of this run took longer than the hold: store each at once
    for message in due:
        turn_started = time.monotonic()
        try:
            result = _turn_result(message, histories[message.conversation_id], lookups=False)
        except RETRY_ON:
            raise
        except Exception:
            logger.exception("could not answer message %s; it stays owed", message.pk)
            failed.append(message.pk)
            continue
        if result is None:
            continue
        if not held:
            held_since = turn_started  # a reply waits from its turn's start
        held.append((message, result))
        finished = time.monotonic()
        slow = slow or finished - turn_started >= DRAIN_HOLD_SECONDS
        if slow or finished - held_since >= DRAIN_HOLD_SECONDS:
            failed.extend(_turns_store(held))
            held = []
            outbox.drain_mark_hold(shard)  # running on: no second drain of the shard meanwhile
    failed.extend(_turns_store(held))
    outbox.drain_mark_release(shard)
    if (outbox.owed_heads_in_shard(shard, exclude=failed, limit=DRAIN_BATCH)
            and outbox.drain_mark_take(shard)):
        try:
            owed_answers_drain.delay(shard)
        except Exception:
            outbox.drain_mark_release(shard)  # the dispatcher queues it once the broker is back
            raise
    return len(due)


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
