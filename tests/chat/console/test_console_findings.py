"""The console's article picker, canned variables, transcript Markdown and list hook, checked
against the demo knowledge base and conversations built through the chat services."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from chat import services
from chat.console import selectors
from chat.console.forms import CannedResponseForm
from chat.models import Author, CannedResponse, Contact, Conversation, Message

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


def test_with_nothing_typed_the_customer_s_words_choose_among_the_conversation_s_intents(
    demo, widget
):
    # the field says general_inquiry (many articles); the bot's trace said order_status
    conversation, (message,) = start_conversation(widget, "where is my order 55102")
    services.bot_turn_record(message=message, result=bot_turn())  # intent order_status
    Conversation.objects.filter(pk=conversation.pk).update(intent="general_inquiry")
    conversation.refresh_from_db()
    assert titles(conversation, "")[0] == "How to track your order"


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


# --- 3. Transcript: bot and system Markdown as the widget shows it; people's text as text ----

BOT_MARKDOWN = (
    "Your order **ships** in 2 days.\n\n* step one\n* step two\n\n"
    "[Read the whole article](/help/articles/20-tracking/)\n\n"
    "<script>alert(1)</script><img src=x onerror=alert(2)> [bad](javascript:alert(3))"
)


def test_bot_and_system_messages_show_as_sanitised_html_and_people_s_text_as_text(
    client, agent, widget
):
    conversation, (message,) = start_conversation(
        widget, "**where** <b>is</b> [my](/order) <script>alert(4)</script>"
    )
    services.bot_turn_record(message=message, result=bot_turn(reply_text=BOT_MARKDOWN))
    services.agent_message_create(
        conversation=conversation, agent=agent, text="See [this](/x) and **that** <i>now</i>"
    )
    last = Message.objects.filter(conversation=conversation).order_by("-seq").first()
    Message.objects.create(
        conversation=conversation, seq=last.seq + 1, author=Author.SYSTEM,
        text="The customer rated **5/5**: [details](/help/articles/3-rated/)",
    )
    client.force_login(agent)
    page = client.get(
        reverse("chat:console-conversation", args=[conversation.pk])
    ).content.decode()
    turns = {
        author: page.split(f'data-author="{author}"')[-1].split("data-author=")[0]
        .split("</ol>")[0]
        for author in ("customer", "bot", "agent", "system")
    }
    bot = turns["bot"]
    assert re.search(r'<a [^>]*href="/help/articles/20-tracking/"[^>]*>Read the whole article</a>',
                     bot)
    assert "<strong>ships</strong>" in bot and "<li>step one</li>" in bot
    assert "](/help" not in bot and "**" not in bot
    for unsafe in ("<script", "<img", 'href="javascript'):
        assert unsafe not in bot, unsafe
    assert not re.search(r"<[^>]*\son\w+=", bot)  # no event handler in any tag
    assert "<strong>5/5</strong>" in turns["system"]
    assert re.search(r'<a [^>]*href="/help/articles/3-rated/"[^>]*>details</a>', turns["system"])
    customer = turns["customer"]
    assert "**where** &lt;b&gt;is&lt;/b&gt; [my](/order) &lt;script&gt;" in customer
    assert "<a " not in customer and "<strong>" not in customer
    agent_turn = turns["agent"]
    assert "See [this](/x) and **that** &lt;i&gt;now&lt;/i&gt;" in agent_turn
    assert "<a " not in agent_turn


# --- 4. The conversation list's hook is there whether or not the tab has rows -----------------


def test_the_conversation_list_hook_holds_the_rows_or_the_empty_line_on_every_tab(
    client, agent, widget
):
    client.force_login(agent)
    for tab in ("waiting", "mine", "open", "resolved"):
        page = client.get(reverse("chat:console"), {"tab": tab}).content.decode()
        assert page.count('data-sd="conversation-list"') == 1, tab
        inside = page.split('data-sd="conversation-list"')[1]
        assert 'data-count="0"' in inside.split(">")[0]
        assert 'data-sd="queue-empty"' in inside.split("</section>")[0], tab
    conversation = handed_over(widget)
    page = client.get(reverse("chat:console"), {"tab": "waiting"}).content.decode()
    inside = page.split('data-sd="conversation-list"')[1]
    assert 'data-count="1"' in inside.split(">")[0]
    assert f'data-conversation-id="{conversation.pk}"' in inside.split("</section>")[0]
    assert 'data-sd="queue-empty"' not in page
    partial = client.get(reverse("chat:console"), {"tab": "mine"}, **HX).content.decode()
    assert 'data-sd="conversation-list"' in partial and 'data-sd="queue-empty"' in partial
