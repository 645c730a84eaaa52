"""An e-mail's signed link reopens the conversation in the widget, in a real Chromium against
Daphne; a tampered link opens a fresh conversation, never the one it was copied from."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail as django_mail
from django.utils import timezone
from playwright.sync_api import expect

from chat import mail, services
from chat.models import Conversation, OwedEmail, Widget
from tests.chat.conftest import make_user
from tests.chat.widget_helpers import WidgetPage

pytestmark = [pytest.mark.services, pytest.mark.browser]


@pytest.fixture
def mailed_link(daphne_server, settings) -> tuple[Conversation, str]:
    """A conversation on the demo store page whose customer left, an agent's reply sent by
    e-mail (Django's locmem backend), and the link in that mail."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CHAT_PUBLIC_ORIGIN = daphne_server  # the desk's address, as the mail names it
    widget = Widget.objects.create(public_key="demo", name="Demo shop", allowed_origins=["self"])
    conversation, _ = services.conversation_start(
        widget=widget, origin_info={"page_url": f"{daphne_server}/demo/"}
    )
    services.message_create_incoming(
        conversation=conversation, text="Has my parcel left the depot?", client_id=None,
        queue_bot=False,
    )
    services.conversation_contact_set(conversation=conversation, email="dana@customer.example")
    long_ago = timezone.now() - timedelta(minutes=30)
    services.customer_socket_joined(conversation=conversation, at=long_ago)
    services.customer_socket_left(conversation=conversation, at=long_ago)
    conversation.refresh_from_db()
    services.agent_message_create(
        conversation=conversation, agent=make_user("alex", "agents"),
        text="Yes, it left this morning.",
    )
    owed = OwedEmail.objects.get()
    assert mail.owed_email_send(owed.pk, now=timezone.now() + timedelta(hours=1)) == "sent"
    [link] = re.findall(r"https?://\S+", django_mail.outbox[0].body)
    return conversation, link


def test_the_link_reopens_the_same_conversation(mailed_link, browser_context_factory):
    conversation, link = mailed_link
    assert link.startswith(f"{urlsplit(link).scheme}://{urlsplit(link).netloc}/demo/#sd_reopen=")
    token = parse_qs(urlsplit(link).fragment)["sd_reopen"][0]
    page = browser_context_factory().new_page()
    sent = []  # every address the browser asked a server for: none holds the token
    page.on("request", lambda request: sent.append(request.url))
    page.goto(link)
    widget = WidgetPage(page, "")
    # The panel opens by itself and shows the conversation, the e-mailed reply marked so.
    expect(widget.panel.locator("[data-sd=input]")).to_be_visible()
    agent_reply = widget.wait_for_messages("agent", 1)
    expect(agent_reply).to_contain_text("Yes, it left this morning.")
    expect(agent_reply.locator("[data-sd=emailed]")).to_contain_text("Sent by e-mail at")
    expect(widget.messages("customer")).to_contain_text("Has my parcel left the depot?")
    assert "sd_reopen" not in page.url  # taken out of the address bar
    assert sent and not [url for url in sent if token in url or "sd_reopen" in url]
    widget.send("Thanks, and when will it arrive?")
    widget.wait_for_messages("customer", 2)
    assert Conversation.objects.count() == 1
    assert conversation.messages.filter(text="Thanks, and when will it arrive?").exists()

    # The customer asks for the transcript by e-mail: a typo is refused at once, then it is owed.
    widget.panel.locator("[data-sd=transcript-open]").click()
    widget.panel.locator("[data-sd=transcript-email]").fill("dana@@customer.example")
    widget.panel.locator("[data-sd=transcript-send]").click()
    # Said under the field, which stays in view and is marked invalid until it is changed.
    expect(widget.panel.locator("[data-sd=transcript-error]")).to_contain_text(
        "does not look right")
    field = widget.panel.locator("[data-sd=transcript-email]")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_in_viewport()
    widget.panel.locator("[data-sd=transcript-email]").fill("dana@customer.example")
    expect(widget.panel.locator("[data-sd=transcript-error]")).to_be_hidden()
    widget.panel.locator("[data-sd=transcript-send]").click()
    expect(widget.notice()).to_contain_text("We are sending this conversation to")
    expect(widget.panel.locator("[data-sd=transcript-form]")).to_be_hidden()
    owed = OwedEmail.objects.get(kind="transcript")
    assert (owed.conversation_id, owed.to) == (conversation.pk, "dana@customer.example")


def test_a_tampered_link_opens_a_fresh_conversation(mailed_link, browser_context_factory):
    conversation, link = mailed_link
    token = parse_qs(urlsplit(link).fragment)["sd_reopen"][0]
    value, _, signature = token.rpartition(":")
    tampered = value + ":" + ("A" if signature[0] != "A" else "B") + signature[1:]
    page = browser_context_factory().new_page()
    page.goto(link.split("#")[0] + "#sd_reopen=" + tampered)
    widget = WidgetPage(page, "")
    expect(widget.notice()).to_contain_text("That link is not valid")
    expect(widget.messages("agent")).to_have_count(0)
    widget.send("Hello?")
    widget.wait_for_messages("customer", 1)
    fresh = Conversation.objects.exclude(pk=conversation.pk).get()
    assert fresh.messages.filter(text="Hello?").exists()
    assert not conversation.messages.filter(text="Hello?").exists()


def test_a_link_mailed_with_the_token_in_its_query_still_reopens(
    mailed_link, browser_context_factory
):
    """Links mailed before the token moved to the fragment stay valid for their lifetime."""
    conversation, link = mailed_link
    page = browser_context_factory().new_page()
    page.goto(link.replace("#sd_reopen=", "?sd_reopen="))
    widget = WidgetPage(page, "")
    expect(widget.wait_for_messages("agent", 1)).to_contain_text("Yes, it left this morning.")
    assert "sd_reopen" not in page.url
    widget.send("Still there?")
    widget.wait_for_messages("customer", 2)
    assert conversation.messages.filter(text="Still there?").exists()
    assert Conversation.objects.count() == 1
