"""End to end in Chromium: a customer on the demo store and an agent on the console.

Real Daphne, Redis and Celery worker (the bot runs in the worker); two browser contexts, so
the customer and the agent are separate sessions, as they would be on separate machines.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chat.models import Author, Conversation, ConversationStatus, Message, Resolution
from tests.chat.widget_helpers import REPLY_TIMEOUT_MS, WidgetPage

pytestmark = [pytest.mark.services, pytest.mark.browser]


def settled(page) -> None:
    """Waits until htmx has wired up swapped-in content (it does so in its settle step)."""
    expect(page.locator(".htmx-added")).to_have_count(0)


def close_console(page, agent) -> None:
    """Closes the console and waits until Daphne has counted its socket out.

    Otherwise the disconnect's presence update races the test database's flush.
    """
    import time

    from chat.models import AgentPresence

    page.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not AgentPresence.objects.filter(user=agent, connections__gt=0).exists():
            return
        time.sleep(0.05)
    raise AssertionError("the console socket was not counted out")


def test_customer_and_agent_end_to_end(
    daphne_server, celery_worker, demo, browser_context_factory, browser_login
):
    # The agent opens the console first: the queue is live over its WebSocket.
    console = browser_context_factory(viewport={"width": 1280, "height": 900}).new_page()
    browser_login(console, daphne_server, "agent")
    console.goto(f"{daphne_server}/console/")
    expect(console.locator("[data-sd=live-status]")).to_have_text("Live")
    expect(console.locator("[data-sd=queue-empty]")).to_be_visible()
    expect(console).to_have_title("Console · SupportDesk")

    customer_page = browser_context_factory(viewport={"width": 1280, "height": 800}).new_page()
    widget = WidgetPage(customer_page, daphne_server).goto_store().open()
    widget.send("where is my order A-55102?")
    [answer] = widget.wait_for_messages("bot", 1).all_inner_texts()
    assert answer.strip()

    widget.send("This is outrageous, my lawyer will hear about it and I will sue you.")
    widget.wait_for_messages("system", 1)
    conversation = Conversation.objects.get()
    assert conversation.status == ConversationStatus.WAITING

    # It appears in the agent's queue without a reload, with its reason.
    item = console.locator(f"[data-sd=queue-item][data-conversation-id='{conversation.pk}']")
    expect(item).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    expect(item).to_contain_text(conversation.handoff_reason[:30])
    expect(console).to_have_title("(1) Console · SupportDesk")  # one customer waiting
    item.locator("a").click()
    settled(console)
    transcript = console.locator("[data-sd=transcript]")
    expect(transcript.locator("[data-sd=message][data-author=bot]")).to_have_count(1)
    expect(transcript.locator("[data-sd=trace]").first).to_be_attached()

    console.locator("[data-sd=claim]").click()
    expect(console.locator("[data-sd=conversation-status]")).to_have_text("With an agent")
    expect(console).to_have_title("Console · SupportDesk", timeout=REPLY_TIMEOUT_MS)
    settled(console)
    # The customer sees that someone joined.
    widget.wait_for_messages("system", 2)

    box = console.locator("[data-sd=reply-text]")
    box.fill("Hello, I am Ann from customer care. I am sorry about this; let me look.")
    box.press("Enter")
    expect(transcript.locator("[data-sd=message][data-author=agent]")).to_have_count(1)
    [reply] = widget.wait_for_messages("agent", 1).all_inner_texts()
    assert "Ann from customer care" in reply

    # The customer writes back; the agent sees it live.
    widget.send("Thank you, that is kind.")
    expect(transcript.locator("[data-sd=message][data-author=customer]")).to_have_count(
        3, timeout=REPLY_TIMEOUT_MS
    )

    console.locator("[data-sd=resolve]").click()
    expect(console.locator("[data-sd=conversation-status]")).to_have_text("Resolved")
    expect(item).to_have_count(0, timeout=REPLY_TIMEOUT_MS)
    # The rating form takes room from the transcript, whose last message stays in view.
    expect(widget.panel.locator("[data-sd=rating-form]")).to_be_visible()
    expect(widget.messages("customer").last).to_be_in_viewport()

    widget.rate(5, "Ann was great")
    conversation.refresh_from_db()
    assert conversation.resolution == Resolution.AGENT
    assert (conversation.rating, conversation.rating_comment) == (5, "Ann was great")
    agent_messages = Message.objects.filter(conversation=conversation, author=Author.AGENT)
    assert agent_messages.get().sender.username == "agent"
    close_console(console, agent_messages.get().sender)


def test_agent_console_works_live_without_the_bot(
    daphne_server, browser_context_factory, browser_login, widget
):
    """The agent's half alone (handoffs made through the services): queue, trace, claim,
    Enter to send, article insertion, presence, return to bot."""
    from django.contrib.auth.models import Group

    from accounts.roles import AGENTS
    from chat import services
    from chat.models import AgentPresence, PresenceStatus
    from knowledge.models import Article, ArticleStatus
    from tests.conftest import DEMO_PASSWORD

    from .conftest import handed_over

    agent = Group.objects.get_or_create(name=AGENTS)[0].user_set.create(username="ann")
    agent.set_password(DEMO_PASSWORD)
    agent.save()
    Article.objects.create(
        title="Refunds for late parcels",
        body="We refund **shipping** for any parcel that arrives late.",
        status=ArticleStatus.PUBLISHED,
    )

    console = browser_context_factory(viewport={"width": 1280, "height": 900}).new_page()
    errors: list[str] = []
    console.on("pageerror", lambda exc: errors.append(str(exc)))
    browser_login(console, daphne_server, "ann")
    console.goto(f"{daphne_server}/console/")
    expect(console.locator("[data-sd=live-status]")).to_have_text("Live")
    assert AgentPresence.objects.get(user=agent).status == PresenceStatus.ONLINE

    conversation = handed_over(widget)
    item = console.locator(f"[data-sd=queue-item][data-conversation-id='{conversation.pk}']")
    expect(item).to_be_visible()
    expect(item).to_contain_text("The customer mentions a lawyer")
    item.locator("a").click()
    settled(console)
    expect(console).to_have_url(f"{daphne_server}/console/conversations/{conversation.pk}/")
    expect(console.locator("[data-sd=trace-handoff]")).to_have_text(
        "The customer mentions a lawyer"
    )
    console.locator("[data-sd=claim]").click()
    expect(console.locator("[data-sd=conversation-status]")).to_have_text("With an agent")
    settled(console)

    console.locator("[data-sd=article-search]").fill("refund")
    console.locator("[data-sd=insert-article]").click()
    box = console.locator("[data-sd=reply-text]")
    expect(box).to_have_value("We refund shipping for any parcel that arrives late.")
    box.press("Shift+Enter")
    box.press_sequentially("Ann")
    box.press("Enter")
    transcript = console.locator("[data-sd=transcript]")
    expect(transcript.locator("[data-sd=message][data-author=agent]")).to_have_count(1)
    stored = Message.objects.get(conversation=conversation, author=Author.AGENT)
    assert stored.text == "We refund shipping for any parcel that arrives late.\nAnn"

    # A customer message arrives live in the open transcript.
    import uuid

    services.message_create_incoming(
        conversation=conversation, text="Thanks, <b>Ann</b>!", client_id=uuid.uuid4()
    )
    customer = transcript.locator("[data-sd=message][data-author=customer]")
    expect(customer).to_have_count(2)
    expect(customer.last).to_contain_text("Thanks, <b>Ann</b>!")

    console.locator("[data-sd=presence-away]").click()
    expect(console.locator("[data-sd=presence-status]")).to_have_text("Away")
    settled(console)
    assert AgentPresence.objects.get(user=agent).status == PresenceStatus.AWAY
    console.locator("[data-sd=presence-online]").click()
    expect(console.locator("[data-sd=presence-status]")).to_have_text("Online")

    console.locator("[data-sd=return-to-bot]").click()
    expect(console.locator("[data-sd=conversation-status]")).to_have_text("With the bot")
    expect(item).to_have_count(0)
    assert errors == []
    close_console(console, agent)
