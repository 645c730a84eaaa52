"""The connector pages at a phone's width (390 px): the list and the audit log read in words
and never widen the page; the edit page's Delete button is apart from Save and Test."""

import pytest
from django.contrib.auth.models import Group, User

from knowledge.models import AuditLogEntry, Connector
from tests.conftest import DEMO_PASSWORD, login


@pytest.mark.services
@pytest.mark.browser
def test_connector_pages_are_readable_at_390px(daphne_server, page):
    admin = User.objects.create_user(username="phoneadmin", password=DEMO_PASSWORD)
    admin.groups.add(Group.objects.get(name="admins"))
    connector = Connector.objects.create(
        name="My recent orders (tracking and carrier)",
        url_template="https://shop.example/api/orders/?customer_id={customer_id}&expand=lines",
        allowed_hosts=["shop.example"], reply_template="{{ x }}", needs=["customer_id"],
    )
    AuditLogEntry.objects.create(
        actor=admin, action="connector_updated", object_type="connector",
        object_repr=connector.name,
        changes={"url_template": ["https://shop.example/api/orders/?customer_id={customer_id}",
                                  connector.url_template]},
    )
    page.set_viewport_size({"width": 390, "height": 800})
    login(page, daphne_server, "phoneadmin")
    for path in ("/knowledge/connectors/", "/knowledge/audit/"):
        page.goto(f"{daphne_server}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    page.goto(f"{daphne_server}/knowledge/connectors/")
    cell = page.locator("[data-sd=connector-table] td[data-label=Status]").first
    assert cell.inner_text().strip() == "active"
    # its label's line and its value's: "active" is never cut letter by letter ("act ive")
    assert cell.bounding_box()["height"] < 60
    name = page.locator("[data-sd=connector-table] td[data-label=Name] a").first
    assert name.bounding_box()["width"] > 150
    page.goto(f"{daphne_server}/knowledge/connectors/{connector.pk}/")
    zone = page.locator("[data-sd=connector-danger-zone]")
    assert zone.locator("[data-sd=connector-delete]").count() == 1
    assert page.locator("[data-sd=connector-test-form] [data-sd=connector-delete]").count() == 0
    test_box = page.locator("[data-sd=connector-test]").bounding_box()
    assert zone.bounding_box()["y"] > test_box["y"] + test_box["height"] + 16


@pytest.mark.services
@pytest.mark.browser
def test_the_dashboards_connector_and_article_figures_fit_a_phone(daphne_server, page):
    from django.utils import timezone

    from analytics.models import EventName, ReportingEvent

    manager = User.objects.create_user(username="phonemanager", password=DEMO_PASSWORD)
    manager.groups.add(Group.objects.get(name="managers"))
    connector = Connector.objects.create(
        name="Order status from the warehouse system", url_template="https://shop.example/o",
        allowed_hosts=["shop.example"], reply_template="{{ x }}", needs=["order_number"],
    )
    from analytics.rollup import rollup_refresh
    from chat import services
    from chat.models import Widget

    widget = Widget.objects.create(public_key="phone-shop", name="Phone shop",
                                   allowed_origins=["self"])
    conversation, _ = services.conversation_start(widget=widget)
    for category in ("connector", "connector", "connector_not_found", "connector_failed"):
        ReportingEvent.objects.create(name=EventName.BOT_REPLIED, occurred_at=timezone.now(),
                                      category=f"{category}:{connector.pk}",
                                      conversation=conversation)
    rollup_refresh()
    page.set_viewport_size({"width": 390, "height": 800})
    login(page, daphne_server, "phonemanager")
    page.goto(f"{daphne_server}/analytics/")
    resolved = page.locator("[data-sd=connector-stats] [data-sd=connector-resolved]").first
    resolved.wait_for()
    box = resolved.bounding_box()
    # Every figure is on the screen, under its label, without scrolling sideways.
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    answered = page.locator("[data-sd=connector-stats] td[data-label=Answered]").first
    assert answered.inner_text().strip().endswith("2")


@pytest.mark.services
@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_long_unbroken_names_and_addresses_stay_inside_the_page(
    daphne_server, browser_context_factory, artifacts_dir, width
):
    """Newcomer n60: a connector named with one long word, and a 1,000-character URL template
    (allowed), made the connector list 1,592 px and the audit log 2,306 px wide at 1280 px,
    the Changes column off screen and the other columns squeezed to a few letters."""
    admin = User.objects.create_user(username="wideadmin", password=DEMO_PASSWORD)
    admin.groups.add(Group.objects.get(name="admins"))
    name = "<b>Orders</b>" + "N" * 100
    url = "https://shop.example/o/{order_number}/" + "b" * 900
    connector = Connector.objects.create(
        name=name, url_template=url, allowed_hosts=["shop.example"],
        reply_template="{{ x }}", needs=["order_number"],
    )
    AuditLogEntry.objects.create(
        actor=admin, action="connector_updated", object_type="connector",
        object_repr=name, changes={"name": [name, "Short"], "url_template": [url[:300], url]},
    )
    page = browser_context_factory(viewport={"width": width, "height": 900}).new_page()
    login(page, daphne_server, "wideadmin")
    for path, table in (("/knowledge/connectors/", "connector-table"),
                        ("/knowledge/audit/", "audit-entries")):
        page.goto(f"{daphne_server}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        page.screenshot(path=str(artifacts_dir / f"long-{table}-{width}.png"), full_page=True)
        # No column is squeezed to a few letters a line: every cell is at least 60 px wide.
        widths = page.locator(f"[data-sd={table}] tbody tr").first.locator("td").evaluate_all(
            "cells => cells.map(c => c.getBoundingClientRect().width)")
        assert min(widths) >= 60, (path, widths)
        # The name is text, never markup.
        assert page.locator(f"[data-sd={table}] b").count() == 0
        assert "<b>Orders" in page.locator(f"[data-sd={table}]").inner_text()
    assert Connector.objects.get(pk=connector.pk).name == name
