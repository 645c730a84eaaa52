"""axe-core (tests/a11y.py) finds no serious or critical violation in the agents' console and
the managers' dashboard, as in the widget (issue 14)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import expect

from chat import services
from tests.a11y import axe_violations

from .conftest import handed_over, make_user
from .test_browser_console import close_console
from .test_browser_workspace import PASSWORD

pytestmark = [pytest.mark.services, pytest.mark.browser]


def test_the_console_queue_and_a_conversation_have_no_serious_violation(
    daphne_server, page, browser_login, widget
):
    agent = make_user("agents", "agent-axe")
    waiting = handed_over(widget)
    mine = handed_over(widget)
    services.conversation_claim(conversation=mine, agent=agent)
    services.agent_message_create(conversation=mine, agent=agent, text="Hello, I can help.")
    browser_login(page, daphne_server, "agent-axe", PASSWORD)
    page.goto(f"{daphne_server}/console/")
    expect(page.locator("[data-sd=live-status]")).to_have_text("Live")
    assert axe_violations(page) == []
    for conversation in (waiting, mine):
        page.goto(f"{daphne_server}/console/conversations/{conversation.pk}/")
        expect(page.locator("[data-sd=live-status]")).to_have_text("Live")
        assert axe_violations(page) == [], conversation
    close_console(page, agent)


def test_the_dashboard_has_no_serious_violation(daphne_server, page, browser_login):
    manager = User.objects.create_user(username="manager-axe", password=PASSWORD)
    manager.groups.add(Group.objects.get(name="managers"))
    browser_login(page, daphne_server, "manager-axe", PASSWORD)
    page.goto(f"{daphne_server}/analytics/")
    page.wait_for_load_state("networkidle")
    assert axe_violations(page) == []


def test_a_long_contact_name_stays_inside_the_conversation(
    daphne_server, page, browser_login, widget, artifacts_dir
):
    """A verified name of 120 characters with no space (the longest a host page may give):
    it wraps inside the conversation's header and the contact panel; nothing runs off the
    page or under the contact panel."""
    from chat.models import Contact

    agent = make_user("agents", "agent-long")
    conversation = handed_over(widget)
    contact = Contact.objects.create(widget=widget, email="long@example.com", name="N" * 120,
                                     external_id="cust-long", is_verified=True)
    conversation.contact = contact
    conversation.save(update_fields=["contact"])
    page.set_viewport_size({"width": 1440, "height": 900})
    browser_login(page, daphne_server, "agent-long", PASSWORD)
    page.goto(f"{daphne_server}/console/conversations/{conversation.pk}/")
    expect(page.locator("[data-sd=live-status]")).to_have_text("Live")
    page.screenshot(path=str(artifacts_dir / "console_long_name.png"))
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1440
    item = page.locator(f'[data-sd=queue-item][data-conversation-id="{conversation.pk}"]')
    expect(item).to_be_visible()
    # The list redraws every few seconds: each pair of boxes is measured in one evaluation,
    # so both come from the same drawing.
    card, who = item.evaluate(
        "item => [item, item.querySelector('.queue-who')].map(e => e.getBoundingClientRect())"
        ".map(r => ({x: r.x, width: r.width}))"
    )
    assert who["x"] + who["width"] <= card["x"] + card["width"] + 1, (who, card)
    head, panel = page.evaluate(
        "() => ['#conversation-head h2', '.contact-panel']"
        ".map(s => document.querySelector(s).getBoundingClientRect())"
        ".map(r => ({x: r.x, width: r.width}))"
    )
    assert head["x"] + head["width"] <= panel["x"] + 1, (head, panel)
    close_console(page, agent)
