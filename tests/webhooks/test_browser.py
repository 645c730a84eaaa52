"""An admin registers a webhook endpoint in a real Chromium, copies the secret shown once,
watches the deliveries (a 500 then a success) and sends one again."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Group, User

from chat import services as chat_services
from tests.conftest import DEMO_PASSWORD, login
from webhooks.models import Delivery, DeliveryStatus, Endpoint

pytestmark = [pytest.mark.services, pytest.mark.browser]


def _wait(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_admin_registers_sees_the_secret_once_reads_deliveries_and_sends_again(
    webhook_worker, daphne_server, page, receiver, widget, artifacts_dir
):
    admin = User.objects.create_user(username="wadmin", password=DEMO_PASSWORD)
    admin.groups.add(Group.objects.get_or_create(name="admins")[0])
    base = daphne_server
    login(page, base, "wadmin")

    page.goto(f"{base}/knowledge/")
    page.click("[data-sd=nav-webhooks]")
    page.click("[data-sd=webhook-new]")
    page.fill("#id_url", receiver.url)
    page.fill("#id_description", "CRM sync")
    page.check("input[name=events][value='conversation.created']")
    page.check("input[name=events][value='message.created']")
    page.click("[data-sd=webhook-save]")
    secret = page.inner_text("[data-sd=webhook-secret]").strip()
    assert secret.startswith("whsec_")
    receiver.secret = secret
    page.screenshot(path=str(artifacts_dir / "webhook-secret.png"), full_page=True)
    page.click("[data-sd=webhook-done]")
    assert secret not in page.content()
    endpoint = Endpoint.objects.get()
    assert endpoint.secret == secret

    receiver.statuses = [500]  # the first try fails; the retry succeeds
    conversation, _ = chat_services.conversation_start(widget=widget)
    chat_services.message_create_incoming(conversation=conversation, text="Hi there",
                                          client_id=None, queue_bot=False)
    assert _wait(lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 2)

    page.click("[data-sd=webhook-deliveries]")
    rows = page.locator("[data-sd=delivery-row]")
    assert rows.count() == 2
    oldest = rows.nth(1)  # newest first
    assert "conversation.created" in oldest.inner_text()
    assert "HTTP 500" in oldest.inner_text() and "HTTP 200" in oldest.inner_text()
    assert secret not in page.content()
    page.screenshot(path=str(artifacts_dir / "webhook-deliveries.png"), full_page=True)

    event_id = oldest.get_attribute("data-event")
    oldest.locator("[data-sd=delivery-resend]").click()
    page.wait_for_selector("text=will be sent again")
    assert _wait(lambda: receiver.event_ids().count(event_id) == 3)  # 500, 200, again
    assert all(r.signature_ok for r in receiver.received)
