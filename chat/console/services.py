"""Writes that belong to the console alone: an agent's presence.

Presence counts console sockets (several tabs, several processes), so it lives in the
database, not in a process: connect adds one, disconnect takes one away, and the agent's own
choice (online or away) is kept across reconnects.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from chat.models import AgentPresence, PresenceStatus
from chat.selectors import presence_fresh_since


@transaction.atomic
def presence_connect(*, agent: Any) -> AgentPresence:
    presence, created = AgentPresence.objects.select_for_update().get_or_create(
        user=agent, defaults={"status": PresenceStatus.ONLINE, "connections": 1}
    )
    if not created:
        # Counts left by a process that died without saying goodbye are not trusted.
        stale = presence.last_seen < presence_fresh_since()
        presence.connections = 1 if stale else F("connections") + 1
        if presence.status == PresenceStatus.OFFLINE:
            presence.status = PresenceStatus.ONLINE
        presence.save(update_fields=["connections", "status", "last_seen"])
        presence.refresh_from_db()
    return presence


@transaction.atomic
def presence_disconnect(*, agent: Any) -> AgentPresence | None:
    presence = AgentPresence.objects.select_for_update().filter(user=agent).first()
    if presence is None:
        return None
    presence.connections = Greatest(F("connections") - 1, 0)
    presence.save(update_fields=["connections", "last_seen"])
    presence.refresh_from_db()
    if presence.connections == 0 and presence.status == PresenceStatus.ONLINE:
        presence.status = PresenceStatus.OFFLINE
        presence.save(update_fields=["status", "last_seen"])
    return presence


def presence_touch(*, agent: Any) -> None:
    """A console socket's heartbeat: this agent's presence is still current."""
    AgentPresence.objects.filter(user=agent).update(last_seen=timezone.now())


@transaction.atomic
def presence_set_status(*, agent: Any, status: str) -> AgentPresence:
    """The agent's own switch between online and away."""
    if status not in (PresenceStatus.ONLINE, PresenceStatus.AWAY):
        raise ValueError(f"an agent can only be online or away, not {status!r}")
    presence, _ = AgentPresence.objects.select_for_update().get_or_create(user=agent)
    presence.status = status
    presence.save(update_fields=["status", "last_seen"])
    return presence
