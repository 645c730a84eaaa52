"""The audit log: one row per change an admin makes, written inside the change's transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from .models import AuditLogEntry


def _actor_or_none(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def audit_record(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    changes: dict[str, Any] | None = None,
) -> AuditLogEntry:
    """Record who did what to which object; ``changes`` maps a field to ``[before, after]``."""
    if obj is not None:
        object_type = object_type or obj._meta.model_name or ""
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)
    return AuditLogEntry.objects.create(
        actor=_actor_or_none(actor),
        action=action[:40],
        object_type=object_type[:40],
        object_id=str(object_id)[:64],
        object_repr=object_repr[:200],
        changes=changes or {},
    )


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """The fields whose values differ, as ``{field: [before, after]}``; long text is shortened.
    A field only in ``before`` (a deletion: ``after`` is ``{}``) is listed with ``None`` after."""

    def short(value: Any) -> Any:
        if isinstance(value, str) and len(value) > 300:
            return value[:300] + "…"
        return value

    return {
        key: [short(before.get(key)), short(after.get(key))]
        for key in dict.fromkeys([*before, *after])
        if before.get(key) != after.get(key)
    }


def audit_login_lockout(*, username: str, ip_address: str, cooloff: timedelta | None) -> bool:
    """Record that logins for ``username`` (or from ``ip_address``) are locked out.

    django-axes signals a lockout on the failure that starts it and again on every failure
    during it; only the first is written: nothing when the same name or the same address already
    has an entry within the lockout period ``cooloff`` (ever, when lockouts are permanent).
    Returns whether an entry was written.
    """
    since = timezone.now() - cooloff if cooloff else None
    earlier = AuditLogEntry.objects.filter(
        Q(object_repr=username[:200]) | Q(changes__ip_address__1=ip_address),
        action="login_locked_out", object_type="login",
    )
    if since is not None:
        earlier = earlier.filter(created_at__gte=since)
    if earlier.exists():
        return False
    audit_record(
        actor=None,
        action="login_locked_out",
        object_type="login",
        object_repr=username,
        # [before, after] as every entry's changes, so the audit page shows "— → 10.0.0.7".
        changes={"ip_address": [None, ip_address]},
    )
    return True
