"""Writes that belong to the console alone: an agent's presence, private notes, labels on a
conversation and an agent's display name.

Presence counts console sockets (several tabs, several processes), so it lives in the
database, not in a process: connect adds one, disconnect takes one away, and the agent's own
choice (online or away) is kept across reconnects.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.roles import ADMINS, AGENTS, has_role
from chat import realtime
from chat.models import (
    AgentPresence,
    AgentProfile,
    CannedResponse,
    Conversation,
    Label,
    Note,
    NoteKind,
    PresenceStatus,
)
from chat.names import agent_public_name, initials_of
from chat.selectors import presence_fresh_since


def _counts_as_online(presence: AgentPresence | None) -> bool:
    """Whether ``presence`` is one of ``chat.selectors.agents_online_count``'s agents."""
    return (
        presence is not None
        and presence.status == PresenceStatus.ONLINE
        and presence.connections > 0
        and presence.last_seen >= presence_fresh_since()
    )


def _announce_if_changed(before: bool, presence: AgentPresence | None) -> None:
    """An agent who came online or left: every customer's widget hears the new count of agents
    online once the transaction commits (``realtime.broadcast_availability``)."""
    if before != _counts_as_online(presence):
        transaction.on_commit(realtime.broadcast_availability)


@transaction.atomic
def presence_connect(*, agent: Any) -> AgentPresence:
    presence, created = AgentPresence.objects.select_for_update().get_or_create(
        user=agent, defaults={"status": PresenceStatus.ONLINE, "connections": 1}
    )
    before = not created and _counts_as_online(presence)
    if not created:
        # Counts left by a process that died without saying goodbye are not trusted.
        stale = presence.last_seen < presence_fresh_since()
        presence.connections = 1 if stale else F("connections") + 1
        if presence.status == PresenceStatus.OFFLINE:
            presence.status = PresenceStatus.ONLINE
        presence.save(update_fields=["connections", "status", "last_seen"])
        presence.refresh_from_db()
    _announce_if_changed(before, presence)
    return presence


@transaction.atomic
def presence_disconnect(*, agent: Any) -> AgentPresence | None:
    presence = AgentPresence.objects.select_for_update().filter(user=agent).first()
    if presence is None:
        return None
    before = _counts_as_online(presence)
    presence.connections = Greatest(F("connections") - 1, 0)
    presence.save(update_fields=["connections", "last_seen"])
    presence.refresh_from_db()
    if presence.connections == 0 and presence.status == PresenceStatus.ONLINE:
        presence.status = PresenceStatus.OFFLINE
        presence.save(update_fields=["status", "last_seen"])
    _announce_if_changed(before, presence)
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
    before = _counts_as_online(presence)
    presence.status = status
    presence.save(update_fields=["status", "last_seen"])
    _announce_if_changed(before, presence)
    return presence


# --- The workspace: private notes, labels, display names, canned responses --------------------

MENTION = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")


def mentioned_agents(text: str) -> list[Any]:
    """The active agents ``@name`` mentions in ``text``, by user name or by display name
    without spaces (``@maya`` for "Maya"), case-insensitive; each once. One query."""
    names = {name.lower().rstrip(".") for name in MENTION.findall(text)}
    if not names:
        return []
    agents = (
        get_user_model()
        .objects.filter(groups__name=AGENTS, is_active=True)
        .select_related("agent_profile")
    )
    found = []
    for user in agents:
        display = agent_public_name(user).replace(" ", "").lower()
        if user.get_username().lower() in names or (
            user_has_profile(user) and display in names
        ):
            found.append(user)
    return found


def user_has_profile(user: Any) -> bool:
    try:
        return user.agent_profile is not None
    except AgentProfile.DoesNotExist:
        return False


@transaction.atomic
def note_create(*, conversation: Conversation, agent: Any, text: str) -> Note:
    """A private note: stored apart from the messages, sent only to agents' consoles that
    have the conversation open (``realtime.console_conversation_group``), never to the
    customer; each agent it ``@mentions`` is notified on their console.

    Raises ``ValueError`` for an empty note or one over 4,000 characters.
    """
    text = (text or "").strip()
    if not text:
        raise ValueError("Write a note first.")
    if len(text) > 4000:
        raise ValueError("A note is at most 4,000 characters.")
    note = Note.objects.create(
        conversation=conversation, kind=NoteKind.NOTE, author=agent, text=text
    )
    mentioned = [user for user in mentioned_agents(text) if user.pk != agent.pk]
    if mentioned:
        note.mentions.set(mentioned)
    transaction.on_commit(
        partial(realtime.broadcast_note, note, notify_user_ids=[u.pk for u in mentioned])
    )
    return note


@transaction.atomic
def conversation_labels_set(*, conversation: Conversation, label_ids: list[int]) -> list[Label]:
    """The conversation's labels become exactly ``label_ids`` (admin-defined labels only).

    Raises ``ValueError`` naming an id that is no label; nothing changes then."""
    wanted = set(label_ids)
    labels = list(Label.objects.filter(pk__in=wanted))
    missing = wanted - {label.pk for label in labels}
    if missing:
        raise ValueError(f"No such label: {', '.join(str(pk) for pk in sorted(missing))}.")
    conversation.labels.set(labels)
    transaction.on_commit(partial(realtime.broadcast_conversation_changed, conversation, "labels"))
    return labels


def agent_profile_set(*, agent: Any, display_name: str, initials: str = "") -> AgentProfile:
    """The agent's display name (what customers read) and avatar initials (derived from the
    name when left empty). Raises ``ValueError`` for an empty name, bad initials, a name that
    is any user's user name, the agent's own included (customers would read a login name),
    or one another agent already shows customers (they could not tell the two apart); both
    compared ignoring case, after repeated spaces are made one."""
    name = " ".join((display_name or "").split())
    if not name:
        raise ValueError("Give a display name: customers see it on your replies.")
    if len(name) > 60:
        raise ValueError("A display name is at most 60 characters.")
    user_model = get_user_model()
    if user_model.objects.filter(**{f"{user_model.USERNAME_FIELD}__iexact": name}).exists():
        raise ValueError(
            "That is a user name (a login), which customers must never see: choose a "
            "different display name."
        )
    if AgentProfile.objects.filter(display_name__iexact=name).exclude(user=agent).exists():
        raise ValueError(
            "Another agent already shows customers this name: choose one they can tell apart."
        )
    initials = "".join((initials or "").split()).upper() or initials_of(name)
    if len(initials) > 3 or not all(ch.isalnum() for ch in initials):
        raise ValueError("Initials are one to three letters or digits.")
    profile, _ = AgentProfile.objects.update_or_create(
        user=agent, defaults={"display_name": name, "initials": initials}
    )
    return profile


def can_manage_shared_canned(user: Any) -> bool:
    """Whether ``user`` may add, change and delete shared canned responses: admins (the
    ``admins`` group) and superusers."""
    return bool(getattr(user, "is_superuser", False)) or has_role(user, (ADMINS,))


def can_manage_canned(user: Any, response: CannedResponse) -> bool:
    """Whether ``user`` may change or delete ``response``: their own personal one, or a
    shared one when they are an admin."""
    if response.is_shared:
        return can_manage_shared_canned(user)
    return response.owner_id == user.pk


@transaction.atomic
def canned_save(
    *, agent: Any, shortcut: str, title: str, text: str, shared: bool = False
) -> CannedResponse:
    """Adds a canned response, or replaces the one with this shortcut: ``agent``'s personal
    one, or with ``shared`` the team's (admins only).

    Raises ``PermissionDenied`` when a non-admin asks for a shared one, ``ValueError`` for an
    empty title or text; nothing changes then."""
    if not title.strip() or not text.strip():
        raise ValueError("A canned response needs a title and a text.")
    if shared and not can_manage_shared_canned(agent):
        raise PermissionDenied("Only admins add or change shared canned responses.")
    response, _ = CannedResponse.objects.update_or_create(
        shortcut=shortcut.lower(),
        owner=None if shared else agent,
        defaults={"title": title.strip(), "text": text.strip(), "created_by": agent},
    )
    return response


@transaction.atomic
def canned_delete(*, agent: Any, pk: int) -> bool:
    """Removes the canned response ``pk`` if ``agent`` may (``can_manage_canned``); False when
    there is none with this id that ``agent`` can see. Raises ``PermissionDenied`` for a shared
    one and an agent who is no admin; nothing changes then."""
    response = (
        CannedResponse.objects.select_for_update()
        .filter(pk=pk)
        .filter(Q(owner__isnull=True) | Q(owner=agent))
        .first()
    )
    if response is None:
        return False
    if not can_manage_canned(agent, response):
        raise PermissionDenied("Only admins delete shared canned responses.")
    response.delete()
    return True
