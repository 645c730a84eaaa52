"""No Content-Security-Policy violation in the two-agent flows of the console (transfer, a note
with an @mention, two agents claiming at once, unassigning) nor in the customer's widget.

Issue 14: inline-style violations showed only in two-agent sessions. Chromium reports each
violation as a ``securitypolicyviolation`` event (with the directive and where it came from)
as well as a console line; both are collected, from every frame, for the whole session, and
the pages are given time to finish their live refreshes before the check.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chat.console import services as console_services
from chat.models import Label

from .conftest import handed_over, make_user
from .test_browser_console import close_console

pytestmark = [pytest.mark.services, pytest.mark.browser]

PASSWORD = "pw-for-tests-2026"

# Every frame of the page records its violations on the top window (same origin) or its own.
RECORD_VIOLATIONS = """
(() => {
  const sink = (window.top === window) ? (window.__csp = window.__csp || [])
    : ((window.__csp = window.__csp || []));
  document.addEventListener("securitypolicyviolation", (e) => {
    sink.push([e.violatedDirective, e.sourceFile || "", e.lineNumber, e.sample || "",
               e.blockedURI || ""].join(" | "));
  });
})();
"""


class Watched:
    """One browser page with every CSP violation it reports (event and console line)."""

    def __init__(self, context):
        context.add_init_script(RECORD_VIOLATIONS)
        self.page = context.new_page()
        self.console: list[str] = []
        self.page.on(
            "console",
            lambda m: self.console.append(m.text) if "Content Security Policy" in m.text else None,
        )
        self.page.on("pageerror", lambda exc: self.console.append(f"page error: {exc}"))

    def violations(self) -> list[str]:
        found = list(self.console)
        for frame in self.page.frames:
            try:
                found += frame.evaluate("() => window.__csp || []")
            except Exception:  # a frame gone between listing and asking
                continue
        return found


def _console(factory, base_url, login, username, path="/console/") -> Watched:
    context = factory(viewport={"width": 1440, "height": 900})
    context.grant_permissions(["notifications"], origin=base_url)
    watched = Watched(context)
    login(watched.page, base_url, username, PASSWORD)
    watched.page.goto(base_url + path)
    expect(watched.page.locator("[data-sd=live-status]")).to_have_text("Live")
    return watched


def test_two_agents_transfer_mention_claim_race_and_unassign_without_csp_violations(
    daphne_server, browser_context_factory, browser_login, widget
):
    ann = make_user("agents", "agent-ann")
    bob = make_user("agents", "agent-bob")
    console_services.agent_profile_set(agent=bob, display_name="Bob Stone")
    vip = Label.objects.create(name="vip", color="#d03b3b")
    conversation = handed_over(widget)
    raced = handed_over(widget, "my parcel never came")
    console_services.conversation_labels_set(conversation=conversation, label_ids=[vip.pk])
    url = f"/console/conversations/{conversation.pk}/"
    ann = _console(browser_context_factory, daphne_server, browser_login, "agent-ann", url)
    bob_w = _console(browser_context_factory, daphne_server, browser_login, "agent-bob")
    a, b = ann.page, bob_w.page
    b.locator("[data-sd=notify-sound]").check()

    a.click("[data-sd=claim]")
    expect(a.locator("[data-sd=conversation-status]")).to_have_text("With an agent")
    # Ann makes her reply box taller by its handle, as agents do: the pane is
    # then swapped by htmx, which settled the boxes' resulting style attributes (a violation).
    drag_taller(a, "[data-sd=reply-text]")
    # A note with an @mention: Bob gets a notice in the page.
    a.locator(".note-box summary").click()
    a.locator("[data-sd=note-input]").fill("VIP, @agent-bob please look")
    a.click("[data-sd=note-send]")
    expect(b.locator("[data-sd=in-page-notice]").first).to_contain_text("mentioned")
    # A transfer to Bob (once the pane the note swapped in is there).
    expect(a.locator("[data-sd=note][data-kind=note]")).to_be_visible()
    # Bob has the conversation open (no reply box: it is Ann's) when it is given to him.
    b.goto(daphne_server + url)
    expect(b.locator("[data-sd=live-status]")).to_have_text("Live")
    expect(b.locator("[data-sd=reply-text]")).to_have_count(0)
    a.select_option("[data-sd=assign-to]", str(bob.pk))
    expect(a.locator("[data-sd=assign-to]")).to_have_value(str(bob.pk))
    a.click("[data-sd=assign]")
    expect(b.locator("[data-sd=in-page-notice]").first).to_contain_text(
        "given to you", timeout=15_000
    )
    # His open pane gets the reply box without a reload.
    expect(b.locator("[data-sd=reply-text]")).to_be_visible()
    b.locator("[data-sd=reply-text]").fill("Hello, Bob here.")
    b.locator("[data-sd=reply-text]").press("Enter")
    expect(b.locator("[data-sd=message][data-author=agent]")).to_have_count(1)
    # Bob unassigns: Ann hears "back in the queue", never a new handoff.
    b.click("[data-sd=unassign]")
    expect(a.locator("[data-sd=console]")).to_have_attribute(
        "data-last-notice", "Back in the queue"
    )
    # Two agents claim one conversation at once: one owner, a clear message to the other.
    raced_url = daphne_server + f"/console/conversations/{raced.pk}/"
    for page in (a, b):
        page.goto(raced_url)
        expect(page.locator("[data-sd=live-status]")).to_have_text("Live")
    a.locator("[data-sd=claim]").evaluate("el => el.click()")  # no wait in between
    b.locator("[data-sd=claim]").evaluate("el => el.click()")
    for page in (a, b):
        expect(page.locator("[data-sd=conversation-status]")).to_have_text("With an agent")
    raced.refresh_from_db()
    loser = b if raced.assignee_id == user("agent-ann").pk else a
    # The live refreshes the last steps set off (the queue settles after a burst) finish;
    # the loser is still told, whatever they redrew.
    a.wait_for_timeout(2500)
    expect(loser.locator("[data-sd=in-page-notice]").first).to_contain_text("Not done")
    assert ann.violations() == [] and bob_w.violations() == []
    close_console(a, user("agent-ann"))
    close_console(b, user("agent-bob"))


def drag_taller(page, selector: str, by: int = 60) -> None:
    """Drags a text box's resize handle (its bottom right corner) down by ``by`` pixels."""
    box = page.locator(selector).bounding_box()
    x, y = box["x"] + box["width"] - 3, box["y"] + box["height"] - 3
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y + by, steps=5)
    page.mouse.up()
    assert page.locator(selector).bounding_box()["height"] > box["height"] + by / 2


def user(username: str):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username)


def test_the_customer_s_widget_through_a_claim_transfer_and_unassign_without_csp_violations(
    daphne_server, celery_worker, demo, browser_context_factory, browser_login
):
    """The widget's side of the same flows: the customer hands over, an agent claims and
    replies, transfers to a colleague who unassigns; the widget (its page and its panel frame)
    and both consoles report no violation."""
    from chat.models import Conversation
    from tests.chat.widget_helpers import WidgetPage

    ann = make_user("agents", "agent-ann")
    bob = make_user("agents", "agent-bob")
    console_services.agent_profile_set(agent=bob, display_name="Bob Stone")
    customer = Watched(browser_context_factory(viewport={"width": 1280, "height": 800}))
    widget = WidgetPage(customer.page, daphne_server).goto_store().open()
    widget.send("This is outrageous, my lawyer will hear about it and I will sue you.")
    widget.wait_for_messages("system", 1)
    conversation = Conversation.objects.get()
    url = f"/console/conversations/{conversation.pk}/"
    a_w = _console(browser_context_factory, daphne_server, browser_login, "agent-ann", url)
    b_w = _console(browser_context_factory, daphne_server, browser_login, "agent-bob", url)
    a = a_w.page
    a.click("[data-sd=claim]")
    drag_taller(a, "[data-sd=reply-text]")
    a.locator("[data-sd=reply-text]").fill("Hello, I am looking into it.")
    a.locator("[data-sd=reply-text]").press("Enter")
    widget.wait_for_messages("agent", 1)
    expect(a.locator("[data-sd=message][data-author=agent]")).to_have_count(1)
    a.select_option("[data-sd=assign-to]", str(bob.pk))
    expect(a.locator("[data-sd=assign-to]")).to_have_value(str(bob.pk))
    a.click("[data-sd=assign]")
    expect(a.locator("[data-sd=note][data-kind=transferred]")).to_be_visible(timeout=15_000)
    expect(widget.messages("system").last).to_contain_text("Bob Stone joined", timeout=15_000)
    b_w.page.reload()
    b_w.page.click("[data-sd=unassign]")
    expect(b_w.page.locator("[data-sd=conversation-status]")).not_to_have_text("With an agent")
    widget.send("Hello? Anyone there?")
    widget.wait_for_messages("customer", 2)
    a.wait_for_timeout(2000)
    assert customer.violations() == []
    assert a_w.violations() == [] and b_w.violations() == []
    close_console(a, ann)
    close_console(b_w.page, bob)
