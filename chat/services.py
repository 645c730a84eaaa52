"""Every write of the chat: conversations, messages, bot turns, claims, resolutions, ratings.

Each function is keyword-only and atomic; real-time broadcasts and the bot task are scheduled
with ``transaction.on_commit`` so nothing outside ever hears of a row that was rolled back.
``at`` backdates a change (generated history) and defaults to now. Reporting events are
written through ``analytics.events.event_record`` in the same transaction as the change.

Sequence numbers come from ``Conversation.last_seq``, bumped by one ``UPDATE ... RETURNING``
that also locks the conversation row until commit, so concurrent writers of one conversation
line up and every message gets the next number.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import zoneinfo
from datetime import datetime
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.utils import timezone

from analytics.events import event_build, event_record
from analytics.models import EventName

from . import realtime
from .models import (
    Author,
    BotTrace,
    Contact,
    Conversation,
    ConversationStatus,
    Message,
    Resolution,
    Widget,
)
from .names import agent_public_name
from .selectors import token_hash
from .text import is_blank, mask_card_numbers


class ConversationStateError(ValueError):
    """The conversation is not in a state that allows this change (e.g. claimed by another)."""


# --- Helpers ---------------------------------------------------------------------------------


def _bump_sql(
    conversation: Conversation,
    *,
    sets: dict[str, Any] | None,
    only_if_status: str | tuple[str, ...] | None,
) -> tuple[str, list[Any]]:
    """The ``UPDATE ... RETURNING last_seq, status`` of ``_bump_seq``, with its parameters.

    ``only_if_status``: one status, or a tuple of them, the row must be in to be updated.
    """
    meta = Conversation._meta
    db = connections[DEFAULT_DB_ALIAS]
    qn = db.ops.quote_name
    assignments = [f"{qn('last_seq')} = {qn('last_seq')} + 1"]
    params: list[Any] = []
    for name, value in (sets or {}).items():
        field = meta.get_field(name)
        assignments.append(f"{qn(field.column)} = %s")
        params.append(field.get_db_prep_save(value, db))
    where = f"{qn('id')} = %s"
    params.append(conversation.pk)
    if isinstance(only_if_status, tuple):
        where += f" AND {qn('status')} IN ({', '.join(['%s'] * len(only_if_status))})"
        params.extend(only_if_status)
    elif only_if_status is not None:
        where += f" AND {qn('status')} = %s"
        params.append(only_if_status)
    # Only quoted identifiers are interpolated; every value is a parameter.
    sql = (
        f"UPDATE {qn(meta.db_table)} SET {', '.join(assignments)} WHERE {where} "  # noqa: S608
        f"RETURNING {qn('last_seq')}, {qn('status')}"
    )
    return sql, params


def _fetchone_server_bound(sql: str, params: list[Any]) -> tuple | None:
    """The first row of one PostgreSQL statement whose parameters are bound on the server.

    Django's cursor quotes every parameter into the text on the client (psycopg's
    ``ClientCursor``), about 8 us each; a bot turn's statement has about forty, the trace's
    JSON among them. Here they travel apart from the text. Still through Django's cursor for
    the connection, its health check and its error classes (a duplicate raises
    ``django.db.IntegrityError``); every value has a cast or a typed column in the SQL.
    """
    from psycopg import Cursor

    with connection.cursor() as wrapper, connection.wrap_database_errors:
        with Cursor(wrapper.cursor.connection) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()


def _bumped(conversation: Conversation, sets: dict[str, Any] | None, seq: int, status: str) -> None:
    """Updates the in-memory ``conversation`` to match the row after a bump."""
    for name, value in (sets or {}).items():
        setattr(conversation, name, value)
    conversation.last_seq = seq
    conversation.status = status


def _bump_seq(
    conversation: Conversation,
    *,
    sets: dict[str, Any] | None = None,
    only_if_status: str | None = None,
) -> tuple[int, str] | None:
    """Allocates the next seq (and sets ``sets``) in one statement; returns (seq, status).

    Returns None when ``only_if_status`` is given and the conversation is not in that status.
    The in-memory ``conversation`` is updated to match the row.
    """
    sql, params = _bump_sql(conversation, sets=sets, only_if_status=only_if_status)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        if only_if_status is None:
            raise Conversation.DoesNotExist(f"conversation {conversation.pk} is gone")
        return None
    seq, status = row
    _bumped(conversation, sets, seq, status)
    return seq, status


def _system_message(
    conversation: Conversation, *, text: str, now: datetime, in_reply_to: Message | None = None
) -> Message:
    seq, _ = _bump_seq(conversation, sets={"updated_at": now})
    return Message.objects.create(
        conversation=conversation,
        seq=seq,
        author=Author.SYSTEM,
        text=text,
        in_reply_to=in_reply_to,
        created_at=now,
    )


def _agent_name(agent) -> str:
    return agent_public_name(agent)


def _on_commit_broadcast_message(message: Message) -> None:
    transaction.on_commit(partial(realtime.broadcast_message, message))


# --- Conversations ---------------------------------------------------------------------------


@transaction.atomic
def conversation_start(*, widget: Widget, at: datetime | None = None) -> tuple[Conversation, str]:
    """Opens a conversation; returns it and the customer's raw token (only its hash is kept)."""
    now = at or timezone.now()
    token = secrets.token_urlsafe(32)
    conversation = Conversation.objects.create(
        widget=widget, token_hash=token_hash(token), created_at=now
    )
    event_record(name=EventName.CONVERSATION_STARTED, conversation=conversation, at=now)
    return conversation, token


def message_create_incoming(
    *,
    conversation: Conversation,
    text: str,
    client_id: Any,
    at: datetime | None = None,
    queue_bot: bool = True,
) -> tuple[Message, bool]:
    """Stores a customer message once per ``client_id``; returns (message, created).

    A resend of a stored client id returns the stored message with ``created`` False and
    changes nothing. A message in a resolved (or abandoned) conversation reopens it. When the
    bot has the conversation, ``chat.tasks.answer_message`` is queued on commit.

    On PostgreSQL, outside a transaction, a message to an open conversation (the common case)
    is one statement, the seq bump and the insert together, atomic by itself and committed
    durably; a closed (or gone) conversation takes the transaction below.

    Atomic like the other services; the transaction is opened here rather than by the
    decorator so that a duplicate client id (unique constraint) rolls back and is answered
    with the stored row, without a savepoint on the common path.

    Raises ``ValueError`` for a message that shows nothing (``chat.text.is_blank``): the
    consumer refuses those with ``empty_text`` before they get here.
    """
    if is_blank(text):
        raise ValueError("the message is empty")
    text = mask_card_numbers(text)  # before it is stored, echoed, shown or exported
    try:
        if connection.vendor == "postgresql" and connection.get_autocommit():
            message = _message_create_incoming_open(
                conversation=conversation, text=text, client_id=client_id, at=at,
                queue_bot=queue_bot,
            )
            if message is not None:
                return message, True
        with transaction.atomic():
            return _message_create_incoming(
                conversation=conversation,
                text=text,
                client_id=client_id,
                at=at,
                queue_bot=queue_bot,
            ), True
    except IntegrityError:
        existing = Message.objects.filter(
            conversation_id=conversation.pk, client_id=client_id
        ).first()
        if existing is None:
            raise
        return existing, False


def _message_create_incoming(
    *, conversation: Conversation, text: str, client_id: Any, at: datetime | None, queue_bot: bool
) -> Message:
    now = at or timezone.now()
    seq, status = _bump_seq(
        conversation, sets={"last_customer_message_at": now, "updated_at": now}
    )
    message = Message.objects.create(
        conversation=conversation,
        seq=seq,
        author=Author.CUSTOMER,
        client_id=client_id,
        text=text,
        created_at=now,
    )
    if status in (ConversationStatus.RESOLVED, ConversationStatus.ABANDONED):
        previous_resolution = conversation.resolution
        Conversation.objects.filter(pk=conversation.pk).update(
            status=ConversationStatus.BOT,
            resolution=Resolution.NONE,
            resolved_at=None,
            updated_at=now,
        )
        if status == ConversationStatus.RESOLVED:
            event_record(
                name=EventName.REOPENED,
                conversation=conversation,
                at=now,
                category=previous_resolution,
            )
        conversation.status = ConversationStatus.BOT
        conversation.resolution = Resolution.NONE
        conversation.resolved_at = None
        transaction.on_commit(partial(realtime.broadcast_conversation_changed, conversation))
    _after_incoming(conversation, message, queue_bot=queue_bot)
    return message


_OPEN_STATUSES = (ConversationStatus.BOT, ConversationStatus.WAITING, ConversationStatus.AGENT)


def _message_create_incoming_open(
    *, conversation: Conversation, text: str, client_id: Any, at: datetime | None, queue_bot: bool
) -> Message | None:
    """``_message_create_incoming`` in one statement, only while the conversation is open.

    None (nothing written) when it is not: reopening needs the whole transaction.
    """
    now = at or timezone.now()
    sets = {"last_customer_message_at": now, "updated_at": now}
    message = Message(
        conversation=conversation,
        seq=0,  # the bumped seq, set when written
        author=Author.CUSTOMER,
        client_id=client_id,
        text=text,
        created_at=now,
    )
    bump_sql, params = _bump_sql(conversation, sets=sets, only_if_status=_OPEN_STATUSES)
    qn = connection.ops.quote_name
    insert_sql, insert_params = _insert_cte(message, "bump", {"seq": f"bump.{qn('last_seq')}"})
    sql = (
        f"WITH bump AS ({bump_sql}), "  # noqa: S608 (identifiers and the parts above)
        f"message AS ({insert_sql} RETURNING {qn('id')}) "
        f"SELECT message.{qn('id')}, bump.{qn('last_seq')}, bump.{qn('status')} "
        "FROM message, bump"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params + insert_params)
        row = cursor.fetchone()
    if row is None:
        return None
    message.pk, seq, status = row
    message.seq = seq
    message._state.adding = False
    message._state.db = connection.alias
    _bumped(conversation, sets, seq, status)
    _after_incoming(conversation, message, queue_bot=queue_bot)
    return message


def _after_incoming(conversation: Conversation, message: Message, *, queue_bot: bool) -> None:
    """The echo of a stored customer message, and the bot's task if the bot has the chat."""
    _on_commit_broadcast_message(message)
    if queue_bot and conversation.status == ConversationStatus.BOT:
        message_id = message.pk

        def queue_answer() -> None:
            from .tasks import answer_message_enqueue

            answer_message_enqueue(message_id)

        # Robust: with eager Celery (one process, no broker) a failing bot must not turn the
        # customer's stored and echoed message into an error; the failure is logged.
        transaction.on_commit(queue_answer, robust=True)


@transaction.atomic
def conversation_contact_set(
    *, conversation: Conversation, email: str, at: datetime | None = None
) -> Contact:
    """Records the e-mail address a customer leaves for a reply (e.g. when no agent is online)."""
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValueError("not a valid e-mail address") from exc
    now = at or timezone.now()
    contact = Contact.objects.create(widget_id=conversation.widget_id, email=email, created_at=now)
    Conversation.objects.filter(pk=conversation.pk).update(contact=contact, updated_at=now)
    conversation.contact = contact
    return contact


TIMEZONE_MAX_CHARS = 64


@cache
def _known_timezones() -> frozenset[str]:
    # The system's database may list its own links too; "localtime" is the server's zone.
    return frozenset(zoneinfo.available_timezones() - {"localtime", "posixrules", "Factory"})


def check_timezone(name: str) -> str:
    """``name`` when it is a zone of the IANA database ("America/New_York"); else ValueError.

    Only the database's own names: no file paths, no "localtime", nothing over 64 characters.
    """
    if not isinstance(name, str) or not 0 < len(name) <= TIMEZONE_MAX_CHARS:
        raise ValueError("not an IANA time zone")
    if name not in _known_timezones():
        raise ValueError("not an IANA time zone")
    return name


def conversation_timezone_set(*, conversation: Conversation, zone: str) -> bool:
    """Stores the customer's IANA zone (from the widget's ``join``); True when it changed.

    Relative dates in the customer's messages ("yesterday") are counted in it. Raises
    ValueError for a name ``check_timezone`` refuses; writes nothing when it is unchanged.
    """
    zone = check_timezone(zone)
    if zone == conversation.timezone:
        return False
    Conversation.objects.filter(pk=conversation.pk).update(timezone=zone)
    conversation.timezone = zone
    return True


# --- Bot turns -------------------------------------------------------------------------------


def _result_fields(result: Any) -> dict[str, Any]:
    """The pipeline's result as a dict for ``BotTrace.stages``.

    Shallow: ``dataclasses.asdict`` deep-copies the whole trace, which cost more CPU per turn
    than storing it; the result is not changed after the pipeline returns it, and any
    dataclass left inside is written by the field's ``TraceEncoder``.
    """
    if dataclasses.is_dataclass(result):
        data = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    else:
        data = dict(vars(result))
    if "top_intents" in data:
        data["top_intents"] = [list(pair) for pair in data["top_intents"] or []]
    return data


def bot_turn_record(*, message: Message, result: Any, at: datetime | None = None) -> Message | None:
    """Stores the bot's outcome for one customer message: a reply, or a handoff notice.

    At most once per inbound message: a second run hits the one-to-one ``in_reply_to`` (and
    ``BotTrace.message``) constraint, rolls back and returns None. Also None when the bot no
    longer has the conversation (an agent took it meanwhile). Atomic (see
    ``message_create_incoming`` for why the transaction is opened inside).

    On PostgreSQL every write of the turn (the seq bump, the reply, its trace, its events) is
    one statement of data-modifying CTEs: atomic by itself, so outside a transaction (the
    worker) it needs no BEGIN and COMMIT round trips, and inside one a savepoint keeps a
    duplicate from breaking the caller's transaction.
    """
    try:
        if connection.vendor == "postgresql" and connection.get_autocommit():
            return _bot_turn_record(message=message, result=result, at=at)
        with transaction.atomic():
            return _bot_turn_record(message=message, result=result, at=at)
    except IntegrityError:
        return None


def _async_commit() -> bool:
    """Whether the bot's writes commit without waiting for the disk flush.

    The commit's flush is the largest single cost of a bot turn on ordinary disks (about 4 ms
    here). Only the bot's own writes take this path: the customer's message, which the server
    acknowledges, always commits durably. A database crash in the next few hundred ms could
    lose this reply (the customer's message stays, unanswered). ``CHAT_BOT_REPLY_ASYNC_COMMIT``
    turns it off.
    """
    return settings.CHAT_BOT_REPLY_ASYNC_COMMIT and connection.vendor == "postgresql"


def _bot_turn_record(*, message: Message, result: Any, at: datetime | None) -> Message | None:
    conversation = message.conversation
    now = at or timezone.now()
    handoff = result.decision == "handoff"
    sets: dict[str, Any] = {
        "dialog_state": result.dialog_state or {},
        "updated_at": now,
    }
    if result.intent:
        sets["intent"] = result.intent
    if result.sentiment:
        sets["sentiment"] = result.sentiment
    if handoff:
        sets.update(
            status=ConversationStatus.WAITING,
            handoff_reason=(result.handoff_reason or "")[:200],
            handoff_category=(result.handoff_category or "other")[:32],
            handed_off_at=now,
        )
    else:
        sets["last_bot_reply_at"] = now
    articles = [
        {"id": a.get("id"), "title": a.get("title", "")}
        for a in (result.articles or [])
        if isinstance(a, dict)
    ]
    reply = Message(
        conversation=conversation,
        seq=0,  # the bumped seq, set when written
        author=Author.SYSTEM if handoff else Author.BOT,
        in_reply_to=message,
        text=result.reply_text,
        articles=articles,
        created_at=now,
    )
    trace = BotTrace(
        stages=_result_fields(result),
        message=message,
        conversation=conversation,
        intent=result.intent or "",
        confidence=float(result.confidence or 0.0),
        backend=(result.backend or "offline")[:16],
        decision=result.decision,
        handoff_reason=(result.handoff_reason or "")[:200],
        total_ms=float(result.total_ms or 0.0),
        created_at=now,
    )
    rows: list[Any] = [trace]
    if result.is_fallback:
        rows.append(event_build(
            name=EventName.FALLBACK,
            conversation=conversation,
            at=now,
            intent=result.intent or "",
            backend=result.backend or "",
            value=float(result.confidence or 0.0),
        ))
    if handoff:
        rows.append(event_build(
            name=EventName.HANDOFF,
            conversation=conversation,
            at=now,
            intent=result.intent or "",
            category=sets["handoff_category"],
            backend=result.backend or "",
        ))
    else:
        latency_ms = max(0.0, (now - message.created_at).total_seconds() * 1000)
        rows.append(event_build(
            name=EventName.BOT_REPLIED,
            conversation=conversation,
            at=now,
            intent=result.intent or "",
            backend=result.backend or "",
            value=latency_ms,
        ))
    if connection.vendor == "postgresql":
        if not _write_turn(conversation, sets, reply, rows):
            return None
    else:
        bumped = _bump_seq(conversation, sets=sets, only_if_status=ConversationStatus.BOT)
        if bumped is None:
            return None
        reply.seq = bumped[0]
        reply.save(force_insert=True)
        for row in rows:
            row.save(force_insert=True)
    if handoff:
        transaction.on_commit(partial(realtime.broadcast_handoff, conversation))
    _on_commit_broadcast_message(reply)
    return reply


_CAST_LENGTH = re.compile(r"\(\d+\)$")
_CASTS: dict[Any, str] = {}  # field -> "%s::<its type>" (PostgreSQL only)


def _insert_cte(instance: Any, source: str, overrides: dict[str, str]) -> tuple[str, list[Any]]:
    """``INSERT INTO <table> (<columns>) SELECT <values> FROM <source>`` for an unsaved row.

    Values are prepared as ``Model.save()`` prepares them (``pre_save``, then
    ``get_db_prep_save``) and cast to the column's type without its length, so a value too
    long for its column still fails as it would through the ORM. ``overrides`` maps an
    attribute name to an SQL expression over ``source``.
    """
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the ``connection`` proxy costs
    qn = db.ops.quote_name
    meta = instance._meta
    columns: list[str] = []
    values: list[str] = []
    params: list[Any] = []
    for field in meta.concrete_fields:
        if field.primary_key and getattr(instance, field.attname) is None:
            continue  # the sequence's
        columns.append(qn(field.column))
        if field.attname in overrides:
            values.append(overrides[field.attname])
            continue
        cast = _CASTS.get(field)
        if cast is None:
            cast = _CASTS[field] = "%s::" + _CAST_LENGTH.sub("", field.db_type(db) or "")
        values.append(cast)
        params.append(field.get_db_prep_save(field.pre_save(instance, True), db))
    sql = (  # only quoted identifiers and column types are interpolated
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(values)} FROM {source}"
    )
    return sql, params


def _write_turn(
    conversation: Conversation, sets: dict[str, Any], reply: Message, rows: list[Any]
) -> bool:
    """The bot turn's writes as one PostgreSQL statement; False when the bot lost the chat.

    The conversation's seq bump (only while the bot has it), the reply with that seq, then
    the other rows in their order, each only if the reply was written. ``reply`` gets its id
    and seq, and ``conversation`` the bumped values.
    """
    parts: list[str] = []
    params: list[Any] = []
    status_guard = ""
    if _async_commit():
        parts.append("cfg AS (SELECT set_config('synchronous_commit', 'off', true) AS v)")
        status_guard = " AND (SELECT v FROM cfg) IS NOT NULL"
    bump_sql, bump_params = _bump_sql(
        conversation, sets=sets, only_if_status=ConversationStatus.BOT
    )
    bump_sql = bump_sql.replace(" RETURNING ", f"{status_guard} RETURNING ", 1)
    parts.append(f"bump AS ({bump_sql})")
    params += bump_params
    qn = connection.ops.quote_name
    reply_sql, reply_params = _insert_cte(reply, "bump", {"seq": f"bump.{qn('last_seq')}"})
    parts.append(f"reply AS ({reply_sql} RETURNING {qn('id')}, {qn('seq')})")
    params += reply_params
    source = "reply"
    for number, row in enumerate(rows):
        # Each from the one before: written in order (ids too), and only after the reply.
        row_sql, row_params = _insert_cte(row, source, {})
        source = f"row{number}"
        parts.append(f"{source} AS ({row_sql} RETURNING {qn('id')})")
        params += row_params
    sql = (
        f"WITH {', '.join(parts)} "  # noqa: S608 (identifiers and the parts above)
        f"SELECT reply.{qn('id')}, bump.{qn('last_seq')}, bump.{qn('status')} FROM reply, bump"
    )
    row = _fetchone_server_bound(sql, params)
    if row is None:
        return False
    reply.pk, seq, status = row
    reply.seq = seq
    reply._state.adding = False
    reply._state.db = connection.alias
    _bumped(conversation, sets, seq, status)
    return True


# --- Agents ----------------------------------------------------------------------------------


def _locked(conversation: Conversation) -> Conversation:
    """Re-reads the conversation under a row lock, refreshing the caller's copy too."""
    fresh = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("assignee")
        .get(pk=conversation.pk)
    )
    for field in Conversation._meta.concrete_fields:
        setattr(conversation, field.attname, getattr(fresh, field.attname))
    conversation.assignee = fresh.assignee
    return conversation


def _conversation_update(conversation: Conversation, sets: dict[str, Any]) -> None:
    """Writes ``sets`` to the conversation's row and to the instance in hand."""
    Conversation.objects.filter(pk=conversation.pk).update(**sets)
    for name, value in sets.items():
        setattr(conversation, name, value)


@transaction.atomic
def conversation_claim(
    *, conversation: Conversation, agent, at: datetime | None = None
) -> Conversation:
    """An agent takes the conversation (from the queue, or from the bot)."""
    now = at or timezone.now()
    _locked(conversation)
    if conversation.assignee_id == agent.pk and conversation.status == ConversationStatus.AGENT:
        return conversation
    if conversation.status == ConversationStatus.AGENT and conversation.assignee_id:
        raise ConversationStateError("another agent has already claimed this conversation")
    if conversation.status in (ConversationStatus.RESOLVED, ConversationStatus.ABANDONED):
        raise ConversationStateError("the conversation is closed")
    sets: dict[str, Any] = {
        "status": ConversationStatus.AGENT,
        "assignee": agent,
        "updated_at": now,
    }
    if conversation.handed_off_at is None or conversation.status == ConversationStatus.BOT:
        sets["handed_off_at"] = now  # taken straight from the bot: the wait starts now
    _conversation_update(conversation, sets)
    notice = _system_message(
        conversation, text=f"{_agent_name(agent)} joined the conversation.", now=now
    )
    _on_commit_broadcast_message(notice)
    transaction.on_commit(partial(realtime.broadcast_conversation_changed, conversation))
    return conversation


@transaction.atomic
def agent_message_create(
    *, conversation: Conversation, agent, text: str, at: datetime | None = None
) -> Message:
    """An agent's reply; claims the conversation first if it is still waiting."""
    now = at or timezone.now()
    text = (text or "").strip()
    if is_blank(text):  # also a message of invisible characters only
        raise ValueError("the message is empty")
    _locked(conversation)
    if conversation.status != ConversationStatus.AGENT or conversation.assignee_id != agent.pk:
        conversation_claim(conversation=conversation, agent=agent, at=now)
    seq, _ = _bump_seq(conversation, sets={"updated_at": now})
    message = Message.objects.create(
        conversation=conversation,
        seq=seq,
        author=Author.AGENT,
        sender=agent,
        text=text,
        created_at=now,
    )
    if conversation.handed_off_at is not None:
        answered_before = (
            Message.objects.filter(
                conversation_id=conversation.pk,
                author=Author.AGENT,
                created_at__gte=conversation.handed_off_at,
            )
            .exclude(pk=message.pk)
            .exists()
        )
        if not answered_before:
            event_record(
                name=EventName.FIRST_AGENT_REPLY,
                conversation=conversation,
                at=now,
                intent=conversation.intent,
                value=max(0.0, (now - conversation.handed_off_at).total_seconds()),
                agent=agent,
            )
    event_record(name=EventName.AGENT_REPLIED, conversation=conversation, at=now, agent=agent)
    _on_commit_broadcast_message(message)
    return message


@transaction.atomic
def conversation_resolve(
    *,
    conversation: Conversation,
    resolution: str,
    agent=None,
    at: datetime | None = None,
) -> Conversation:
    """Closes the conversation as resolved (by an agent, or by the bot confirmed or assumed).

    Resolving a conversation that is already resolved changes nothing.
    """
    if resolution not in (Resolution.AGENT, Resolution.BOT_CONFIRMED, Resolution.BOT_ASSUMED):
        raise ValueError(f"unknown resolution {resolution!r}")
    now = at or timezone.now()
    _locked(conversation)
    if conversation.status == ConversationStatus.RESOLVED:
        return conversation
    sets = {
        "status": ConversationStatus.RESOLVED,
        "resolution": resolution,
        "resolved_at": now,
        "updated_at": now,
    }
    _conversation_update(conversation, sets)
    event_record(
        name=EventName.RESOLVED,
        conversation=conversation,
        at=now,
        intent=conversation.intent,
        category=resolution,
        value=max(0.0, (now - conversation.created_at).total_seconds()),
        agent=agent if resolution == Resolution.AGENT else None,
    )
    transaction.on_commit(partial(realtime.broadcast_conversation_changed, conversation))
    return conversation


@transaction.atomic
def conversation_return_to_bot(
    *, conversation: Conversation, agent, at: datetime | None = None
) -> Conversation:
    """The agent hands the conversation back to the bot, which starts a fresh dialog."""
    now = at or timezone.now()
    _locked(conversation)
    if conversation.status in (ConversationStatus.RESOLVED, ConversationStatus.ABANDONED):
        raise ConversationStateError("the conversation is closed")
    if conversation.status == ConversationStatus.BOT:
        return conversation
    sets = {
        "status": ConversationStatus.BOT,
        "assignee": None,
        # The turn and fallback counters that led to the handoff would hand over again at once.
        "dialog_state": {},
        "updated_at": now,
    }
    _conversation_update(conversation, sets)
    notice = _system_message(
        conversation, text=f"{_agent_name(agent)} handed you back to the assistant.", now=now
    )
    _on_commit_broadcast_message(notice)
    transaction.on_commit(partial(realtime.broadcast_conversation_changed, conversation))
    return conversation


# --- Customers' feedback ---------------------------------------------------------------------


@transaction.atomic
def conversation_rate(
    *, conversation: Conversation, score: int, comment: str = "", at: datetime | None = None
) -> Conversation:
    """The customer's 1-5 rating with an optional comment, once per conversation."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValueError("a rating is a whole number from 1 to 5")
    now = at or timezone.now()
    _locked(conversation)
    if conversation.rating is not None:
        raise ConversationStateError("the conversation has already been rated")
    comment = mask_card_numbers((comment or "").strip()[:2000])
    Conversation.objects.filter(pk=conversation.pk).update(
        rating=score, rating_comment=comment, updated_at=now
    )
    conversation.rating = score
    conversation.rating_comment = comment
    event_record(name=EventName.RATING_GIVEN, conversation=conversation, at=now, value=score)
    transaction.on_commit(partial(realtime.broadcast_conversation_changed, conversation))
    return conversation


@transaction.atomic
def conversation_abandon(*, conversation: Conversation, at: datetime | None = None) -> Conversation:
    """Closes a conversation nobody finished (the periodic task decides when)."""
    now = at or timezone.now()
    _locked(conversation)
    if conversation.status in (ConversationStatus.RESOLVED, ConversationStatus.ABANDONED):
        return conversation
    previous = conversation.status
    Conversation.objects.filter(pk=conversation.pk).update(
        status=ConversationStatus.ABANDONED, updated_at=now
    )
    conversation.status = ConversationStatus.ABANDONED
    event_record(name=EventName.ABANDONED, conversation=conversation, at=now, category=previous)
    transaction.on_commit(partial(realtime.broadcast_conversation_changed, conversation))
    return conversation
