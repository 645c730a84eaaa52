"""Two agents claim one conversation at the same moment on PostgreSQL: one owns it, the other
is told who does (the row lock orders the two transactions)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from chat import services
from chat.models import Conversation, ConversationStatus, Message

from .conftest import handed_over, make_user

pytestmark = pytest.mark.services


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(6))
def test_two_agents_claiming_at_once_give_one_owner(widget, round_):
    if connection.vendor != "postgresql":
        pytest.skip("the row lock is PostgreSQL's; SQLite has its own test")
    ann, bob = make_user("agents", f"ann{round_}"), make_user("agents", f"bob{round_}")
    conversation = handed_over(widget)
    assert conversation.status == ConversationStatus.WAITING
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def claim(agent) -> None:
        from django.db import connection as own

        try:
            mine = Conversation.objects.get(pk=conversation.pk)
            barrier.wait()
            services.conversation_claim(conversation=mine, agent=agent)
            outcomes[agent.username] = "ok"
        except Exception as exc:  # the loser's error is the point
            outcomes[agent.username] = str(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=claim, args=(agent,)) for agent in (ann, bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    owner = Conversation.objects.get(pk=conversation.pk).assignee.username
    assert sorted(outcomes.values()).count("ok") == 1, outcomes
    loser = next(name for name, outcome in outcomes.items() if outcome != "ok")
    assert "has already claimed this conversation" in outcomes[loser]
    assert outcomes[owner] == "ok"
    joined = Message.objects.filter(conversation=conversation, text__contains="joined")
    assert joined.count() == 1
