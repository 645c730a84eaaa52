"""Reads of the API app: a token by its value, a user's tokens, and the querysets the API
serves, each limited to what the caller's role may see."""

from __future__ import annotations

import hmac
from typing import Any

from django.db.models import QuerySet

from accounts.roles import ADMINS, has_role
from analytics.models import ReportingEvent
from chat.models import Contact, Conversation, Message
from knowledge.models import Article, ArticleStatus

from .models import ApiToken
from .services import TOKEN_PREFIX, token_hash

# Longer than any token this app makes; a longer header is refused without hashing it.
TOKEN_MAX_CHARS = 100


def token_active_by_key(raw: str) -> ApiToken | None:
    """The live (not revoked) token whose value is ``raw``, with its user; None otherwise.

    Found by its keyed hash (a unique index), then the hashes compared in constant time.
    """
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > TOKEN_MAX_CHARS:
        return None
    digest = token_hash(raw)
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=digest, revoked_at__isnull=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.key_hash, digest):
        return None
    return token


def tokens_for_user(*, user: Any) -> list[ApiToken]:
    """``user``'s tokens, live ones first, newest first."""
    tokens = list(ApiToken.objects.filter(user=user))
    return sorted(tokens, key=lambda t: t.revoked_at is not None)


def conversations_for_api() -> QuerySet[Conversation]:
    """Every conversation (the console's agents see them all), newest first, with what a
    list row shows loaded in a fixed number of queries."""
    return (
        Conversation.objects.select_related("assignee", "contact__widget", "widget")
        .prefetch_related("labels")
        .order_by("-created_at", "-id")
    )


def messages_for_api(*, conversation: Conversation) -> QuerySet[Message]:
    """The conversation's messages in order (what its customer saw; notes are not messages)."""
    return Message.objects.filter(conversation=conversation).select_related("sender")


def contacts_for_api() -> QuerySet[Contact]:
    """Every contact, newest first, with its widget."""
    return Contact.objects.select_related("widget").order_by("-id")


def articles_for_user(*, user: Any) -> QuerySet[Article]:
    """Admins see every article; agents the published ones (what the console offers them)."""
    articles = Article.objects.prefetch_related("intents").order_by("id")
    if has_role(user, [ADMINS]):
        return articles
    return articles.filter(status=ArticleStatus.PUBLISHED)


def events_for_api() -> QuerySet[ReportingEvent]:
    """Reporting events in the order they were recorded (ids only for their relations)."""
    return ReportingEvent.objects.order_by("id")
