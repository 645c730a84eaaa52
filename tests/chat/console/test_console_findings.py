"""The console's article picker, canned variables, transcript Markdown and list hook, checked
against the demo knowledge base and conversations built through the chat services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat import services
from chat.console import selectors
from chat.console.forms import CannedResponseForm
from chat.models import CannedResponse, Contact, Conversation

from .conftest import bot_turn, handed_over, start_conversation

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


# --- 2. Canned variables ----------------------------------------------------------------------


def test_the_order_number_the_bot_kept_fills_the_canned_variable(widget, agent):
    conversation = handed_over(widget)
    for state, expected in [
        ({"details": {"order_number": "55102"}}, "55102"),
        ({"details": {"order_number": 77001, "email": "a@b.example"}}, "77001"),
        ({"details": {"email": "a@b.example"}, "entities": {"order_number": ["A-9"]}}, "A-9"),
        ({"details": "broken"}, ""),
        ({}, ""),
    ]:
        Conversation.objects.filter(pk=conversation.pk).update(dialog_state=state)
        conversation.refresh_from_db()
        values = selectors.canned_variables(conversation=conversation, agent=agent)
        assert values["conversation.order_number"] == expected, state


def test_a_bot_turn_s_order_number_reaches_the_canned_picker(client, widget, agent):
    conversation, (message,) = start_conversation(widget, "where is order 55102")
    services.bot_turn_record(
        message=message,
        result=bot_turn(dialog_state={"details": {"order_number": "55102"}}, entities={}),
    )
    CannedResponse.objects.create(
        shortcut="ord", title="Order", text="Order {{ conversation.order_number }} ships."
    )
    client.force_login(agent)
    body = client.get(
        reverse("chat:console-canned"), {"q": "ord", "conversation": conversation.pk}, **HX
    ).content.decode()
    assert "Order 55102 ships." in body


@pytest.mark.parametrize(("text", "values", "expected"), [
    ("Hi {{ contact.name }}, I'm Ann.", {"contact.name": "there"}, "Hi there, I'm Ann."),
    ("Order {{ conversation.order_number }}.", {"conversation.order_number": ""}, "Order."),
    ("Order {{ conversation.order_number }}, sorry", {"conversation.order_number": ""},
     "Order, sorry"),
    ("About {{ conversation.order_number }} here", {"conversation.order_number": ""},
     "About here"),
    ("Mail {{contact.email}}\nBye", {"contact.email": ""}, "Mail\nBye"),
    ("Mail {{ contact.email }}!", {"contact.email": "e@x.example"}, "Mail e@x.example!"),
    ("Keep {{ contact.nmae }} and {{ name }}", {"contact.name": "Eve"},
     "Keep {{ contact.nmae }} and {{ name }}"),
])
def test_canned_render_leaves_no_stray_space_and_keeps_unknown_variables(text, values, expected):
    assert selectors.canned_render(text, values) == expected


def test_an_unnamed_contact_is_greeted_as_there(widget, agent):
    conversation = handed_over(widget)
    for name in ("", "   "):
        conversation.contact = Contact.objects.create(widget=widget, name=name)
        conversation.save(update_fields=["contact"])
        values = selectors.canned_variables(conversation=conversation, agent=agent)
        assert selectors.canned_render("Hi {{ contact.name }}, hello", values) == "Hi there, hello"
    assert selectors.canned_variables(conversation=None, agent=agent)["contact.name"] == "there"


def test_a_canned_text_with_an_unknown_variable_is_refused(db):
    good = CannedResponseForm({"shortcut": "a", "title": "A", "text": "Hi {{ contact.name }}"})
    assert good.is_valid()
    for text in ("Hi {{ contact.nmae }}", "{{ name }}", "{{ secret.key }} x"):
        form = CannedResponseForm({"shortcut": "a", "title": "A", "text": text})
        assert not form.is_valid() and "Unknown variable" in form.errors["text"][0]
