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
