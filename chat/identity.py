"""Verified identity, as Intercom's identity verification and Chatwoot's identifier hash.

Each widget has a secret; the host page signs its signed-in customer's id with it
(``user_hash`` = hex HMAC-SHA256 of the user id, keyed by the secret) and passes the id, the
hash and optionally an e-mail address and a name when the conversation is created, and again
when a resumed conversation's page names them anew. A hash that matches
(``hmac.compare_digest``) makes the conversation and its contact verified and brings the
contact's e-mail and name up to date (``chat.services.contact_verified_upsert``); a forged or
missing one leaves them unverified, changes no verified contact and is logged without the hash.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from knowledge.audit import audit_record

from .models import Widget

logger = logging.getLogger(__name__)

USER_ID_MAX = 200
NAME_MAX = 120


@dataclass(frozen=True)
class Identity:
    """A customer the host page vouched for: ``user_id`` always, e-mail and name if given
    (``""`` if not; the e-mail address as given, stripped: it is checked when stored)."""

    user_id: str
    email: str = ""
    name: str = ""


def identity_hash(secret: str, user_id: str) -> str:
    """The hex HMAC-SHA256 of ``user_id`` keyed by ``secret`` (both UTF-8), as a host page
    computes it (e.g. ``hmac.new(secret, user_id, sha256).hexdigest()``)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


# Characters no id should hold: controls, invisible format characters (zero-width space, byte
# order mark, soft hyphen), lone surrogates, line and paragraph separators. Characters newer
# than this Python's Unicode tables (category Cn), such as new emoji, are allowed.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _user_id_problem(user_id: str) -> str:
    """Why a user id cannot name one customer exactly ("" when it can): spaces around it,
    control or invisible characters in it, or not in Unicode NFC (the W3C's form for
    identifiers: the same text has one form)."""
    if user_id != user_id.strip():
        return "has spaces around it"
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in user_id):
        return "has control or invisible characters"
    if not unicodedata.is_normalized("NFC", user_id):
        return "is not in Unicode NFC form"
    return ""


def identity_from_payload(widget: Widget, payload: Any) -> Identity | None:
    """The verified identity in a create request's ``user`` object, or None.

    ``payload`` is ``{"id", "hash", "email"?, "name"?}``; None (unverified) when it is absent,
    malformed (an id of more than ``USER_ID_MAX`` characters, with spaces around it, control
    or invisible characters in it, or not in Unicode NFC), the widget has no secret, or the
    hash does not match. A refusal
    is logged with the widget key and the reason only. The name is cut to ``NAME_MAX`` characters.
    """
    if payload is None:
        return None
    if not isinstance(payload, dict):
        logger.warning("identity refused for widget %s: not an object", widget.public_key)
        return None
    user_id, user_hash = payload.get("id"), payload.get("hash")
    if not isinstance(user_id, str) or not 0 < len(user_id) <= USER_ID_MAX:
        logger.warning("identity refused for widget %s: no user id", widget.public_key)
        return None
    problem = _user_id_problem(user_id)
    if problem:
        # " cust-1" or "jose" + a combining accent, signed as such, would be another customer
        # than "cust-1" or "josé": a host page's slip that would split one customer in two,
        # refused rather than stored.
        logger.warning("identity refused for widget %s: the user id %s", widget.public_key,
                       problem)
        return None
    if not widget.identity_secret:
        logger.warning("identity refused for widget %s: no identity secret", widget.public_key)
        return None
    if not isinstance(user_hash, str) or not user_hash.strip():
        logger.warning("identity refused for widget %s: no user hash", widget.public_key)
        return None
    expected = identity_hash(widget.identity_secret, user_id)
    if not isinstance(user_hash, str) or not hmac.compare_digest(
        expected.encode(), user_hash.strip().lower().encode()
    ):
        logger.warning("identity refused for widget %s: the user hash does not match",
                       widget.public_key)
        return None
    # The e-mail address is checked where it is stored (``chat.services.check_email``, in
    # ``contact_verified_upsert``), which ignores and logs one it refuses.
    email = payload.get("email")
    email = email.strip() if isinstance(email, str) else ""
    name = payload.get("name")
    name = name.strip()[:NAME_MAX] if isinstance(name, str) else ""
    return Identity(user_id=user_id, email=email, name=name)


@transaction.atomic
def widget_secret_rotate(*, actor: Any, widget: Widget) -> str:
    """Gives ``widget`` a new identity secret and returns it: the only time it is shown.
    Host pages signing with the old one stop being verified at once. The audit log records
    who rotated it and when (``actor``: a user, or None for the system), never a secret."""
    had_secret = bool(widget.identity_secret)
    secret = secrets.token_hex(32)
    Widget.objects.filter(pk=widget.pk).update(identity_secret=secret)
    widget.identity_secret = secret
    audit_record(
        actor=actor, action="widget.secret_rotate", obj=widget,
        changes={"identity_secret": ["set" if had_secret else "none", "new (shown once)"]},
    )
    return secret
