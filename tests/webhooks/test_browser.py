"""An admin registers a webhook endpoint in a real Chromium, copies the secret shown once,
watches the deliveries (a 500 then a success) and sends one again; and reads, on a wide
screen and a phone, why an event sent again behind a failing older one does not go yet."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from playwright.sync_api import expect

from chat import services as chat_services
from tests.conftest import DEMO_PASSWORD, login
from webhooks import services
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint

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
    # The checkboxes are one group, named by its legend (a screen reader says "Events").
    expect(page.get_by_role("group", name="Events")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "webhook-form.png"), full_page=True)
    page.click("[data-sd=webhook-save]")
    secret = page.inner_text("[data-sd=webhook-secret]").strip()
    assert secret.startswith("whsec_")
    # Without clipboard permission the Copy button selects the secret and says how to copy it.
    page.click("[data-sd=copy-secret]")
    expect(page.locator("[data-copy-status=webhook-secret]")).to_contain_text(
        re.compile(r"Copied to the clipboard\.|Selected: press Ctrl\+C"))
    if "Selected" in page.inner_text("[data-copy-status=webhook-secret]"):
        assert page.evaluate("String(window.getSelection())").strip() == secret
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
    page.wait_for_selector("text=is being sent again now")
    assert _wait(lambda: receiver.event_ids().count(event_id) == 3)  # 500, 200, again
    assert all(r.signature_ok for r in receiver.received)


def test_send_again_behind_a_failing_older_event_says_it_waits_for_it(
    daphne_server, browser_context_factory, receiver, widget, admin_user, loopback_allowed,
    deliver_on_commit, artifacts_dir, settings
):
    receiver.statuses = [500] * 1000  # the receiver is down for the whole test
    # The next try is minutes away: the page offers to try the failed event now.
    settings.WEBHOOK_RETRY_BASE_SECONDS = settings.WEBHOOK_RETRY_MAX_SECONDS = 600
    endpoint, receiver.secret = services.endpoint_create(
        actor=admin_user, url=receiver.url, events=["message.created"], description="CRM sync",
    )
    conversation, _ = chat_services.conversation_start(widget=widget)
    for text in ("Where is my order?", "It is 55102", "Thanks"):
        chat_services.message_create_incoming(conversation=conversation, text=text,
                                              client_id=None, queue_bot=False)
    head = Delivery.objects.select_related("event").order_by("event_id").first()
    assert DeliveryAttempt.objects.filter(delivery=head).count() == 1
    head_id = head.event.public_id
    User.objects.filter(pk=admin_user.pk).update(password=make_password(DEMO_PASSWORD))

    for width, height, name in ((1440, 900, "wide"), (390, 844, "phone")):
        page = browser_context_factory(viewport={"width": width, "height": height}).new_page()
        login(page, daphne_server, admin_user.username)
        page.goto(f"{daphne_server}/webhooks/{endpoint.pk}/deliveries/")
        notice = page.locator("[data-sd=delivery-blocked]")
        assert f"{head_id} (message.created) has not been received yet" in notice.inner_text()
        assert "2 later events wait for it" in notice.inner_text()
        assert "Its next try is at" in notice.inner_text()
        newest = page.locator("[data-sd=delivery-row]").first
        assert f"waits for {head_id}" in newest.inner_text()
        assert f"goes after {head_id}" not in newest.inner_text()  # pending: its status says
        page.screenshot(path=str(artifacts_dir / f"webhook-waiting-{name}.png"), full_page=True)
        # Never sent: nothing to send again (newcomer n61); the failed head offers one action,
        # in its row only (not a second button for the same thing in the notice above).
        expect(newest.locator("[data-sd=delivery-resend]")).to_have_count(0)
        head_row = page.locator(f'[data-sd=delivery-row][data-event="{head_id}"]')
        resend = f"/webhooks/deliveries/{head.pk}/resend/"
        expect(page.locator(f'form[action="{resend}"] button')).to_have_count(1)
        expect(head_row.locator("button")).to_have_text(["Try now"])
        expect(page.get_by_role("button", name=re.compile("Send again|Try"))).to_have_count(1)
        head_row.locator("[data-sd=delivery-resend]").click()
        said = page.locator(".flash li").first.inner_text()
        assert f"{head_id} is being sent again now" in said
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(artifacts_dir / f"webhook-resent-{name}.png"), full_page=True)
    print("screenshots in", artifacts_dir)


def test_deleting_an_endpoint_with_a_long_address_asks_first_and_fits_a_phone(
    daphne_server, browser_context_factory, admin_user, loopback_allowed, artifacts_dir
):
    """The confirmation names the endpoint's address in its heading: an address of one long
    word wraps on a phone; Cancel keeps the endpoint; Delete removes it and says which."""
    url = "http://127.0.0.1:9/hooks/catch/" + "3xk9qpz" * 16 + "?token=abc&format=json"
    endpoint, _ = services.endpoint_create(actor=admin_user, url=url, events=["message.created"])
    User.objects.filter(pk=admin_user.pk).update(password=make_password(DEMO_PASSWORD))
    page = browser_context_factory(viewport={"width": 390, "height": 844}).new_page()
    login(page, daphne_server, admin_user.username)
    page.goto(f"{daphne_server}/webhooks/{endpoint.pk}/")
    page.focus("[data-sd=webhook-delete]")
    page.keyboard.press("Space")  # a real button: the keyboard's Space works as Enter does
    expect(page.locator("h1")).to_have_text("Delete this endpoint?")
    expect(page.locator("[data-sd=confirm-delete-name]")).to_have_text(url)
    page.screenshot(path=str(artifacts_dir / "webhook-delete-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.click("[data-sd=confirm-delete-cancel]")
    # Named by its host and path (no description), cut to 60 characters, the whole in its title.
    from django.utils.text import Truncator

    assert endpoint.label.startswith("127.0.0.1:9/hooks/catch/3xk9qpz")
    expect(page.locator("h1")).to_have_text(f"Endpoint {Truncator(endpoint.label).chars(60)}")
    expect(page.locator("h1 span")).to_have_attribute("title", endpoint.label)
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()
    page.click("[data-sd=webhook-delete]")
    page.click("[data-sd=confirm-delete-button]")
    expect(page.locator(".flash li").first).to_have_text(f"Endpoint {url} deleted.")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()


def test_a_long_address_and_a_long_answer_stay_inside_the_page(
    daphne_server, browser_context_factory, admin_user, loopback_allowed, artifacts_dir
):
    """Newcomer n59: a valid 1,000-character URL made the endpoint list 10,807 px wide at
    1280 px (each row's status and deliveries off screen), and a receiver's long unbroken 500
    page made the delivery log 4,685 px wide."""
    from django.utils import timezone

    from webhooks.models import Event

    url = "http://127.0.0.1:9/hooks/" + "q7Zk" * 240
    assert len(url) <= 1000
    endpoint, _ = services.endpoint_create(actor=admin_user, url=url, events=["message.created"],
                                           description="Data warehouse " + "x" * 150)
    now = timezone.now()
    event = Event.objects.create(public_id="evt_long", name="message.created", payload={},
                                 created_at=now)
    delivery = Delivery.objects.create(endpoint=endpoint, event=event, attempts=1,
                                       next_attempt_at=now, created_at=now)
    DeliveryAttempt.objects.create(delivery=delivery, at=now, ok=False, status_code=500,
                                   body_excerpt="<html>" + "E" * 490, duration_ms=12.0)
    User.objects.filter(pk=admin_user.pk).update(password=make_password(DEMO_PASSWORD))
    for width, height, name in ((1280, 800, "wide"), (390, 844, "phone")):
        page = browser_context_factory(viewport={"width": width, "height": height}).new_page()
        login(page, daphne_server, admin_user.username)
        page.goto(f"{daphne_server}/webhooks/")
        row = page.locator("[data-sd=webhook-table] tbody tr").first
        # The list shows the start of a long address (the whole of it on the endpoint's page),
        # so each row's status and deliveries stay in sight.
        expect(row.get_by_role("link", name=url[:60])).to_have_attribute("title", url)
        link = row.get_by_role("link", name="Deliveries")
        expect(link).to_be_visible()
        if name == "wide":
            expect(link).to_be_in_viewport()
        expect(row).to_contain_text("enabled")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(artifacts_dir / f"webhook-long-url-{name}.png"), full_page=True)
        page.goto(f"{daphne_server}/webhooks/{endpoint.pk}/deliveries/")
        expect(page.locator("[data-sd=delivery-attempt] pre")).to_contain_text("EEEE")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if name == "wide":
            expect(page.locator("[data-sd=delivery-resend]")).to_be_in_viewport()
        page.screenshot(path=str(artifacts_dir / f"webhook-long-answer-{name}.png"),
                        full_page=True)
