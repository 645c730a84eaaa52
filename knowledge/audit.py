"""The audit log: one row per change an admin makes, written inside the change's transaction."""

from __future__ import annotations

from typing import Any

from django.db import models

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
    """The fields whose values differ, as ``{field: [before, after]}``; long text is shortened."""

    def short(value: Any) -> Any:
        if isinstance(value, str) and len(value) > 300:
            return value[:300] + "…"
        return value

    return {
        key: [short(before.get(key)), short(after.get(key))]
        for key in after
        if before.get(key) != after.get(key)
    }
