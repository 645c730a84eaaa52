"""A customer uses the widget in a real Chromium against Daphne, Redis and a Celery worker."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chat import services
from chat.models import Conversation, Resolution
from tests.chat.widget_helpers import WidgetPage

pytestmark = [pytest.mark.services, pytest.mark.browser]


def test_customer_gets_a_bot_answer_then_a_handoff(
    daphne_server, celery_worker, demo, browser_context_factory
):
    page = browser_context_factory(viewport={"width": 1280, "height": 800}).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    expect(widget.panel.locator("[data-sd=greeting]")).not_to_be_empty()

    widget.send("where is my order A-55102?")
    widget.wait_for_messages("customer", 1)
    [answer] = widget.wait_for_messages("bot", 1).all_inner_texts()
    assert answer.strip()
    expect(widget.panel.locator("[data-sd=helpful-yes]")).to_be_visible()

    widget.send("This is outrageous, my lawyer will hear about it and I will sue you.")
    widget.wait_for_messages("system", 1)
    expect(widget.notice()).to_be_visible()
    expect(widget.panel.locator("[data-sd=typing]")).to_be_hidden()
    # Nobody is on the console in this test: the widget offers to reply by e-mail.
    expect(widget.panel.locator("[data-sd=contact-form]")).to_be_visible()
    conversation = Conversation.objects.get()
    assert conversation.status == "waiting"
    assert conversation.handoff_category == "legal"

    widget.panel.locator("[data-sd=contact-email]").fill("kim@example.com")
    widget.panel.locator("[data-sd=contact-send]").click()
    expect(widget.notice()).to_contain_text("Thanks")
    conversation.refresh_from_db()
    assert conversation.contact.email == "kim@example.com"

    # A reload shows the same conversation again.
    page.reload()
    widget.open()
    widget.wait_for_messages("customer", 2)
    widget.wait_for_messages("system", 1)

    # Resolved (as an agent would); the customer rates it.
    services.conversation_resolve(conversation=conversation, resolution=Resolution.AGENT)
    widget.rate(4, "Quick and clear")
    conversation.refresh_from_db()
    assert (conversation.rating, conversation.rating_comment) == (4, "Quick and clear")


def test_phone_sized_screen_and_keyboard(
    daphne_server, celery_worker, demo, browser_context_factory
):
    page = browser_context_factory(viewport={"width": 375, "height": 700}).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    box = page.locator("#supportdesk-chat-panel").bounding_box()
    assert box["width"] == 375 and box["height"] == 700
    field = widget.panel.locator("[data-sd=input]")
    field.fill("what is your returns policy?")
    field.press("Enter")
    widget.wait_for_messages("customer", 1)
    widget.wait_for_messages("bot", 1)
    field.press("Escape")
    expect(page.locator("[data-sd=launcher]")).to_have_attribute("aria-expanded", "false")
    expect(page.locator("[data-sd=launcher]")).to_be_focused()
