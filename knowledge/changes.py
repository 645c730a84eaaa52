"""The one notice knowledge sends to the apps above it: ``taxonomy_changed``.

Knowledge does not know who reads its taxonomy. ``chat`` connects the bot's reload to this
signal (``chat.apps.ChatConfig.ready``), so that knowledge never imports chat.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

# Sent once the transaction that changed what the bot reads (intents, training phrases,
# escalation signals, articles, the active classifier) has committed. No arguments.
taxonomy_changed = Signal()


def taxonomy_changed_on_commit() -> None:
    """Send ``taxonomy_changed`` after the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: taxonomy_changed.send(sender=taxonomy_changed))
