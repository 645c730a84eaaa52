"""Writes of the API app: making, revoking and stamping per-user API tokens.

A token is ``sdk_`` and 43 URL-safe characters (256 random bits, ``secrets``). Only its keyed
hash is stored: HMAC-SHA256 with a key derived from ``SECRET_KEY`` (Django's
``salted_hmac``), so a copy of the database alone cannot be turned into working tokens.
Changing ``SECRET_KEY`` therefore makes every token invalid (users make new ones).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.roles import ROLES, has_role

from .models import ApiToken

TOKEN_PREFIX = "sdk_"
TOKEN_NAME_MAX = 80
# The last-used time is written at most this often per token (not one write per request).
LAST_USED_GRANULARITY = timedelta(seconds=60)
HASH_SALT = "supportdesk.api.token"


def token_hash(raw: str) -> str:
    """The stored form of a token: hex HMAC-SHA256 keyed by ``SECRET_KEY`` (64 characters)."""
    return salted_hmac(HASH_SALT, raw, algorithm="sha256").hexdigest()


def check_token_name(name: str) -> str:
    """The name stripped; ``ValueError`` when it is empty, too long or holds control
    characters (a NUL cannot be stored in PostgreSQL)."""
    name = (name or "").strip()
    if not name:
        raise ValueError("Give the token a name, e.g. the system that will use it.")
    if len(name) > TOKEN_NAME_MAX:
        raise ValueError(f"A token name holds at most {TOKEN_NAME_MAX} characters.")
    if any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in name):
        raise ValueError("A token name cannot hold control characters.")
    return name


@transaction.atomic
def token_create(*, user: Any, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user`` named ``name``: the stored row and the token itself, which
    the caller shows once and never stores.

    Raises ``ValueError`` for a bad name, a name the user already gives a live token, or a
    user with no staff role (the API has nothing for them).
    """
    name = check_token_name(name)
    if not has_role(user, ROLES):
        raise ValueError("Only staff (agents, managers, admins) can have API tokens.")
    if ApiToken.objects.filter(user=user, name=name, revoked_at__isnull=True).exists():
        raise ValueError("You already have a token with that name.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            token = ApiToken.objects.create(
                user=user, name=name, prefix=raw[:12], key_hash=token_hash(raw)
            )
    except IntegrityError:  # the same name made at the same moment in another request
        raise ValueError("You already have a token with that name.") from None
    return token, raw


@transaction.atomic
def token_revoke(*, user: Any, token_id: int, at: Any = None) -> ApiToken:
    """Revokes ``user``'s token ``token_id`` (from then on it answers 401); revoking a revoked
    token changes nothing. Raises ``ApiToken.DoesNotExist`` for another user's or no token."""
    token = ApiToken.objects.select_for_update().get(pk=token_id, user=user)
    if token.revoked_at is None:
        token.revoked_at = at or timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def token_touch(*, token: ApiToken, at: Any = None) -> None:
    """Records that ``token`` was used now, at most once per ``LAST_USED_GRANULARITY``."""
    now = at or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_GRANULARITY:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_GRANULARITY)
    ).update(last_used_at=now)
    token.last_used_at = now
