"""Reads of the chat: conversations for a customer's token, transcripts, origins, agent presence."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from analytics.selectors import (
    first_agent_reply_average_seconds,
    first_agent_reply_median_seconds,
)
from knowledge.selectors import quick_reply_topics

from .models import (
    WIDGET_KEY_MAX,
    AgentPresence,
    Author,
    BotTrace,
    Conversation,
    ConversationStatus,
    Message,
    PresenceStatus,
    Widget,
)
from .origins import SELF, allowed_origin_entries

logger = logging.getLogger(__name__)

DEFAULT_EXPECTED_WAIT_SECONDS = 120
# The widget header's "typically replies in N min": the median is cached this long.
REPLY_TIME_CACHE_KEY = "chat:typical-reply-seconds"
REPLY_TIME_CACHE_SECONDS = 300


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def widget_active_by_key(key: str) -> Widget | None:
    """The active widget whose public key is ``key``; None for no such widget, or for a key
    that is no slug (a NUL or half an emoji from a query string never reaches the database)."""
    if not isinstance(key, str) or not key or len(key) > WIDGET_KEY_MAX:
        return None
    try:
        validate_slug(key)
    except ValidationError:
        return None
    return Widget.objects.filter(public_key=key, is_active=True).first()


def server_origin(*, scheme: str, host: str) -> str:
    """The SupportDesk server's own origin: ``CHAT_PUBLIC_ORIGIN`` or what the request says."""
    if settings.CHAT_PUBLIC_ORIGIN:
        return settings.CHAT_PUBLIC_ORIGIN.rstrip("/")
    return f"{scheme}://{host}"


def widget_allows_origin(widget: Widget, *, origin: str | None, self_origin: str) -> bool:
    """Whether a request from ``origin`` may act for ``widget``.

    The widget's own allow-list decides, with "self" meaning the SupportDesk origin. The
    SupportDesk origin is always accepted: the panel the loader frames is served from it, and
    which sites may frame that panel is enforced by the browser through the panel's CSP
    ``frame-ancestors`` (the widget's allow-list).
    """
    if not origin:
        return False
    origin = origin.rstrip("/")
    if origin == self_origin:
        return True
    origin = origin.lower()
    return any(
        (item == SELF and origin == self_origin.lower()) or item == origin
        for item in allowed_origin_entries(widget.allowed_origins)
    )


def any_widget_allows_origin(*, origin: str | None, self_origin: str) -> bool:
    if not origin:
        return False
    if origin.rstrip("/") == self_origin:
        return True
    return any(
        widget_allows_origin(widget, origin=origin, self_origin=self_origin)
        for widget in Widget.objects.filter(is_active=True).only("allowed_origins")
    )


def conversation_for_customer(*, public_id: uuid.UUID, token: str) -> Conversation | None:
    """The conversation whose public id is ``public_id`` if ``token`` is its customer's token,
    else None (constant-time check). Customers know conversations by the random public id
    only; the sequential primary key stays inside (agents' URLs)."""
    conversation = (
        Conversation.objects.select_related("widget").filter(public_id=public_id).first()
    )
    if conversation is None or not conversation.widget.is_active:
        return None
    if not hmac.compare_digest(conversation.token_hash, token_hash(token)):
        return None
    return conversation


def messages_after(*, conversation_id: int, after_seq: int = 0) -> list[Message]:
    return list(
        Message.objects.filter(conversation_id=conversation_id, seq__gt=after_seq)
        .select_related("in_reply_to", "sender")
        .order_by("seq")
    )


def messages_for_rejoin(
    *, conversation_id: int, after_seq: int, missing_seqs: Collection[int] = ()
) -> list[Message]:
    """The messages a rejoining client lacks, in seq order (the gap fill of docs/protocol.md).

    Every message with ``seq > after_seq``, plus those of ``missing_seqs`` (seqs at or below
    ``after_seq`` that the client never received). A seq that names no message is skipped.
    """
    wanted = Q(seq__gt=after_seq)
    if missing_seqs:
        wanted |= Q(seq__in=list(missing_seqs))
    return list(
        Message.objects.filter(wanted, conversation_id=conversation_id)
        .select_related("in_reply_to", "sender", "emailed_in")
        .order_by("seq")
    )


def presence_fresh_since() -> datetime:
    """Presence older than this missed several console heartbeats: its process is gone."""
    return timezone.now() - timedelta(seconds=3 * settings.CONSOLE_PRESENCE_HEARTBEAT_SECONDS)


def agents_online_count() -> int:
    """Agents with a live console connection (heartbeat within three periods), not away."""
    return AgentPresence.objects.filter(
        status=PresenceStatus.ONLINE, connections__gt=0, last_seen__gte=presence_fresh_since()
    ).count()


def emails_refused_by_lookups(*, conversation_id: int) -> list[str]:
    """The e-mail addresses (lower case) that the conversation's order lookups found nothing
    for, and that no later lookup found an order for: the customer mistyped them, so the
    widget's reply-by-e-mail form never offers them. Read from the bot turns' traces (the
    details a lookup used, ``dialog.details.email``, and its outcome, ``connector``); one
    query."""
    refused: dict[str, None] = {}
    stages = (
        BotTrace.objects.filter(conversation_id=conversation_id, stages__trace__has_key="connector")
        .order_by("message__seq")
        .values_list("stages", flat=True)
    )
    for turn in stages:
        trace = turn.get("trace") if isinstance(turn, dict) else None
        call = trace.get("connector") if isinstance(trace, dict) else None
        dialog = trace.get("dialog") if isinstance(trace, dict) else None
        details = dialog.get("details") if isinstance(dialog, dict) else None
        email = details.get("email") if isinstance(details, dict) else None
        if not isinstance(call, dict) or not isinstance(email, str) or not email:
            continue
        calls = [c for c in call.get("orders") or [call] if isinstance(c, dict)]
        if any(c.get("ok") for c in calls):
            refused.pop(email.lower(), None)  # an order found with it: the address is right
        elif any(c.get("not_found") for c in calls):
            refused[email.lower()] = None
    return list(refused)


def expected_wait_seconds() -> int:
    """How long a customer handed over waits for an agent: the recent average first reply."""
    average = first_agent_reply_average_seconds(since=timezone.now() - timedelta(days=7))
    return round(average) if average else DEFAULT_EXPECTED_WAIT_SECONDS


def messages_unanswered(*, since: datetime, before: datetime, limit: int = 500) -> list[int]:
    """Ids of customer messages stored between ``since`` and ``before`` that the bot owes.

    Only a conversation's unanswered tail while the bot has it: customer messages with
    nothing but customer messages after them (a message an agent saw, followed by the agent's
    reply or the "back to the bot" notice, is not the bot's to answer).
    """
    later_reply = Message.objects.filter(
        conversation_id=OuterRef("conversation_id"), seq__gt=OuterRef("seq")
    ).exclude(author=Author.CUSTOMER)
    return list(
        Message.objects.filter(
            conversation__status=ConversationStatus.BOT,
            conversation__last_customer_message_at__gte=since,
            author=Author.CUSTOMER,
            created_at__gte=since,
            created_at__lt=before,
        )
        .exclude(Exists(later_reply))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def conversations_inactive(*, before) -> list[Conversation]:
    """Open conversations with no activity since ``before``, for the periodic resolver."""
    from django.db.models import Q

    quiet = Q(created_at__lt=before)
    for name in ("last_customer_message_at", "last_bot_reply_at", "handed_off_at"):
        quiet &= Q(**{f"{name}__lt": before}) | Q(**{f"{name}__isnull": True})
    return list(
        Conversation.objects.filter(status__in=["bot", "waiting"])
        .filter(quiet)
        .order_by("pk")[:500]
    )


def bot_answer_is_sourced(*, conversation_id: int, seq: int) -> bool | None:
    """Whether the bot message ``seq`` answered from a source; ``None`` when it is no bot message.

    Sourced means quoted from knowledge-base articles, or answered from data a connector
    fetched (listed among the message's ``articles`` as ``{"connector": id, "name": ...}``,
    ``chat.services.connector_answer``). Only a "yes" under such an
    answer confirms that the bot resolved the conversation: a question, a greeting or the safe
    reply answers from nothing, and a "yes" under it would inflate the bot's containment.
    """
    found = (
        Message.objects.filter(conversation_id=conversation_id, seq=seq, author=Author.BOT)
        .values_list("articles", flat=True)
        .first()
    )
    if found is None:
        return None
    return any(
        isinstance(item, dict) and (item.get("id") is not None or item.get("connector") is not None)
        for item in found or []
    )


def initials_of(name: str) -> str:
    """Up to two initials for an avatar: the first letters of the first and last words
    ("Acme Outfitters" -> "AO", "support" -> "S"); "" for a name with no letters."""
    words = [w for w in name.split() if any(c.isalnum() for c in w)]
    if not words:
        return ""
    firsts = [next(c for c in w if c.isalnum()) for w in words]
    picked = firsts[0] + (firsts[-1] if len(firsts) > 1 else "")
    return picked.upper()


def typical_reply_seconds() -> float | None:
    """The agents' typical first response: the median wait from a handoff to the agent's
    first reply over the last 7 days, in seconds (None with no reply in that week).

    Cached for ``REPLY_TIME_CACHE_SECONDS`` in the default cache (shared by every process
    with Redis): the panel is loaded on every page view of a customer site. While the cache
    cannot be reached (Redis down) it is read from the database each time: the panel loads.
    """
    try:
        cached = cache.get(REPLY_TIME_CACHE_KEY)
    except Exception:  # Redis down: read it from the database, and keep nothing
        logger.warning("the typical reply time could not be read from the cache")
        cached = None
    if cached is not None:
        return cached if cached >= 0 else None
    median = first_agent_reply_median_seconds(since=timezone.now() - timedelta(days=7))
    try:
        cache.set(REPLY_TIME_CACHE_KEY, -1.0 if median is None else median,
                  REPLY_TIME_CACHE_SECONDS)
    except Exception:
        logger.warning("the typical reply time could not be kept in the cache")
    return median


def widget_face(widget: Widget) -> dict[str, Any]:
    """What the panel's header and greeting show a customer, read once per panel load.

    ``display_name`` and ``initials`` of the company; ``agents_online`` (int);
    ``reply_minutes`` (int >= 1: the typical first response, rounded up to whole minutes, the
    default expected wait when the week had no reply); ``topics``, the greeting's quick
    replies (``knowledge.selectors.quick_reply_topics``).
    """
    seconds = typical_reply_seconds() or DEFAULT_EXPECTED_WAIT_SECONDS
    name = widget.public_name
    return {
        "display_name": name,
        "initials": initials_of(name),
        "agents_online": agents_online_count(),
        "reply_minutes": max(1, math.ceil(seconds / 60)),
        "topics": quick_reply_topics(),
    }


@lru_cache(maxsize=64)
def _histories_statement(count: int) -> str:
    meta = Message._meta
    qn = connection.ops.quote_name
    conversation = qn(meta.get_field("conversation").column)
    seq = qn("seq")
    ranges = " OR ".join([f"({conversation} = %s AND {seq} >= %s AND {seq} < %s)"] * count)
    return (  # only quoted identifiers are interpolated; every value is a parameter
        f"SELECT {conversation}, {qn('author')}, {qn('text')} FROM {qn(meta.db_table)} "  # noqa: S608
        f"WHERE {ranges} ORDER BY {conversation}, {seq}"
    )


def histories_before(
    points: Sequence[tuple[int, int]], *, limit: int
) -> dict[int, list[tuple[str, str]]]:
    """``messages_before`` for several conversations at once: for each (conversation id, seq)
    of ``points`` (one point per conversation), the conversation's last ``limit`` messages
    before ``seq``, oldest first, as (author, text) pairs; a conversation with none maps to [].

    One plain statement built once per count, both databases: each conversation's range
    ``seq >= seq - limit AND seq < seq`` along the ``message_seq_unique`` index (a
    conversation's seqs have no gaps: each message takes the next one in the transaction that
    stores it; a gap would only shorten the history read). No row locks.
    """
    histories: dict[int, list[tuple[str, str]]] = {c: [] for c, _ in points}
    if not points:
        return histories
    params: list[int] = []
    for conversation_id, seq in points:
        params.extend((conversation_id, seq - limit, seq))
    with connection.cursor() as cursor:
        cursor.execute(_histories_statement(len(points)), params)
        for conversation_id, author, text in cursor.fetchall():
            histories[conversation_id].append((author, text))
    return histories


def messages_before(*, conversation_id: int, seq: int, limit: int) -> list[tuple[str, str]]:
    """The last ``limit`` messages of a conversation before ``seq``, oldest first, as
    (author, text) pairs: the history the bot reads each turn.

    One plain statement that both databases run, not compiled by the ORM each turn:
    ``SELECT author, text FROM chat_message WHERE conversation_id = %s AND seq < %s ORDER BY
    seq DESC LIMIT %s``, read backwards along the ``message_seq_unique`` index; no row locks.
    """
    meta = Message._meta
    qn = connection.ops.quote_name
    sql = (  # only quoted identifiers are interpolated; every value is a parameter
        f"SELECT {qn('author')}, {qn('text')} FROM {qn(meta.db_table)} "  # noqa: S608
        f"WHERE {qn(meta.get_field('conversation').column)} = %s AND {qn('seq')} < %s "
        f"ORDER BY {qn('seq')} DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [conversation_id, seq, limit])
        rows = cursor.fetchall()
    rows.reverse()
    return [(author, text) for author, text in rows]
