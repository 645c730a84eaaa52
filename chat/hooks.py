"""The chat's domain events, announced to the apps above it (webhooks, e-mail, the API).

Chat never imports those apps. Each fact the chat stores that another system may want to hear
of is announced through one Django signal, ``chat_event``, sent by ``chat.services`` INSIDE the
transaction that stores the fact, right after it is written. A receiver that records something
(a webhook's outbox row) writes it in that same transaction: the fact and the record commit
together or not at all. A receiver must therefore be quick, must not call the network, and
queues its own work with ``transaction.on_commit``; an exception it raises rolls the chat's
write back (the signal is sent with ``send``, not ``send_robust``).

Keyword arguments every receiver gets (besides ``sender``, always ``chat.models.Conversation``):

- ``event``: a ``HookEvent`` (``"conversation.created"``...);
- ``conversation``: the ``Conversation`` as it now is (status, assignee, rating updated);
- ``message``: the ``Message`` of a ``message.created`` event, else None;
- ``at``: when the fact happened (aware datetime; a backdated write's own time).

A receiver may say which events it will act on (``chat_event.connect(receiver, wants=...)``,
a function of the ``HookEvent`` answering quickly, e.g. from a cached subscription list).
``hook_wanted`` asks them: when no receiver wants an event, the chat may store the fact
without opening a transaction for the receivers, and then does not announce it (the incoming
message's one statement on PostgreSQL); elsewhere it is announced anyway, so a receiver still
ignores what it does not want. A receiver connected without ``wants`` wants every event.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.dispatch import Signal

from .models import Conversation, Message


class HookEvent(StrEnum):
    """The events the chat announces; the values are the names webhooks carry."""

    CONVERSATION_CREATED = "conversation.created"
    MESSAGE_CREATED = "message.created"
    CONVERSATION_HANDOFF = "conversation.handoff"
    CONVERSATION_ASSIGNED = "conversation.assigned"
    CONVERSATION_RESOLVED = "conversation.resolved"
    RATING_CREATED = "rating.created"


class ChatEventSignal(Signal):
    """A ``Signal`` whose receivers may say which events they act on (``wants``)."""

    def __init__(self) -> None:
        super().__init__()
        # Keyed by the dispatch uid, else by the receiver's id (no reference that would keep a
        # weakly connected receiver alive; a stale entry only makes ``wanted`` say True).
        self._wants: dict[Hashable, Callable[[HookEvent], bool] | None] = {}

    def connect(
        self,
        receiver: Callable[..., Any],
        sender: Any = None,
        weak: bool = True,
        dispatch_uid: Hashable | None = None,
        wants: Callable[[HookEvent], bool] | None = None,
    ) -> None:
        """``Signal.connect``, and ``wants(event) -> bool`` for ``hook_wanted`` (None: every
        event)."""
        super().connect(receiver, sender=sender, weak=weak, dispatch_uid=dispatch_uid)
        self._wants[dispatch_uid if dispatch_uid is not None else id(receiver)] = wants

    def disconnect(
        self,
        receiver: Callable[..., Any] | None = None,
        sender: Any = None,
        dispatch_uid: Hashable | None = None,
    ) -> bool:
        """``Signal.disconnect``; the receiver's ``wants`` goes with it."""
        self._wants.pop(dispatch_uid if dispatch_uid is not None else id(receiver), None)
        return super().disconnect(receiver, sender=sender, dispatch_uid=dispatch_uid)

    def wanted(self, event: HookEvent) -> bool:
        """Whether any connected receiver may act on ``event``. A ``wants`` that raises
        counts as wanting it."""
        if not self.has_listeners(Conversation):
            return False
        for wants in list(self._wants.values()):
            if wants is None:
                return True
            try:
                if wants(event):
                    return True
            except Exception:  # unsure: the transaction is the safe side
                return True
        return False


chat_event = ChatEventSignal()


def hook_wanted(event: HookEvent) -> bool:
    """Whether announcing ``event`` may write something (some receiver wants it). False lets
    the caller store a fact in one autocommitted statement; it must still call ``hook_send``
    inside a transaction whenever this is True."""
    return chat_event.wanted(event)


def hook_send(
    event: HookEvent, *, conversation: Conversation, at: datetime, message: Message | None = None
) -> None:
    """Announces ``event`` to every receiver of ``chat_event``, in the caller's transaction.

    Called by ``chat.services`` only, where the fact is stored. Raises whatever a receiver
    raises (the caller's transaction then rolls back).
    """
    chat_event.send(
        sender=Conversation, event=event, conversation=conversation, message=message, at=at
    )
