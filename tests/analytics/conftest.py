"""Builders for exact conversation histories: the rows and reporting events the chat services
write (conversation, messages, bot traces, events), with every moment given explicitly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User

from accounts.roles import ADMINS, AGENTS, MANAGERS, ensure_role_groups
from analytics.events import event_record
from chat.models import Author, BotTrace, Conversation, Message, Widget

PASSWORD = "analytics-test-pass"


def at(day: str, hh: int = 10, mm: int = 0, ss: float = 0) -> datetime:
    base = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return base + timedelta(hours=hh, minutes=mm, seconds=ss)


class History:
    """One conversation's life, written as the services would write it."""

    def __init__(self, widget: Widget, start: datetime) -> None:
        self.start = start
        self.conversation = Conversation.objects.create(
            widget=widget, token_hash="0" * 64, created_at=start
        )
        event_record(name="conversation_started", conversation=self.conversation, at=start)
        self.last_customer: Message | None = None

    def _message(self, author: str, text: str, when: datetime, **extra) -> Message:
        conv = self.conversation
        conv.last_seq += 1
        conv.save(update_fields=["last_seq"])
        return Message.objects.create(
            conversation=conv,
            seq=conv.last_seq,
            author=author,
            text=text,
            created_at=when,
            **extra,
        )

    def _set_intent(self, intent: str) -> None:
        self.conversation.intent = intent
        self.conversation.save(update_fields=["intent"])

    def customer(self, seconds: float, text: str = "hello") -> Message:
        self.last_customer = self._message(
            Author.CUSTOMER, text, self.start + timedelta(seconds=seconds)
        )
        return self.last_customer

    def bot_reply(
        self, latency_ms: float, intent: str, *, confidence: float = 0.9, fallback: bool = False
    ) -> Message:
        inbound = self.last_customer
        when = inbound.created_at + timedelta(milliseconds=latency_ms)
        reply = self._message(Author.BOT, "an answer", when, in_reply_to=inbound)
        BotTrace.objects.create(
            message=inbound,
            conversation=self.conversation,
            intent=intent,
            confidence=confidence,
            decision="reply",
            created_at=when,
        )
        self._set_intent(intent)
        if fallback:
            event_record(
                name="fallback",
                conversation=self.conversation,
                at=when,
                intent=intent,
                value=confidence,
            )
        event_record(
            name="bot_replied",
            conversation=self.conversation,
            at=when,
            intent=intent,
            backend="offline",
            value=latency_ms,
        )
        return reply

    def handoff(self, seconds: float, intent: str, category: str) -> None:
        inbound = self.last_customer
        when = self.start + timedelta(seconds=seconds)
        self._message(Author.SYSTEM, "Connecting you with a person.", when, in_reply_to=inbound)
        BotTrace.objects.create(
            message=inbound,
            conversation=self.conversation,
            intent=intent,
            confidence=0.8,
            decision="handoff",
            handoff_reason=category,
            created_at=when,
        )
        self._set_intent(intent)
        self.conversation.handoff_category = category
        self.conversation.save(update_fields=["handoff_category"])
        self.handed_off_at = when
        event_record(
            name="handoff",
            conversation=self.conversation,
            at=when,
            intent=intent,
            category=category,
        )

    def agent_reply(self, seconds: float, agent: User, *, first: bool) -> None:
        when = self.start + timedelta(seconds=seconds)
        self._message(Author.AGENT, "an agent answer", when, sender=agent)
        if first:
            event_record(
                name="first_agent_reply",
                conversation=self.conversation,
                at=when,
                intent=self.conversation.intent,
                agent=agent,
                value=(when - self.handed_off_at).total_seconds(),
            )
        event_record(name="agent_replied", conversation=self.conversation, at=when, agent=agent)

    def resolve(self, seconds: float, how: str, agent: User | None = None) -> None:
        when = self.start + timedelta(seconds=seconds)
        self.resolution = how
        event_record(
            name="resolved",
            conversation=self.conversation,
            at=when,
            intent=self.conversation.intent,
            category=how,
            value=seconds,
            agent=agent,
        )

    def reopen(self, seconds: float) -> None:
        event_record(
            name="reopened",
            conversation=self.conversation,
            at=self.start + timedelta(seconds=seconds),
            category=self.resolution,
        )

    def abandon(self, seconds: float, status: str = "bot") -> None:
        event_record(
            name="abandoned",
            conversation=self.conversation,
            at=self.start + timedelta(seconds=seconds),
            category=status,
        )

    def rate(self, seconds: float, score: int) -> None:
        event_record(
            name="rating_given",
            conversation=self.conversation,
            at=self.start + timedelta(seconds=seconds),
            value=score,
        )


@pytest.fixture(autouse=True)
def report_cache(monkeypatch):
    """Each test gets its own empty cache for report sources.

    (Never ``cache.clear()`` here: with Redis that flushes the database the Celery broker and
    the channel layer of other tests share.)
    """
    from django.core.cache.backends.locmem import LocMemCache

    from analytics import kpis

    fresh = LocMemCache("analytics-tests", {})
    monkeypatch.setattr(kpis, "cache", fresh)
    yield fresh
    fresh.clear()


@pytest.fixture
def widget(db) -> Widget:
    return Widget.objects.create(public_key="shop", name="Shop", allowed_origins=["self"])


@pytest.fixture
def other_widget(db) -> Widget:
    return Widget.objects.create(public_key="help", name="Help centre", allowed_origins=["self"])


@pytest.fixture
def history(widget):
    def make(start: datetime, on: Widget | None = None) -> History:
        return History(on or widget, start)

    return make


def _user(username: str, role: str | None) -> User:
    ensure_role_groups()
    user = User.objects.create_user(username=username, password=PASSWORD)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def agent_user(db) -> User:
    return _user("agent1", AGENTS)


@pytest.fixture
def manager_client(client, db):
    client.force_login(_user("manager1", MANAGERS))
    return client


@pytest.fixture
def admin_client_role(db):
    from django.test import Client

    client = Client()  # its own session: a test may also use manager_client
    client.force_login(_user("admin1", ADMINS))
    return client


@pytest.fixture
def agent_client(client, agent_user):
    client.force_login(agent_user)
    return client


@pytest.fixture(autouse=True)
def _fresh_taxonomy_snapshot() -> None:
    """Each test reads its own taxonomy: the process keeps a snapshot for a second, and the
    previous test's rolled-back intents would otherwise answer the gap grouping's guesses."""
    from chat.bot import taxonomy_invalidate

    taxonomy_invalidate()
