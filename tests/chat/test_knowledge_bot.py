"""chat gives knowledge its bot (``knowledge.bot``) and reloads on ``taxonomy_changed``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from chat.bot.taxonomy import REVISION_KEY
from chat.knowledge_bot import ChatBot
from chat.models import Author, Conversation, Message, Widget
from knowledge import services
from knowledge.bot import bot_registered
from knowledge.models import SignalCategory


def test_chat_registers_its_bot_with_knowledge_at_start_up():
    assert isinstance(bot_registered(), ChatBot)


@pytest.mark.django_db
def test_a_committed_knowledge_change_reloads_the_bot(django_capture_on_commit_callbacks):
    cache.set(REVISION_KEY, 7, timeout=None)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.signal_create(actor=None, phrase="small claims court", category="legal")
    assert cache.get(REVISION_KEY) == 7  # not before the commit
    for callback in callbacks:
        callback()
    assert cache.get(REVISION_KEY) == 8


@pytest.mark.django_db
def test_signal_matches_are_the_pipelines_words_in_context_on_customer_messages_only():
    widget = Widget.objects.create(public_key="w1", name="Shop")
    conversation = Conversation.objects.create(widget=widget)
    texts = [
        (Author.CUSTOMER, "I will call my lawyer about this"),
        (Author.CUSTOMER, "is this chair good for lawyers offices?"),
        (Author.CUSTOMER, "I don't need a lawyer, just a refund"),
        (Author.AGENT, "no need for a lawyer, I will fix it"),
        (Author.CUSTOMER, "my order is late"),
    ]
    for seq, (author, text) in enumerate(texts, start=1):
        Message.objects.create(conversation=conversation, seq=seq, author=author, text=text)
    since = timezone.now() - timedelta(days=1)
    scanned, matches = ChatBot().customer_messages_matching(
        phrase="lawyer", category=SignalCategory.LEGAL, since=since, scan=100
    )
    assert scanned == 4  # the customer's messages of the period
    assert [m.text for m in matches] == ["I will call my lawyer about this"]
    assert ChatBot().customer_messages_matching(
        phrase="lawyer", category="legal", since=timezone.now() + timedelta(days=1), scan=100
    ) == (0, [])
