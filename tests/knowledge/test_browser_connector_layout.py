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
