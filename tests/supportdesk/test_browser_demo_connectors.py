"""On /demo/, in a real Chromium against Daphne, Redis and a Celery worker: a customer looks up
an order through the demo's connector; signed in as the demo customer, sees their recent
orders."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chat.bot import taxonomy_invalidate
from chat.models import Conversation
from knowledge.models import Connector
from tests.a11y import axe_violations
from tests.chat.widget_helpers import WidgetPage

pytestmark = [pytest.mark.services, pytest.mark.browser]


def point_connectors_at(base_url: str) -> None:
    """load_demo pointed the connectors at DEMO_API_BASE_URL; the test serves it elsewhere."""
    host = base_url.split("://", 1)[1]
    for connector in Connector.objects.all():
        path = connector.url_template.split("/demo/api/", 1)[1]
        connector.url_template = f"{base_url}/demo/api/{path}"
        connector.allowed_hosts = [host]
        connector.save()
    taxonomy_invalidate()


def test_order_lookup_and_recent_orders_on_the_demo(
    daphne_server, celery_worker, demo, browser_context_factory, artifacts_dir
):
    point_connectors_at(daphne_server)
    page = browser_context_factory(viewport={"width": 1280, "height": 800}).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    widget.send("where is my order?")
    widget.wait_for_messages("bot", 1)
    widget.send("10023")
    expect(widget.messages("bot").nth(1)).to_contain_text("e-mail")
    widget.send("sam@example.com")
    answer = widget.messages("bot").nth(2)
    expect(answer).to_contain_text("Shipped", timeout=15000)
    expect(answer).to_contain_text("UPS")
    expect(answer).to_contain_text("1Z999AA10123456784")
    page.screenshot(path=str(artifacts_dir / "demo_order_lookup.png"))
    assert Conversation.objects.get().verified_user_id == ""

    # Signed in as the demo customer: a new, verified conversation and their three orders.
    page.get_by_text("Sign in as a demo customer").click()
    expect(page.locator("[data-sd=demo-account]")).to_contain_text("sam@example.com")
    widget = WidgetPage(page, daphne_server).open()
    widget.send("show my recent orders")
    recent = widget.wait_for_messages("bot", 1).last
    expect(recent).to_contain_text("10031", timeout=15000)
    for number in ("10023", "10025"):
        expect(recent).to_contain_text(number)
    page.screenshot(path=str(artifacts_dir / "demo_recent_orders.png"))
    verified = Conversation.objects.exclude(verified_user_id="").get()
    assert verified.verified_user_id == "cust-10023" and verified.contact.is_verified

    # Signed out: the next visitor on this browser sees none of it and gets no orders.
    page.get_by_text("Sign out").click()
    expect(page.locator("[data-sd=demo-account]")).to_contain_text("Sign in as a demo customer")
    widget = WidgetPage(page, daphne_server).open()
    expect(widget.messages()).to_have_count(0)
    widget.send("show my recent orders")
    reply = widget.wait_for_messages("bot", 1).last
    expect(reply).not_to_contain_text("10031")
    expect(reply).not_to_contain_text("10025")
    page.screenshot(path=str(artifacts_dir / "demo_signed_out.png"))
    assert Conversation.objects.count() == 3
    latest = Conversation.objects.latest("created_at")
    assert latest.pk != verified.pk and latest.verified_user_id == ""


def test_a_connector_test_fits_a_phone_screen(daphne_server, demo, browser_context_factory):
    # The request line and the JSON are long words: they wrap inside the page at 390 px.
    from tests.conftest import login

    point_connectors_at(daphne_server)
    connector = Connector.objects.get(verified_only=False)
    page = browser_context_factory(viewport={"width": 390, "height": 800}).new_page()
    login(page, daphne_server, "admin", demo["password"])
    page.goto(f"{daphne_server}/knowledge/connectors/{connector.pk}/")
    page.fill("[data-sd=connector-test-form] [name=order_number]", "10023")
    page.fill("[data-sd=connector-test-form] [name=email]", "sam@example.com")
    page.click("[data-sd=connector-test]")
    expect(page.locator("[data-sd=connector-test-reply]")).to_contain_text("Shipped")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, width

    # "Delete connector" asks first; Cancel leaves it; the confirmation reads well and fits.
    page.click("[data-sd=connector-delete]")
    expect(page.locator("h1")).to_have_text("Delete this connector?")
    expect(page.locator("[data-sd=confirm-delete-name]")).to_have_text(connector.name)
    assert axe_violations(page) == []
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.click("[data-sd=confirm-delete-cancel]")
    expect(page).to_have_url(f"{daphne_server}/knowledge/connectors/{connector.pk}/")
    assert Connector.objects.filter(pk=connector.pk).exists()
    page.click("[data-sd=connector-delete]")
    page.click("[data-sd=confirm-delete-button]")
    expect(page.locator(".flash")).to_contain_text(f"Connector \"{connector.name}\" deleted.")
    assert not Connector.objects.filter(pk=connector.pk).exists()
