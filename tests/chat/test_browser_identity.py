"""Verified identity in a real Chromium against Daphne: the host page's signed customer keeps
their contact up to date, another customer starts a fresh conversation, and an identity the
server refused does not cost the customer their conversation on the next page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chat.identity import identity_hash, widget_secret_rotate
from chat.models import Contact, Conversation, Widget
from tests.chat.test_browser_email_link import mailed_link  # noqa: F401 (a fixture)
from tests.chat.widget_helpers import WidgetPage

pytestmark = [pytest.mark.services, pytest.mark.browser]

IDENTIFY = "/api/widget/conversations/identify/"


def identify(page, user: dict) -> None:
    page.evaluate("user => window.SupportDesk.identify(user)", user)


def signed(user_id: str, **details: str) -> dict:
    secret = Widget.objects.get(public_key="demo").identity_secret
    return {"id": user_id, "hash": identity_hash(secret, user_id), **details}


def signed_in_chat(daphne_server: str, browser_context_factory) -> tuple:
    """(page, widget) of the demo customer signed in on /demo/, who has said hello."""
    page = browser_context_factory(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{daphne_server}/demo/?signed_in=1")
    widget = WidgetPage(page, daphne_server).open()
    widget.send("Hello there!")
    widget.wait_for_messages("customer", 1)
    return page, widget


def test_identify_updates_the_contact_and_another_customer_starts_afresh(
    daphne_server, celery_worker, demo, browser_context_factory
):
    page, widget = signed_in_chat(daphne_server, browser_context_factory)
    first = Conversation.objects.get()
    assert first.verified_user_id == "cust-10023" and first.contact.email == "sam@example.com"

    # The same customer, with a new e-mail address and name: the contact follows, the
    # conversation goes on.
    with page.expect_response(lambda r: r.url.endswith(IDENTIFY)) as answer:
        identify(page, signed("cust-10023", email="sam@new.example", name="Sam Newman"))
    assert answer.value.status == 200  # sent after the update committed
    contact = Contact.objects.get(external_id="cust-10023", is_verified=True)
    assert (contact.email, contact.name) == ("sam@new.example", "Sam Newman")
    expect(widget.messages("customer")).to_have_count(1)

    # Another customer in the same browser: the old transcript goes, and their first message
    # opens their own verified conversation; the first customer's contact is untouched.
    identify(page, signed("cust-20001", email="kim@example.com", name="Kim"))
    expect(widget.messages("customer")).to_have_count(0)
    widget.send("Hi, Kim here")
    widget.wait_for_messages("customer", 1)
    widget.wait_for_messages("bot", 1)  # the bot answers in the new conversation
    second = Conversation.objects.exclude(pk=first.pk).get()
    assert second.verified_user_id == "cust-20001" and second.contact.email == "kim@example.com"
    contact.refresh_from_db()
    assert (contact.email, contact.name) == ("sam@new.example", "Sam Newman")
    first.refresh_from_db()
    assert first.contact_id == contact.pk and first.verified_user_id == "cust-10023"


def snippet_with(page, base_url: str, attributes: str) -> None:
    """Serves /demo/ with ``attributes`` added to the widget snippet, as a shop page would."""

    def rewrite(route):
        response = route.fetch()
        body = response.text().replace('data-widget="demo"', f'data-widget="demo" {attributes}')
        route.fulfill(response=response, body=body)

    page.route(f"{base_url}/demo/**", rewrite)


def test_a_reopened_conversation_stays_on_the_signed_in_customers_next_page(
    mailed_link, daphne_server, browser_context_factory  # noqa: F811
):
    _, link = mailed_link
    secret = widget_secret_rotate(actor=None, widget=Widget.objects.get(public_key="demo"))
    page = browser_context_factory().new_page()
    snippet_with(page, daphne_server,
                 f'data-user-id="cust-1" data-user-hash="{identity_hash(secret, "cust-1")}"')
    page.goto(link)
    widget = WidgetPage(page, daphne_server)
    widget.wait_for_messages("agent", 1)
    page.goto(f"{daphne_server}/demo/")
    widget.open()
    widget.send("Thanks, and when will it arrive?")
    widget.wait_for_messages("customer", 2)
    expect(widget.messages("agent")).to_have_count(1)
    assert Conversation.objects.count() == 1


def test_a_refused_identity_keeps_its_conversation_across_pages(
    daphne_server, celery_worker, demo, browser_context_factory
):
    # A snippet whose hash is wrong (or a widget with no secret): each page passes the same
    # id again, and the conversation must go on rather than start anew on every page.
    page = browser_context_factory(viewport={"width": 1280, "height": 800}).new_page()

    snippet_with(page, daphne_server, 'data-user-id="cust-10023" data-user-hash="0000"')
    widget = WidgetPage(page, daphne_server).goto_store().open()
    widget.send("Hello there!")
    widget.wait_for_messages("customer", 1)
    assert Conversation.objects.get().verified_user_id == ""
    page.reload()
    widget.open()
    widget.send("Still me")
    widget.wait_for_messages("customer", 2)
    widget.wait_for_messages("bot", 2)  # the worker is done before the test's data goes
    assert Conversation.objects.count() == 1
    assert not Contact.objects.filter(external_id="cust-10023").exists()


def test_reset_on_sign_out_forgets_the_signed_in_customers_conversation(
    daphne_server, celery_worker, demo, browser_context_factory
):
    page, widget = signed_in_chat(daphne_server, browser_context_factory)
    signed_in = Conversation.objects.get()

    # Signed out, on a page whose panel is not made yet: reset() waits for it.
    page.evaluate("() => window.SupportDeskWidget.close()")
    page.goto(f"{daphne_server}/demo/")
    page.evaluate("() => window.SupportDesk.reset()")
    widget = WidgetPage(page, daphne_server).open()
    page.wait_for_function("() => localStorage.getItem('supportdesk-reset:demo') === null")
    expect(widget.messages("customer")).to_have_count(0)
    widget.send("Who am I?")
    widget.wait_for_messages("customer", 1)
    widget.wait_for_messages("bot", 1)
    anonymous = Conversation.objects.exclude(pk=signed_in.pk).get()
    assert anonymous.verified_user_id == "" and anonymous.contact is None
    assert signed_in.messages.filter(author="customer").count() == 1

    # And on a page whose panel is open: at once.
    page.evaluate("() => window.SupportDesk.reset()")
    expect(widget.messages("customer")).to_have_count(0)
    page.wait_for_function("() => localStorage.getItem('supportdesk-reset:demo') === null")


def test_a_signed_in_customer_leaving_an_address_keeps_their_verified_contact(
    daphne_server, celery_worker, demo, browser_context_factory
):
    _, widget = signed_in_chat(daphne_server, browser_context_factory)
    widget.send("I want to talk to a person please")
    widget.wait_for_messages("system", 1)
    field = widget.panel.locator("[data-sd=log] [data-sd=contact-email]")
    expect(field).to_be_visible()
    # The address the host page signed for is offered; the customer asks for another one.
    expect(field).to_have_value("sam@example.com")
    field.fill("sam.home@mail.example")
    widget.panel.locator("[data-sd=contact-send]").click()
    expect(widget.panel.locator("[data-sd=contact-saved]")).to_contain_text(
        "sam.home@mail.example")

    conversation = Conversation.objects.select_related("contact").get()
    assert conversation.reply_email == "sam.home@mail.example"
    assert conversation.contact.is_verified and conversation.contact.email == "sam@example.com"
    assert Contact.objects.filter(is_verified=False).count() == 0
