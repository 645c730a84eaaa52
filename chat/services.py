"""Every write of the chat: conversations, messages, bot turns, claims, resolutions, ratings.

Each function is keyword-only and atomic; real-time broadcasts and the bot task are scheduled
with ``transaction.on_commit`` so nothing outside ever hears of a row that was rolled back.
``at`` backdates a change (generated history) and defaults to now. Reporting events are
written through ``analytics.events.event_record`` in the same transaction as the change.

Every write is the same on SQLite and PostgreSQL: the ORM, and plain SQL statements that
both run, each documented where it is built (``_next_seq``'s ``UPDATE ... RETURNING``, the
owed answer's ``DELETE``, and the ``INSERT``s of a chat turn's rows in ``chat.rows``, the
incoming message's with its duplicate check). A bot turn's reporting events are built by
``analytics.events.event_build`` and written with its reply. Sequence numbers come from
``Conversation.last_seq``, bumped under a row lock that holds until commit, so concurrent
writers of one conversation line up and every message gets the next number. Answers the bot
owes are rows (``OwedAnswer``, see ``chat.outbox``).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets
import zoneinfo
from collections.abc import Sequence
from datetime import datetime
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from analytics.events import EventName, event_build, event_record
from knowledge.audit import audit_record, field_changes

from . import mail, outbox, realtime, rows
from .hooks import HookEvent, hook_send
from .identity import NAME_MAX, Identity
from .models import (
    Author,
    BotTrace,
    Contact,
    Conversation,
    ConversationStatus,
    EmailKind,
    EmailStatus,
    Message,
    Note,
    NoteKind,
    OwedAnswer,
    OwedEmail,
    Resolution,
    Widget,
)
from .names import agent_public_name
from .selectors import token_hash
from .text import is_blank, mask_card_numbers

logger = logging.getLogger(__name__)


class ConversationStateError(ValueError):
    """The conversation is not in a state that allows this change (e.g. claimed by another)."""


# --- Helpers ---------------------------------------------------------------------------------


def _next_seq(
    conversation: Conversation,
    *,
    sets: dict[str, Any] | None = None,
    only_if_status: str | None = None,
) -> tuple[int, str] | None:
    """Allocates the conversation's next seq and writes ``sets``: (seq, status).

    One statement that SQLite (3.35+) and PostgreSQL both run, the same on both:
    ``UPDATE chat_conversation SET last_seq = last_seq + 1, <sets> WHERE id = %s
    [AND status = %s] RETURNING last_seq, status``. The update locks the row until commit
    (SQLite's IMMEDIATE transactions lock the file), so concurrent writers of one conversation
    line up and every message gets the next number. Values are prepared by their fields
    (``Field.get_db_prep_save``). Returns None, writing nothing, when ``only_if_status`` is
    given and the conversation is in another status; raises ``Conversation.DoesNotExist`` when
    it is gone. The in-memory ``conversation`` is updated to match the row.
    """
    meta = Conversation._meta
    qn = connection.ops.quote_name
    assignments = [f"{qn('last_seq')} = {qn('last_seq')} + 1"]
    params: list[Any] = []
    for name, value in (sets or {}).items():
        field = meta.get_field(name)
        assignments.append(f"{qn(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    where = f"{qn('id')} = %s"
    params.append(conversation.pk)
    if only_if_status is not None:
        where += f" AND {qn('status')} = %s"
        params.append(only_if_status)
    sql = (  # only quoted identifiers are interpolated; every value is a parameter
        f"UPDATE {qn(meta.db_table)} SET {', '.join(assignments)} "  # noqa: S608
        f"WHERE {where} RETURNING {qn('last_seq')}, {qn('status')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        if only_if_status is None:
            raise Conversation.DoesNotExist(f"conversation {conversation.pk} is gone")
        return None
    for name, value in (sets or {}).items():
        setattr(conversation, name, value)
    conversation.last_seq, conversation.status = row
    return conversation.last_seq, conversation.status


def _system_message(
    conversation: Conversation, *, text: str, now: datetime, in_reply_to: Message | None = None
) -> Message:
    seq, _ = _next_seq(conversation, sets={"updated_at": now})
    message = Message.objects.create(
        conversation=conversation,
        seq=seq,
        author=Author.SYSTEM,
        text=text,
        in_reply_to=in_reply_to,
        created_at=now,
    )
    hook_send(HookEvent.MESSAGE_CREATED, conversation=conversation, message=message, at=now)
    return message


def _agent_name(agent) -> str:
    return agent_public_name(agent)


def _on_commit_changed(conversation: Conversation, change: str) -> None:
    """After commit, tell the conversation and the agents' queue what changed (``change``,
    one of ``chat.events.QUEUE_CHANGES``)."""
    transaction.on_commit(partial(realtime.broadcast_conversation_changed, conversation, change))


def _on_commit_broadcast_message(message: Message) -> None:
    transaction.on_commit(partial(realtime.broadcast_message, message))


# --- Conversations ---------------------------------------------------------------------------


_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}$")


def check_origin_info(
    *, page_url: Any = "", page_title: Any = "", user_agent: Any = "", language: Any = ""
) -> dict[str, str]:
    """Where a chat starts, as the conversation keeps it: ``page_url`` (http or https, at most
    2,000 characters), ``page_title`` (300), ``user_agent`` (500, cut) and ``language`` (the
    first BCP 47 tag of a value such as an Accept-Language header). Anything else (not a
    string, another scheme, a malformed tag) is left out rather than refused: these are hints
    for the agent's sidebar, and a chat must start without them."""
    info: dict[str, str] = {}
    if isinstance(page_url, str):
        url = page_url.strip()
        if len(url) <= 2000 and url.lower().startswith(("http://", "https://")) and not any(
            ch.isspace() for ch in url
        ):
            info["page_url"] = url
    if isinstance(page_title, str) and page_title.strip():
        info["page_title"] = " ".join(page_title.split())[:300]
    if isinstance(user_agent, str) and user_agent.strip():
        info["user_agent"] = user_agent.strip()[:500]
    if isinstance(language, str):
        tag = language.split(",")[0].split(";")[0].strip()
        if _LANGUAGE_TAG.match(tag):
            info["language"] = tag
    return info


@transaction.atomic
def conversation_start(
    *,
    widget: Widget,
    at: datetime | None = None,
    identity: Identity | None = None,
    origin_info: dict[str, str] | None = None,
) -> tuple[Conversation, str]:
    """Opens a conversation; returns it and the customer's raw token (only its hash is kept).

    With a verified ``identity`` (``chat.identity``) the conversation records the signed user
    id and gets the widget's verified contact for it (made on first sight). ``origin_info`` is
    ``check_origin_info``'s result (page URL and title, user agent, language), shown to agents
    in the contact sidebar.
    """
    now = at or timezone.now()
    token = secrets.token_urlsafe(32)
    contact = None
    if identity is not None:
        contact = contact_verified_upsert(widget=widget, identity=identity, at=now)
    conversation = Conversation.objects.create(
        widget=widget, token_hash=token_hash(token), created_at=now, contact=contact,
        verified_user_id=identity.user_id if identity is not None else "",
        **(origin_info or {}),
    )
    event_record(name=EventName.CONVERSATION_STARTED, conversation=conversation, at=now)
    hook_send(HookEvent.CONVERSATION_CREATED, conversation=conversation, at=now)
    return conversation, token


@transaction.atomic
def contact_verified_upsert(
    *, widget: Widget, identity: Identity, at: datetime | None = None
) -> Contact:
    """The widget's verified contact for ``identity.user_id`` (made on first sight), with the
    e-mail address and name the host page now gives, as Intercom and Chatwoot update a
    contact from a verified identify call.

    Only a verified ``identity`` (``chat.identity.identity_from_payload``) comes here: nothing
    a customer types reaches a verified contact. A blank e-mail or name leaves the stored one;
    an e-mail address ``check_email`` refuses is ignored and logged with the widget key only
    (never the address, the hash or the secret). Locks the contact's row while it updates it.
    There is one verified contact per widget and user id (the constraint
    ``contact_verified_unique``), also when two conversations start at once for one customer.
    """
    now = at or timezone.now()
    email = identity.email.strip()
    if email:
        try:
            email = check_email(email)
        except ValueError:
            logger.warning("identity e-mail ignored for widget %s: not a valid e-mail address",
                           widget.public_key)
            email = ""
    name = identity.name.strip()[:NAME_MAX]
    verified = Contact.objects.select_for_update().filter(
        widget=widget, external_id=identity.user_id, is_verified=True)
    contact = verified.first()
    if contact is None:
        # First sight. The constraint ``contact_verified_unique`` keeps one row per customer:
        # a conversation started at the same moment for the same customer may insert it first
        # (``INSERT ... ON CONFLICT DO NOTHING``, ``INSERT OR IGNORE`` on SQLite, waits for it
        # and inserts nothing), and the read after the insert finds that row.
        Contact.objects.bulk_create([Contact(
            widget=widget, external_id=identity.user_id, is_verified=True,
            email=email, name=name, created_at=now,
        )], ignore_conflicts=True)
        contact = verified.get()
    changes = {
        field_name: value for field_name, value in (("email", email), ("name", name))
        if value and getattr(contact, field_name) != value
    }
    if changes:
        Contact.objects.filter(pk=contact.pk).update(**changes)
        for field_name, value in changes.items():
            setattr(contact, field_name, value)
    return contact


class IdentityMismatch(Exception):
    """The conversation is not the given verified customer's (``conversation_identify``)."""


@transaction.atomic
def conversation_identify(
    *, conversation: Conversation, identity: Identity, at: datetime | None = None
) -> Contact:
    """Brings a resumed verified conversation's contact up to date with the host page's
    verified ``identity`` (``contact_verified_upsert``) and returns it. Raises
    ``IdentityMismatch`` and changes nothing when the conversation was not verified for
    ``identity.user_id`` (an unverified one, or another customer's): an identity is never
    attached to a conversation after it started; the widget starts a fresh conversation for
    a different customer instead.
    """
    if not conversation.verified_user_id or conversation.verified_user_id != identity.user_id:
        raise IdentityMismatch("the conversation is not this verified customer's")
    return contact_verified_upsert(widget=conversation.widget, identity=identity, at=at)


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
    bot has the conversation, the answer it owes is recorded in the same transaction
    (``OwedAnswer``) and the bot task is queued on commit (``chat.outbox``); with ``queue_bot``
    False the caller answers it itself (generated history), or the dispatcher queues it later.

    One transaction on every database, three statements: the seq bump (``_next_seq``'s one
    ``UPDATE ... RETURNING``, which locks the conversation's row until commit), the message
    unless one is already stored under ``client_id`` (``rows.insert_unless_stored``: its check
    runs after the lock, so a concurrent resend is seen) and its owed answer. A resend rolls
    the bump back and returns the stored message; a reopened conversation takes two
    statements more. Raises ``ValueError`` for a message that shows nothing
    (``chat.text.is_blank``): the consumer refuses those with ``empty_text`` before they get
    here.
    """
    if is_blank(text):
        raise ValueError("the message is empty")
    text = mask_card_numbers(text)  # before it is stored, echoed, shown or exported
    now = at or timezone.now()
    held = (conversation.last_seq, conversation.status, conversation.updated_at,
            conversation.last_customer_message_at)
    try:
        with transaction.atomic():
            return _message_store_incoming(
                conversation=conversation, text=text, client_id=client_id, now=now,
                queue_bot=queue_bot,
            )
    except _Resent as resent:
        # Rolled back: the seq bumped for it is given back; the instance is as it was.
        (conversation.last_seq, conversation.status, conversation.updated_at,
         conversation.last_customer_message_at) = held
        return resent.message, False


class _Resent(Exception):
    """A message with a stored client id: rolls back the seq bumped for it (a rare case)."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.pk)
        self.message = message


def _message_store_incoming(
    *, conversation: Conversation, text: str, client_id: Any, now: datetime, queue_bot: bool
) -> tuple[Message, bool]:
    # The bump comes first: it locks the conversation's row (until commit) and returns the
    # status. The duplicate check is part of the message's insert, so it runs after the lock
    # is held and sees a resend that a concurrent transaction committed while this one waited.
    seq, status = _next_seq(
        conversation, sets={"last_customer_message_at": now, "updated_at": now}
    )
    reopened = status in (ConversationStatus.RESOLVED, ConversationStatus.ABANDONED)
    if reopened:  # rare: two more statements, under the lock the bump holds
        previous_resolution = (
            Conversation.objects.values_list("resolution", flat=True).get(pk=conversation.pk)
        )
        _conversation_update(conversation, {
            "status": ConversationStatus.BOT, "resolution": Resolution.NONE, "resolved_at": None,
        })
    # The message (unless its client id is stored) and its owed answer: one plain INSERT each
    # (chat.rows), not compiled per call.
    new = Message(
        conversation=conversation,
        seq=seq,
        author=Author.CUSTOMER,
        client_id=client_id,
        text=text,
        created_at=now,
    )
    if client_id is None:
        message = rows.insert(new)
    else:
        message = rows.insert_unless_stored(new, unless=("conversation", "client_id"))
        if message is None:  # a resend: rolled back, the bump with it
            raise _Resent(Message.objects.get(
                conversation_id=conversation.pk, client_id=client_id
            ))
    message.conversation = conversation
    hook_send(HookEvent.MESSAGE_CREATED, conversation=conversation, message=message, at=now)
    if reopened:
        if status == ConversationStatus.RESOLVED:
            event_record(
                name=EventName.REOPENED,
                conversation=conversation,
                at=now,
                category=previous_resolution,
            )
        _on_commit_changed(conversation, "reopened")
    _on_commit_broadcast_message(message)
    if conversation.status == ConversationStatus.BOT:
        rows.insert(OwedAnswer(
            message=message, conversation=conversation, created_at=now, queued_at=now,
            attempts=1,
        ))
        if queue_bot:
            outbox.owed_answer_queue_on_commit(message.pk, conversation.pk)
    return message, True


EMAIL_MAX_CHARS = 254  # RFC 5321's path limit, and Contact.email's length


# Django's validator without its allow-list ("localhost"): a customer's address names a
# public domain with a dot in it.
_validate_customer_email = EmailValidator(allowlist=())


def check_email(address: str) -> str:
    """``address`` when Django's ``EmailValidator`` accepts it with no allow-listed domain (so
    not ``user@localhost``), its domain is a name and not an address literal
    (``user@[127.0.0.1]``), and it fits in 254 characters; else ``ValueError``. Refused when it
    is left, never when a mail to it fails later."""
    if not isinstance(address, str) or not address or len(address) > EMAIL_MAX_CHARS:
        raise ValueError("not a valid e-mail address")
    try:
        _validate_customer_email(address)
    except ValidationError as exc:
        raise ValueError("not a valid e-mail address") from exc
    if address.rpartition("@")[2].startswith("["):
        raise ValueError("not a valid e-mail address")
    return address


@transaction.atomic
def conversation_contact_set(
    *, conversation: Conversation, email: str, at: datetime | None = None
) -> Contact:
    """Records the e-mail address a customer leaves for a reply (e.g. when no agent is online).

    At most one contact row per conversation and address: the same address again (in any
    case) returns the row already linked, under the conversation's row lock. A verified
    customer's conversation keeps its verified contact (its badge, its past conversations,
    the e-mail address the bot's lookups trust): another address they type is kept as the
    conversation's ``reply_email``, where reply mails go, and their verified address again
    clears it. Raises ValueError for an address ``check_email`` refuses (nothing written).
    """
    email = check_email((email or "").strip())
    now = at or timezone.now()
    # Lock the conversation first, then read its contact in a statement of its own: a join in
    # the locking statement would see the contact row of the snapshot taken before the wait.
    contact_id, reply_email = (
        Conversation.objects.select_for_update().values_list("contact_id", "reply_email")
        .get(pk=conversation.pk)
    )
    current = Contact.objects.filter(pk=contact_id).first() if contact_id else None
    if current is not None and current.is_verified:
        wanted = "" if current.email.lower() == email.lower() else email
        if wanted != reply_email:
            Conversation.objects.filter(pk=conversation.pk).update(
                reply_email=wanted, updated_at=now
            )
        conversation.contact, conversation.reply_email = current, wanted
        return current
    if current is not None and current.email.lower() == email.lower():
        conversation.contact = current
        return current
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

    Settles the answer owed to ``message`` (``OwedAnswer``) in the same transaction: at most
    once per inbound message, because a second run (a task delivered twice) finds nothing owed
    (it waits on the first run's row lock, then deletes nothing) and returns None. Also None,
    with the debt settled, when the bot no longer has the conversation (an agent took it
    meanwhile). The reply is broadcast only after the commit, which waits for the disk: what
    a customer sees is never lost to a database crash, and its seq is never given again.
    """
    return _bot_turns_record([(message, result)], at=at)[0]


def bot_turns_record(
    turns: Sequence[tuple[Message, Any]], *, at: datetime | None = None
) -> list[Message | None]:
    """``bot_turn_record`` for each ``(message, result)``, all in one transaction (one commit
    for several turns of a drain); the messages must be of different conversations. Returns
    what ``bot_turn_record`` would for each, in order. Raises, storing none of them, if one
    fails; nothing is broadcast before the commit.

    Statements, the same on both databases, for n turns: one ``DELETE ... WHERE message_id IN
    (...) RETURNING message_id`` settles the owed answers (its row locks make a concurrent
    second run wait, then find nothing); a seq bump per conversation the bot still has
    (``_next_seq``: the sets differ from turn to turn); then one multi-row ``INSERT`` each for
    the replies, their traces and their reporting events (``chat.rows.insert_many``): n + 4,
    where one turn at a time took 5 each.
    """
    return _bot_turns_record(turns, at=at)


def _bot_turns_record(
    turns: Sequence[tuple[Message, Any]], *, at: datetime | None
) -> list[Message | None]:
    if len({message.conversation_id for message, _ in turns}) != len(turns):
        raise ValueError("bot_turns_record takes one turn per conversation")
    prepared = [_turn_rows(message=message, result=result, at=at) for message, result in turns]
    with transaction.atomic():
        settled = _owed_answers_delete([turn.message.pk for turn in prepared])
        written: list[_TurnRows] = []
        for turn in prepared:
            if turn.message.pk not in settled:
                continue  # answered already (a task delivered twice), or never owed
            if _next_seq(turn.conversation, sets=turn.sets,
                         only_if_status=ConversationStatus.BOT) is None:
                continue  # an agent has the conversation: the debt is settled, not answered
            turn.reply.seq = turn.conversation.last_seq
            written.append(turn)
        ids = rows.insert_many([turn.reply for turn in written], key="in_reply_to")
        rows.insert_many([turn.trace for turn in written])
        rows.insert_many([event for turn in written for event in turn.events])
        for turn in written:
            turn.reply = rows.as_stored(turn.reply, ids[turn.message.pk])
            turn.reply.conversation, turn.reply.in_reply_to = turn.conversation, turn.message
            _turn_announce(turn)
    return [turn.reply if turn in written else None for turn in prepared]


def connector_category(trace: dict[str, Any] | None) -> str:
    """A bot reply's event category from its trace's data connector call (``chat.bot.lookup``):
    ``"connector:<id>"`` when a connector answered, ``"connector_not_found:<id>"`` when the
    company's API found nothing for the details (a 404 or a missing field: the connector's
    fallback text, no answer), ``"connector_failed:<id>"`` when the call failed or the quality
    check replaced its answer; "" for a turn that called none. The connector is named by its
    id, which fits the column whatever its name (a trace from before ids were recorded names
    it, cut to the column)."""
    call = (trace or {}).get("connector")
    if not isinstance(call, dict) or not call.get("connector"):
        return ""
    quality = (trace or {}).get("quality")
    outcome = _call_outcome(call)
    if outcome == "ok" and isinstance(quality, dict) and not quality.get("ok", True):
        kind = "connector_failed"  # the quality check replaced the answer: none was given
    else:
        kind = {"ok": "connector", "not_found": "connector_not_found"}.get(
            outcome, "connector_failed")
    return f"{kind}:{_call_connector(call)}"[:32]


def _call_outcome(call: dict[str, Any]) -> str:
    """A traced connector call's outcome: ``"ok"``, ``"not_found"`` (a 404 or a field the
    reply template needs missing) or ``"failed"``."""
    if call.get("ok"):
        return "ok"
    if call.get("not_found") or call.get("reason") in ("http_404", "missing_field"):
        return "not_found"
    return "failed"


def _call_connector(call: dict[str, Any]) -> int | str:
    """A traced call's connector: its id, or its name when the id is unknown."""
    identity = call.get("connector_id")
    if not isinstance(identity, int) or isinstance(identity, bool):
        return call["connector"]
    return identity


def connector_calls(trace: dict[str, Any] | None) -> list[tuple[str, float]]:
    """Every data connector call of a bot turn (its trace's ``connector_calls``, as
    ``chat.bot.lookup.recording`` lists them), in order, as ``(category, ms)`` for one
    ``connector_called`` event each: the category ``"ok:<id>"`` (the company's API answered
    and the reply template read it), ``"not_found:<id>"`` (a 404 or a field the template
    needs missing) or ``"failed:<id>"`` (timeout, HTTP error, bad JSON, refused...), the
    connector named by its id (by its name cut to the column when the id is unknown); ``ms``
    the call's duration in milliseconds as the call measured it (0.0 when unknown). Whether
    the quality check kept the reply is a reply's figure (``connector_category``), not a
    call's. An entry that names no connector is skipped."""
    calls = (trace or {}).get("connector_calls")
    if not isinstance(calls, list):
        return []
    found: list[tuple[str, float]] = []
    for call in calls:
        if not isinstance(call, dict) or not call.get("connector"):
            continue
        ms = call.get("ms")
        ms = float(ms) if isinstance(ms, int | float) and not isinstance(ms, bool) else 0.0
        found.append((f"{_call_outcome(call)}:{_call_connector(call)}"[:32], max(0.0, ms)))
    return found


def connector_answer(trace: dict[str, Any] | None) -> dict[str, Any] | None:
    """The entry a bot reply answered from a connector's data lists among its ``articles``
    (``{"connector": id, "name": name}``), so that the customer may say it helped, as under
    an article; None when the reply did not come from a connector's data (a failed or
    not-found lookup, a reply the quality check replaced)."""
    trace = trace or {}
    call, response = trace.get("connector"), trace.get("response")
    quality = trace.get("quality")
    if not isinstance(call, dict) or not call.get("ok"):
        return None
    if not isinstance(call.get("connector_id"), int):
        return None
    if not isinstance(response, dict) or not response.get("connector") or response.get("fallback"):
        return None
    if isinstance(quality, dict) and not quality.get("ok", True):
        return None
    return {"connector": call["connector_id"], "name": str(call.get("connector", ""))[:120]}


@dataclasses.dataclass(eq=False)
class _TurnRows:
    """One bot turn's rows before they are written: the conversation's changes (``sets``),
    the reply (its seq and primary key set when written), its trace and reporting events."""

    message: Message
    conversation: Conversation
    sets: dict[str, Any]
    reply: Message
    trace: BotTrace
    events: list[Any]
    handoff: bool
    now: datetime


def _turn_rows(*, message: Message, result: Any, at: datetime | None) -> _TurnRows:
    conversation = message.conversation
    now = at or timezone.now()
    handoff = result.decision == "handoff"
    sets: dict[str, Any] = {
        "dialog_state": result.dialog_state or {},
        "updated_at": now,
    }
    # The conversation's intent is what it is about: a bare request for a person ("can I talk
    # to someone", "yes please" to the offer of one) after a topic keeps that topic for the
    # queue and the handoff summary (the turn's own event still records its intent).
    asks_for_person = handoff and result.handoff_category == "human_request"
    if result.intent and not (asks_for_person and conversation.intent):
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
    if not handoff and not articles and (looked_up := connector_answer(result.trace)):
        articles.append(looked_up)
    reply = Message(
        conversation=conversation,
        seq=0,  # the bumped seq, set when written
        author=Author.SYSTEM if handoff else Author.BOT,
        in_reply_to=message,
        text=result.reply_text,
        articles=articles,
        quick_replies=[
            str(label)[:40] for label in (getattr(result, "quick_replies", None) or [])[:5]
        ] or None if not handoff else None,
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
    events = []
    if result.is_fallback:
        events.append(event_build(
            name=EventName.FALLBACK,
            conversation=conversation,
            at=now,
            intent=result.intent or "",
            backend=result.backend or "",
            value=float(result.confidence or 0.0),
        ))
    if handoff:
        events.append(event_build(
            name=EventName.HANDOFF,
            conversation=conversation,
            at=now,
            intent=result.intent or "",
            category=sets["handoff_category"],
            backend=result.backend or "",
        ))
    else:
        latency_ms = max(0.0, (now - message.created_at).total_seconds() * 1000)
        events.append(event_build(
            name=EventName.BOT_REPLIED,
            conversation=conversation,
            at=now,
            intent=result.intent or "",
            category=connector_category(result.trace),
            backend=result.backend or "",
            value=latency_ms,
        ))
    # Every connector call the turn made, replied or handed off: one event each.
    events += [
        event_build(name=EventName.CONNECTOR_CALLED, conversation=conversation, at=now,
                    intent=result.intent or "", category=category,
                    backend=result.backend or "", value=ms)
        for category, ms in connector_calls(result.trace)
    ]
    return _TurnRows(message=message, conversation=conversation, sets=sets, reply=reply,
                     trace=trace, events=events, handoff=handoff, now=now)


def _turn_announce(turn: _TurnRows) -> None:
    """A written turn's hooks, in its transaction, and its broadcasts, on commit."""
    reply, conversation, now = turn.reply, turn.conversation, turn.now
    hook_send(HookEvent.MESSAGE_CREATED, conversation=conversation, message=reply, at=now)
    if turn.handoff:
        hook_send(HookEvent.CONVERSATION_HANDOFF, conversation=conversation, at=now)
        transaction.on_commit(partial(realtime.broadcast_handoff, conversation))
    _on_commit_broadcast_message(reply)


def _owed_answers_delete(message_ids: Sequence[int]) -> set[int]:
    """Deletes the answers owed to ``message_ids``; returns the ids that had one.

    One plain statement both databases run: ``DELETE FROM chat_owedanswer WHERE message_id IN
    (...) RETURNING message_id``; its row locks make a concurrent second run of the same turns
    wait, then find nothing.
    """
    if not message_ids:
        return set()
    qn = connection.ops.quote_name
    marks = ", ".join(["%s"] * len(message_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {qn(OwedAnswer._meta.db_table)} "  # noqa: S608
            f"WHERE {qn('message_id')} IN ({marks}) RETURNING {qn('message_id')}",
            list(message_ids),
        )
        return {row[0] for row in cursor.fetchall()}


def _owed_answer_delete(message_id: int) -> bool:
    """Deletes the answer owed to one message; True when there was one.

    One plain ``DELETE`` (both databases run it): the row lock it takes makes a concurrent
    second run of the bot task wait, then find nothing.
    """
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {qn(OwedAnswer._meta.db_table)} WHERE {qn('message_id')} = %s",  # noqa: S608
            [message_id],
        )
        return cursor.rowcount > 0


def owed_answer_settle(*, message: Message) -> bool:
    """Drops the answer owed to ``message`` unanswered (the bot no longer has its conversation).

    True when something was owed.
    """
    return _owed_answer_delete(message.pk)


# --- Agents ----------------------------------------------------------------------------------


def _locked(conversation: Conversation) -> Conversation:
    """Re-reads the conversation under a row lock, refreshing the caller's copy too.

    The conversation's row alone: with a join, a lock that waited on another transaction
    gives PostgreSQL's re-checked row beside the joined row as it was before (an assignee of
    NULL), and two agents claiming at once both won. A changed ``assignee_id`` drops the
    copy's cached assignee, which is then read after the lock, as committed."""
    fresh = Conversation.objects.select_for_update().get(pk=conversation.pk)
    for field in Conversation._meta.concrete_fields:
        setattr(conversation, field.attname, getattr(fresh, field.attname))
    return conversation


def _owed_answers_settle(conversation: Conversation) -> None:
    """The bot owes nothing more in this conversation: a person has it, or it is closed."""
    OwedAnswer.objects.filter(conversation_id=conversation.pk).delete()


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
        raise ConversationStateError(
            f"{_agent_name(conversation.assignee)} has already claimed this conversation; "
            "it is theirs now."
        )
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
    _owed_answers_settle(conversation)
    hook_send(HookEvent.CONVERSATION_ASSIGNED, conversation=conversation, at=now)
    notice = _system_message(
        conversation, text=f"{_agent_name(agent)} joined the conversation.", now=now
    )
    _on_commit_broadcast_message(notice)
    _on_commit_changed(conversation, "claimed")
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
    seq, _ = _next_seq(conversation, sets={"updated_at": now})
    message = Message.objects.create(
        conversation=conversation,
        seq=seq,
        author=Author.AGENT,
        sender=agent,
        text=text,
        created_at=now,
    )
    hook_send(HookEvent.MESSAGE_CREATED, conversation=conversation, message=message, at=now)
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
    _reply_email_owe(conversation, message, now=now)
    _on_commit_broadcast_message(message)
    return message


def reply_address(conversation: Conversation) -> str:
    """Where the customer asked for replies by e-mail: a verified customer's other address
    (``Conversation.reply_email``), else their contact's; "" when they left none. One query."""
    row = (
        Conversation.objects.filter(pk=conversation.pk)
        .values_list("reply_email", "contact__email").first()
    )
    return (row[0] or row[1] or "") if row else ""


def address_left(conversation: Conversation) -> str:
    """The address the customer left in the widget's e-mail form
    (``conversation_contact_set``): a verified customer's other address
    (``Conversation.reply_email``), else an unverified contact's; "" when none was left (a
    verified customer's own signed address is not one they left: the widget offers it in the
    form). One query."""
    row = (
        Conversation.objects.filter(pk=conversation.pk)
        .values_list("reply_email", "contact__email", "contact__is_verified").first()
    )
    if row is None:
        return ""
    reply_email, email, verified = row
    return reply_email or ("" if verified else email or "")


def _reply_email_owe(conversation: Conversation, message: Message, *, now: datetime) -> None:
    """Owes the customer this agent reply by e-mail when they left an address and have no chat
    socket open (``chat.mail``): the reply joins the pending reply mail of the conversation,
    else starts one, queued when the transaction commits. Called under the conversation's
    row lock (``_locked``), so two replies never start two mails."""
    if not conversation.contact_id or not mail.customer_is_away(conversation, now=now):
        return
    address = reply_address(conversation)
    if not address:
        return
    pending = (
        OwedEmail.objects.select_for_update()
        .filter(conversation=conversation, kind=EmailKind.REPLY, status=EmailStatus.PENDING)
        .first()
    )
    if pending is None:
        pending = OwedEmail.objects.create(
            conversation=conversation, kind=EmailKind.REPLY, to=address, created_at=now,
            send_after=mail.reply_send_after(conversation, now=now),
        )
        mail.owed_email_queue_on_commit(pending.pk)
    Message.objects.filter(pk=message.pk).update(emailed_in=pending)
    message.emailed_in = pending


@transaction.atomic
def transcript_email_request(
    *, conversation: Conversation, email: str = "", at: datetime | None = None
) -> OwedEmail:
    """The customer asks for the conversation's transcript by e-mail: to ``email``, else to the
    address they left. Raises ``ValueError`` for an invalid address, or when neither is given.
    The mail is owed (``OwedEmail``) and queued on commit; it holds the messages so far."""
    address = (email or "").strip() or reply_address(conversation)
    if not address:
        raise ValueError("no e-mail address")
    check_email(address)
    now = at or timezone.now()
    last_seq = Conversation.objects.values_list("last_seq", flat=True).get(pk=conversation.pk)
    owed = OwedEmail.objects.create(
        conversation=conversation, kind=EmailKind.TRANSCRIPT, to=address, created_at=now,
        send_after=now, up_to_seq=last_seq,
    )
    mail.owed_email_queue_on_commit(owed.pk)
    return owed


# --- The customer's sockets ------------------------------------------------------------------


def customer_socket_joined(*, conversation: Conversation, at: datetime | None = None) -> None:
    """A customer socket joined the conversation: one ``UPDATE`` (count up, moment), on join
    only; ``chat.mail`` reads these to tell whether the customer has left. A reply mail still
    waiting is dropped at once (the customer reads the replies in the chat): consoles stop
    saying "to be sent by e-mail" now, not when the mail falls due."""
    now = at or timezone.now()
    Conversation.objects.filter(pk=conversation.pk).update(
        customer_sockets=F("customer_sockets") + 1, customer_joined_at=now
    )
    _reply_mail_drop(conversation)


@transaction.atomic
def _reply_mail_drop(conversation: Conversation) -> None:
    """Drops the conversation's pending reply mail, if any, and unmarks its replies. A mail
    being sent holds its row (``mail.owed_email_send``): this waits for it, then finds it sent
    and leaves it."""
    pending = list(
        OwedEmail.objects.select_for_update()
        .filter(conversation_id=conversation.pk, kind=EmailKind.REPLY, status=EmailStatus.PENDING)
        .values_list("pk", flat=True)
    )
    if not pending:
        return
    OwedEmail.objects.filter(pk__in=pending).update(status=EmailStatus.DROPPED)
    Message.objects.filter(conversation_id=conversation.pk, emailed_in_id__in=pending).update(
        emailed_in=None
    )
    _on_commit_changed(conversation, "emailed")


def customer_socket_left(*, conversation: Conversation, at: datetime | None = None) -> None:
    """A joined customer socket closed: one ``UPDATE`` (count down, never below 0, moment)."""
    now = at or timezone.now()
    Conversation.objects.filter(pk=conversation.pk).update(
        customer_sockets=Greatest(F("customer_sockets") - 1, Value(0)), customer_left_at=now
    )


@transaction.atomic
def conversation_reopen_by_link(*, widget: Widget, link_token: str) -> tuple[Conversation, str]:
    """The conversation a reopen link (``chat.mail.reopen_link``) names, with a new customer
    token: returns (conversation, raw token). The token it replaces stops working (another
    browser that held it starts afresh). Raises ``mail.ReopenLinkError`` for a forged,
    tampered, expired or foreign link, and for a conversation that is gone."""
    public_id = mail.reopen_token_check(link_token, widget_id=widget.pk)
    conversation = (
        Conversation.objects.select_for_update().filter(public_id=public_id, widget=widget).first()
    )
    if conversation is None:
        raise mail.ReopenLinkError("bad")
    token = secrets.token_urlsafe(32)
    Conversation.objects.filter(pk=conversation.pk).update(token_hash=token_hash(token))
    conversation.token_hash = token_hash(token)
    return conversation, token


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
    _owed_answers_settle(conversation)
    event_record(
        name=EventName.RESOLVED,
        conversation=conversation,
        at=now,
        intent=conversation.intent,
        category=resolution,
        value=max(0.0, (now - conversation.created_at).total_seconds()),
        agent=agent if resolution == Resolution.AGENT else None,
    )
    hook_send(HookEvent.CONVERSATION_RESOLVED, conversation=conversation, at=now)
    _on_commit_changed(conversation, "resolved")
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
    _on_commit_changed(conversation, "returned")
    return conversation


@transaction.atomic
def conversation_assign(
    *, conversation: Conversation, agent, to, at: datetime | None = None
) -> Conversation:
    """``agent`` gives the open conversation to the agent ``to`` (an assignment when nobody
    had it, a transfer when someone did). Writes an agents-only line (``Note``), a reporting
    event (``assigned`` or ``transferred``) and tells the customer who joined; ``to`` is
    notified on their console. Raises ``ConversationStateError`` for a closed conversation
    or one that ``to`` has already.
    """
    now = at or timezone.now()
    _locked(conversation)
    if conversation.status in (ConversationStatus.RESOLVED, ConversationStatus.ABANDONED):
        raise ConversationStateError("the conversation is closed")
    if conversation.assignee_id == to.pk and conversation.status == ConversationStatus.AGENT:
        raise ConversationStateError(f"{to.get_username()} already has this conversation")
    previous = conversation.assignee if conversation.assignee_id else None
    sets: dict[str, Any] = {"status": ConversationStatus.AGENT, "assignee": to, "updated_at": now}
    if conversation.handed_off_at is None or conversation.status == ConversationStatus.BOT:
        sets["handed_off_at"] = now
    _conversation_update(conversation, sets)
    _owed_answers_settle(conversation)
    hook_send(HookEvent.CONVERSATION_ASSIGNED, conversation=conversation, at=now)
    kind = NoteKind.TRANSFERRED if previous is not None else NoteKind.ASSIGNED
    if previous is not None:
        line = f"{previous.get_username()} transferred the conversation to {to.get_username()}"
    else:
        line = f"{agent.get_username()} assigned the conversation to {to.get_username()}"
    if previous is not None and previous.pk != agent.pk:
        line += f" (by {agent.get_username()})"
    note = Note.objects.create(
        conversation=conversation, kind=kind, author=agent, text=line + ".", created_at=now
    )
    event_record(
        name=EventName.TRANSFERRED if previous is not None else EventName.ASSIGNED,
        conversation=conversation, at=now, intent=conversation.intent, agent=to,
    )
    if previous is None or _agent_name(previous) != _agent_name(to):
        notice = _system_message(
            conversation, text=f"{_agent_name(to)} joined the conversation.", now=now
        )
        _on_commit_broadcast_message(notice)
    notify = [to.pk] if to.pk != agent.pk else []
    transaction.on_commit(partial(realtime.broadcast_note, note, notify_user_ids=notify))
    _on_commit_changed(conversation, kind.value)
    return conversation


@transaction.atomic
def conversation_unassign(
    *, conversation: Conversation, agent, at: datetime | None = None
) -> Conversation:
    """The conversation goes back to the waiting queue with nobody on it (an agents-only line
    and an ``unassigned`` event). Raises ``ConversationStateError`` unless an agent has it."""
    now = at or timezone.now()
    _locked(conversation)
    if conversation.status != ConversationStatus.AGENT or not conversation.assignee_id:
        raise ConversationStateError("nobody has this conversation")
    previous = conversation.assignee
    _conversation_update(
        conversation,
        {"status": ConversationStatus.WAITING, "assignee": None, "updated_at": now},
    )
    who = agent.get_username()
    line = (
        f"{who} unassigned the conversation; it is waiting again."
        if previous.pk == agent.pk
        else f"{who} unassigned {previous.get_username()}; the conversation is waiting again."
    )
    note = Note.objects.create(
        conversation=conversation, kind=NoteKind.UNASSIGNED, author=agent, text=line,
        created_at=now,
    )
    event_record(
        name=EventName.UNASSIGNED, conversation=conversation, at=now,
        intent=conversation.intent, agent=previous,
    )
    transaction.on_commit(partial(realtime.broadcast_note, note))
    _on_commit_changed(conversation, "unassigned")
    return conversation


# --- Customers' feedback ---------------------------------------------------------------------


@transaction.atomic
def conversation_rate(
    *, conversation: Conversation, score: int, comment: str = "", at: datetime | None = None
) -> Conversation:
    """The customer's 1-5 rating with an optional comment (stripped; at most
    ``CHAT_MAX_MESSAGE_CHARS`` characters after stripping, as a message), once per
    conversation. Raises ``ValueError`` for a score that is not a whole number from 1 to 5 or a
    comment too long (nothing stored), ``ConversationStateError`` when already rated."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValueError("a rating is a whole number from 1 to 5")
    comment = (comment or "").strip()
    if len(comment) > settings.CHAT_MAX_MESSAGE_CHARS:
        raise ValueError(f"a comment has at most {settings.CHAT_MAX_MESSAGE_CHARS} characters")
    now = at or timezone.now()
    _locked(conversation)
    if conversation.rating is not None:
        raise ConversationStateError("the conversation has already been rated")
    comment = mask_card_numbers(comment)
    Conversation.objects.filter(pk=conversation.pk).update(
        rating=score, rating_comment=comment, updated_at=now
    )
    conversation.rating = score
    conversation.rating_comment = comment
    event_record(name=EventName.RATING_GIVEN, conversation=conversation, at=now, value=score)
    hook_send(HookEvent.RATING_CREATED, conversation=conversation, at=now)
    _on_commit_changed(conversation, "rated")
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
    _owed_answers_settle(conversation)
    event_record(name=EventName.ABANDONED, conversation=conversation, at=now, category=previous)
    _on_commit_changed(conversation, "abandoned")
    return conversation


# --- Widgets (staff settings; every change audited) -------------------------------------------

# The widget fields the audit log records a change of: who may open conversations, whether the
# widget answers, and how customers see it. The identity secret has its own entry
# (``chat.identity.widget_secret_rotate``) and is never recorded.
WIDGET_AUDITED_FIELDS = ("public_key", "name", "display_name", "allowed_origins", "is_active",
                         "greeting")


def _widget_fields(widget: Widget) -> dict[str, Any]:
    return {name: getattr(widget, name) for name in WIDGET_AUDITED_FIELDS}


@transaction.atomic
def widget_save(*, actor: Any, widget: Widget) -> Widget:
    """Saves a new or edited ``widget`` (already validated, e.g. by the admin form) with an
    audit entry (``widget.create`` or ``widget.update``) of the fields that changed among
    ``WIDGET_AUDITED_FIELDS``; an edit that changes none of them records nothing."""
    before = Widget.objects.filter(pk=widget.pk).first() if widget.pk else None
    widget.save()
    if before is None:
        audit_record(actor=actor, action="widget.create", obj=widget,
                     changes=field_changes({}, _widget_fields(widget)))
        return widget
    changes = field_changes(_widget_fields(before), _widget_fields(widget))
    if changes:
        audit_record(actor=actor, action="widget.update", obj=widget, changes=changes)
    return widget


@transaction.atomic
def widget_delete(*, actor: Any, widget: Widget) -> None:
    """Deletes ``widget`` (and, by cascade, its conversations) with an audit entry."""
    audit_record(actor=actor, action="widget.delete", obj=widget)
    widget.delete()
