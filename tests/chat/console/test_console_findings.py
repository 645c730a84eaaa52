"""The console's article picker, canned variables, transcript Markdown and list hook, checked
against the demo knowledge base and conversations built through the chat services."""

from __future__ import annotations

import pytest

from chat.console import selectors
from chat.models import Conversation

from .conftest import start_conversation

HX = {"HTTP_HX_REQUEST": "true"}


def titles(conversation, query: str) -> list[str]:
    return [
        a["title"]
        for a in selectors.article_suggestions_for_agent(query=query, conversation=conversation)
    ]


def with_intent(widget, intent: str, *texts: str, state: dict | None = None):
    conversation, _ = start_conversation(widget, *(texts or ("hello",)))
    Conversation.objects.filter(pk=conversation.pk).update(
        intent=intent, dialog_state=state or {}
    )
    conversation.refresh_from_db()
    return conversation


# --- 1. Article insertion: typed words rank, the conversation suggests -----------------------


@pytest.mark.parametrize(("intent", "query", "expected"), [
    ("general_inquiry", "refund", "Refund timelines and tracking your refund"),
    ("cancellation", "refund", "Refund timelines and tracking your refund"),
    ("shipping_issue", "forgot password", "Resetting a forgotten password"),
    ("order_status", "invoice", "Finding and downloading invoices"),
    ("product_question", "customs", "International shipping and customs"),
    ("general_inquiry", "track my order", "How to track your order"),
])
def test_typed_words_rank_the_articles_not_the_conversations_intent(
    demo, widget, intent, query, expected
):
    conversation = with_intent(widget, intent, "hello there")
    found = titles(conversation, query)
    assert found and found[0] == expected, found


def test_the_intent_only_breaks_near_ties_among_matching_articles(demo, widget):
    refund = titles(with_intent(widget, "general_inquiry"), "refund")
    # an article the words do not match is not listed for the intent's sake
    assert "Store locations and opening hours" not in refund
    assert "Contact us: phone, e-mail and support hours" not in refund
    plain = titles(None, "refund")
    assert plain[0] == refund[0]


@pytest.mark.parametrize(("intent", "texts", "expected"), [
    ("order_status", ("hi", "it's 55102", "can I talk to a person please"),
     {"How to track your order", "Order statuses explained"}),
    ("account_access", ("hello", "still stuck, get me someone"),
     {"Resetting a forgotten password", "Two-step verification and locked accounts",
      "Problems signing up or registering", "Acme app: sign-in errors and crashes",
      "Closing or deleting your Acme account"}),
])
def test_with_nothing_typed_the_conversations_intent_suggests(demo, widget, intent, texts,
                                                                 expected):
    conversation = with_intent(widget, intent, *texts)
    found = titles(conversation, "")
    assert set(found[: len(expected)]) == expected, found


def test_with_nothing_typed_the_last_intent_of_the_dialog_counts_too(demo, widget):
    # the field holds the handoff's intent; the dialog remembers what the customer wanted
    conversation = with_intent(
        widget, "", "where is my parcel", state={"last_intent": "order_status"}
    )
    assert titles(conversation, "")[0] in {"How to track your order", "Order statuses explained"}
