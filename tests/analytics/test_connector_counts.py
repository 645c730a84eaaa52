"""Bot replies that used a data connector are counted apart, by connector (one row each,
whatever its name's length): answered, not found, failed, and resolved by the bot; and every
call a turn makes: calls, succeeded, not found, failed, mean time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import EventName, ReportingEvent
from analytics.selectors import connector_call_counts, connector_counts
from chat import services
from chat.models import Conversation, Widget
from chat.services import connector_answer, connector_calls, connector_category
from knowledge.models import Connector
from tests.chat.conftest import turn_result

pytestmark = pytest.mark.django_db

LONG = "Order status (tracking, carrier, ETA)"  # 37 characters


@pytest.mark.parametrize("trace, category", [
    ({}, ""),
    (None, ""),
    ({"connector": {"ok": False, "reason": "not_verified"}}, ""),
    ({"connector": {"connector": "Order status", "connector_id": 7, "ok": True}},
     "connector:7"),
    ({"connector": {"connector": "Order status", "connector_id": 7, "ok": False,
                    "reason": "http_404", "not_found": True}}, "connector_not_found:7"),
    ({"connector": {"connector": "Order status", "connector_id": 7, "ok": False,
                    "reason": "missing_field", "not_found": True}}, "connector_not_found:7"),
    ({"connector": {"connector": "Order status", "connector_id": 7, "ok": False,
                    "reason": "timeout"}}, "connector_failed:7"),
    ({"connector": {"connector": LONG, "connector_id": 12, "ok": False, "reason": "timeout"}},
     "connector_failed:12"),
    # a trace from before connector ids were recorded
    ({"connector": {"connector": "Order status", "ok": False, "reason": "http_404"}},
     "connector_not_found:Order status"),
    ({"connector": {"connector": "Order status", "connector_id": True, "ok": True}},
     "connector:Order status"),
    # an answer the quality check replaced was not given: a failure, not an answer
    ({"connector": {"connector": "Order status", "connector_id": 7, "ok": True},
      "quality": {"ok": False, "problems": ["ungrounded facts"]}}, "connector_failed:7"),
    ({"connector": {"connector": "Order status", "connector_id": 7, "ok": True},
      "quality": {"ok": True, "problems": []}}, "connector:7"),
])
def test_category_from_trace(trace, category):
    assert connector_category(trace) == category


def event(category: str, at=None, conversation=None) -> None:
    ReportingEvent.objects.create(name=EventName.BOT_REPLIED, occurred_at=at or timezone.now(),
                                  category=category, conversation=conversation)


def window():
    now = timezone.now()
    return {"since": now - timedelta(hours=1), "until": now + timedelta(hours=1)}


def connector(name: str) -> Connector:
    return Connector.objects.create(name=name, url_template="https://shop.example/x",
                                    reply_template="{{ x }}")


def test_a_long_name_is_one_row_answered_and_failed():
    long, recent = connector(LONG), connector("My recent orders")
    for trace in [
        {"connector": LONG, "connector_id": long.pk, "ok": True},
        {"connector": LONG, "connector_id": long.pk, "ok": False, "reason": "timeout"},
        {"connector": "My recent orders", "connector_id": recent.pk, "ok": True},
        {"connector": "My recent orders", "connector_id": recent.pk, "ok": False,
         "reason": "http_500"},
    ]:
        event(connector_category({"connector": trace}))
    counts = connector_counts(**window())
    assert counts == {
        LONG: {"answered": 1, "not_found": 0, "failed": 1, "resolved": 0},
        "My recent orders": {"answered": 1, "not_found": 0, "failed": 1, "resolved": 0},
    }


def test_not_found_is_its_own_outcome():
    orders = connector("Order status")
    for _ in range(13):
        event(f"connector:{orders.pk}")
    for _ in range(8):
        event(f"connector_not_found:{orders.pk}")
    event(f"connector_failed:{orders.pk}")
    event("connector:999")  # a deleted connector
    event("")
    event(f"connector:{orders.pk}", at=timezone.now() - timedelta(days=3))
    counts = connector_counts(**window())
    assert counts == {
        "Order status": {"answered": 13, "not_found": 8, "failed": 1, "resolved": 0},
        "Connector #999": {"answered": 1, "not_found": 0, "failed": 0, "resolved": 0},
    }


def test_old_events_by_name_join_their_connector():
    long = connector(LONG)
    event(f"connector:{long.pk}")
    event(f"connector_failed:{LONG}"[:32])  # cut to 15 characters of the name
    event(f"connector:{LONG}"[:32])
    event("connector_failed:Gone")
    counts = connector_counts(**window())
    assert counts == {
        LONG: {"answered": 2, "not_found": 0, "failed": 1, "resolved": 0},
        "Gone": {"answered": 0, "not_found": 0, "failed": 1, "resolved": 0},
    }


def test_resolved_with_a_connector_counts_conversations_the_bot_resolved():
    orders = connector("Order status")
    widget = Widget.objects.create(public_key="shop", name="Shop", allowed_origins=["self"])

    def conversation(status: str, resolution: str) -> Conversation:
        return Conversation.objects.create(widget=widget, token_hash="0" * 64, status=status,
                                           resolution=resolution)

    confirmed = conversation("resolved", "bot_confirmed")
    event(f"connector:{orders.pk}", conversation=confirmed)
    event(f"connector:{orders.pk}", conversation=confirmed)  # one conversation, twice
    event(f"connector:{orders.pk}", conversation=conversation("resolved", "bot_assumed"))
    event(f"connector:{orders.pk}", conversation=conversation("resolved", "agent"))
    event(f"connector:{orders.pk}", conversation=conversation("bot", ""))
    event(f"connector_not_found:{orders.pk}",
          conversation=conversation("resolved", "bot_confirmed"))
    counts = connector_counts(**window())
    assert counts == {
        "Order status": {"answered": 5, "not_found": 1, "failed": 0, "resolved": 2},
    }


def test_a_connector_answer_is_listed_for_feedback():
    answered = {"connector": {"connector": "Order status", "connector_id": 3, "ok": True},
                "response": {"source": "connector", "connector": "Order status"},
                "quality": {"ok": True}}
    assert connector_answer(answered) == {"connector": 3, "name": "Order status"}
    not_found = {**answered, "connector": {"connector": "Order status", "connector_id": 3,
                                           "ok": False, "not_found": True},
                 "response": {"source": "connector", "connector": "Order status",
                              "fallback": True}}
    replaced = {**answered, "quality": {"ok": False}}
    failed = {**answered, "connector": {"connector": "Order status", "connector_id": 3,
                                        "ok": False, "reason": "timeout"},
              "response": {"source": "offline", "article": 4}}
    for trace in (not_found, replaced, failed, {}, None):
        assert connector_answer(trace) is None


# --- Every call ------------------------------------------------------------------------------


def call(connector_id, *, ok=True, not_found=False, reason="", ms=100.0, name="Order status"):
    """A call as ``CallOutcome.to_trace()`` writes it."""
    return {"connector": name, "connector_id": connector_id, "ok": ok, "not_found": not_found,
            "reason": reason, "ms": ms, "status": 200 if ok else None}


@pytest.mark.parametrize("trace, expected", [
    ({}, []),
    (None, []),
    ({"connector_calls": "junk"}, []),
    ({"connector_calls": [{"ok": True}, "junk"]}, []),  # names no connector
    ({"connector_calls": [call(7, ms=12.5), call(7, ok=False, reason="http_404", ms=8),
                          call(9, ok=False, reason="timeout", ms=3000.0)]},
     [("ok:7", 12.5), ("not_found:7", 8.0), ("failed:9", 3000.0)]),
    ({"connector_calls": [call(None, ok=False, not_found=True, reason="missing_field",
                               ms=None, name=LONG)]},
     [(f"not_found:{LONG}"[:32], 0.0)]),
])
def test_calls_from_trace(trace, expected):
    assert connector_calls(trace) == expected


def test_a_turn_with_several_calls_counts_each_call_and_its_time():
    """One bot turn calls the order connector three times (three orders: one found, one not,
    one timing out) and the recent-orders connector once: four calls, not one."""
    orders, recent = connector("Order status"), connector("My recent orders")
    widget = Widget.objects.create(public_key="shop", name="Shop", allowed_origins=["self"])
    conversation = Conversation.objects.create(widget=widget, token_hash="0" * 64)
    message, _ = services.message_create_incoming(
        conversation=conversation, text="orders 55101, 55102, 55103 and my recent ones",
        client_id=None, queue_bot=False)
    calls = [call(orders.pk, ms=120.0), call(orders.pk, ok=False, not_found=True,
                                             reason="http_404", ms=80.0),
             call(orders.pk, ok=False, reason="timeout", ms=3100.0),
             call(recent.pk, ms=60.0, name="My recent orders")]
    trace = {"stages": [], "connector": {**calls[0], "orders": calls[:3]},
             "connector_calls": calls, "quality": {"ok": True}}
    services.bot_turn_record(message=message, result=turn_result(trace=trace))
    assert connector_call_counts(**window()) == {
        "Order status": {"calls": 3, "succeeded": 1, "not_found": 1, "failed": 1,
                         "mean_ms": pytest.approx((120.0 + 80.0 + 3100.0) / 3)},
        "My recent orders": {"calls": 1, "succeeded": 1, "not_found": 0, "failed": 0,
                             "mean_ms": pytest.approx(60.0)},
    }
    # The reply is still one reply, counted once among the replies.
    assert connector_counts(**window()) == {
        "Order status": {"answered": 1, "not_found": 0, "failed": 0, "resolved": 0}}
    # A handed-off turn's calls count too; the period's bounds hold.
    second, _ = services.message_create_incoming(
        conversation=conversation, text="this is wrong, I want a person", client_id=None,
        queue_bot=False)
    services.bot_turn_record(message=second, result=turn_result(
        decision="handoff", handoff_category="human_request", reply_text="A person will help.",
        trace={"stages": [], "connector_calls": [call(orders.pk, ms=40.0)]}))
    assert connector_call_counts(**window())["Order status"]["calls"] == 4
    later = {"since": timezone.now() + timedelta(hours=1),
             "until": timezone.now() + timedelta(hours=2)}
    assert connector_call_counts(**later) == {}
