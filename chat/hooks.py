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
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

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


chat_event = Signal()


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
