"""The agent's workspace in Chromium: two agents in two browser contexts (transfer, notes,
mentions), and one agent's tabs, search, labels, canned responses, shortcuts and
notifications. Every page is also watched for Content-Security-Policy violations."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chat import services
from chat.console import services as console_services
from chat.models import CannedResponse, Contact, Conversation, Label, Note, NoteKind

from .conftest import handed_over, make_user
from .test_browser_console import close_console

pytestmark = [pytest.mark.services, pytest.mark.browser]

PASSWORD = "pw-for-tests-2026"


def watch_csp(page) -> list[str]:
    """Collects the page's CSP violations (Chromium logs each to the console) and its
    uncaught script errors."""
    found: list[str] = []
    page.on(
        "console",
        lambda message: found.append(message.text)
        if "Content Security Policy" in message.text
        else None,
    )
    page.on("pageerror", lambda exc: found.append(f"page error: {exc}"))
    return found


def open_console(factory, base_url, login, username, path="/console/", notifications=True):
    context = factory(viewport={"width": 1440, "height": 900})
    if notifications:
        context.grant_permissions(["notifications"], origin=base_url)
    page = context.new_page()
    violations = watch_csp(page)
    login(page, base_url, username, PASSWORD)
    page.goto(base_url + path)
    expect(page.locator("[data-sd=live-status]")).to_have_text("Live")
    return page, violations


def test_two_agents_transfer_note_and_mention(
    daphne_server, browser_context_factory, browser_login, widget
):
    ann = make_user("agents", "agent-ann")
    bob = make_user("agents", "agent-bob")
    console_services.agent_profile_set(agent=bob, display_name="Bob Stone")
    conversation = handed_over(widget)
    url = f"/console/conversations/{conversation.pk}/"
    ann_page, ann_csp = open_console(browser_context_factory, daphne_server, browser_login,
                                     "agent-ann", url)
    bob_page, bob_csp = open_console(browser_context_factory, daphne_server, browser_login,
                                     "agent-bob")

    ann_page.click("[data-sd=claim]")
    expect(ann_page.locator("[data-sd=conversation-status]")).to_have_text("With an agent")

    # A private note that mentions Bob: styled apart in Ann's transcript, a notice for Bob.
    ann_page.locator(".note-box summary").click()
    ann_page.locator("[data-sd=note-input]").fill("Customer is a VIP, @agent-bob can you look?")
    ann_page.click("[data-sd=note-send]")
    note = ann_page.locator("[data-sd=note][data-author=note][data-kind=note]")
    expect(note).to_contain_text("Customer is a VIP")
    expect(bob_page.locator("[data-sd=console]")).to_have_attribute(
        "data-last-notice", "You were mentioned in a note"
    )

    # Ann transfers to Bob (online, so listed first with "online").
    option = ann_page.locator("[data-sd=assign-to] option", has_text="agent-bob")
    expect(option).to_contain_text("online")
    ann_page.select_option("[data-sd=assign-to]", str(bob.pk))
    ann_page.click("[data-sd=assign]")
    expect(ann_page.locator("[data-sd=note][data-kind=transferred]")).to_contain_text(
        "agent-ann transferred the conversation to agent-bob"
    )
    expect(bob_page.locator("[data-sd=console]")).to_have_attribute(
        "data-last-notice", "A conversation was given to you"
    )
    bob_page.click("[data-sd=tab-mine]")
    mine = bob_page.locator(f"[data-sd=queue-item][data-conversation-id='{conversation.pk}']")
    expect(mine).to_be_visible()
    mine.locator("a").click()
    expect(bob_page.locator("[data-sd=note][data-kind=note]")).to_contain_text("VIP")
    expect(bob_page.locator("[data-sd=reply-text]")).to_be_visible()
    # The customer reads Bob's display name, never a user name.
    expect(bob_page.locator("[data-sd=message][data-author=system]").last).to_contain_text(
        "Bob Stone joined the conversation."
    )
    joined = [m.text for m in conversation.messages.filter(author="system")]
    assert "Bob Stone joined the conversation." in joined

    # A note sent while Ann watches arrives live in her pane.
    bob_page.keyboard.press("n")  # the shortcut opens the note box
    bob_page.locator("[data-sd=note-input]").fill("Done, refunded.")
    bob_page.click("[data-sd=note-send]")
    expect(ann_page.locator("[data-sd=note][data-kind=note]")).to_have_count(2)

    kinds = list(Note.objects.order_by("pk").values_list("kind", flat=True))
    assert kinds == [NoteKind.NOTE, NoteKind.TRANSFERRED, NoteKind.NOTE]
    assert ann_csp == [] and bob_csp == []
    # Closed and counted out before the test database is flushed (see close_console).
    close_console(ann_page, ann)
    close_console(bob_page, bob)


def test_a_mention_and_a_transfer_show_in_the_page_without_desktop_notifications(
    daphne_server, browser_context_factory, browser_login, widget, artifacts_dir
):
    ann = make_user("agents", "agent-ann")
    bob = make_user("agents", "agent-bob")
    conversation = handed_over(widget)
    other = handed_over(widget, "my order 55102 is late")
    page, csp = open_console(browser_context_factory, daphne_server, browser_login,
                             "agent-bob", notifications=False)
    assert page.evaluate("() => Notification.permission") != "granted"
    notices = page.locator("[data-sd=notices]")
    expect(notices).to_have_attribute("aria-live", "polite")
    expect(notices.locator("[data-sd=in-page-notice]")).to_have_count(0)

    console_services.note_create(
        conversation=conversation, agent=ann, text="@agent-bob <b>can</b> you check this one?"
    )
    first = notices.locator("[data-sd=in-page-notice]").first
    expect(first).to_contain_text("You were mentioned in a note")
    expect(first).to_contain_text("<b>can</b> you check")  # text, never markup
    expect(first.locator("[data-sd=notice-open]")).to_have_attribute(
        "href", f"/console/conversations/{conversation.pk}/"
    )
    services.conversation_assign(conversation=other, agent=ann, to=bob)
    expect(notices.locator("[data-sd=in-page-notice]")).to_have_count(2)
    newest = notices.locator("[data-sd=in-page-notice]").first
    expect(newest).to_contain_text("A conversation was given to you")
    expect(newest).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "console-in-page-notices.png"))

    newest.locator("[data-sd=notice-dismiss]").click()
    expect(notices.locator("[data-sd=in-page-notice]")).to_have_count(1)
    expect(notices.locator("[data-sd=in-page-notice]")).to_contain_text("mentioned in a note")
    notices.locator("[data-sd=notice-dismiss]").click()
    expect(notices.locator("[data-sd=in-page-notice]")).to_have_count(0)
    expect(notices).to_be_hidden()
    assert csp == []
    close_console(page, bob)


def test_one_agent_works_the_list_with_keys_labels_and_canned_responses(
    daphne_server, browser_context_factory, browser_login, widget
):
    agent = make_user("agents", "agent-cy")
    console_services.agent_profile_set(agent=agent, display_name="Cy Park")
    first = handed_over(widget, "my parcel never arrived, order 55102")
    contact = Contact.objects.create(widget=widget, name="Noor Aziz", email="noor@example.com")
    Conversation.objects.filter(pk=first.pk).update(contact=contact)
    second = handed_over(widget, "I want to speak to a manager about my sofa")
    done = handed_over(widget, "thanks for the help with the tent")
    services.conversation_claim(conversation=done, agent=agent)
    services.conversation_resolve(conversation=done, resolution="agent", agent=agent)
    vip = Label.objects.create(name="vip", color="#b42318")
    CannedResponse.objects.create(
        shortcut="sorry", title="Apology", text="Sorry for the wait, {{ contact.name }}."
    )
    page, violations = open_console(browser_context_factory, daphne_server, browser_login,
                                    "agent-cy")

    # Tabs and search.
    items = page.locator("[data-sd=conversation-list] [data-sd=queue-item]")
    expect(items).to_have_count(2)
    page.click("[data-sd=tab-resolved]")
    expect(items).to_have_count(1)
    expect(items.first).to_have_attribute("data-conversation-id", str(done.pk))
    page.click("[data-sd=tab-waiting]")
    expect(items).to_have_count(2)
    page.fill("[data-sd=conversation-search]", "sofa")
    expect(items).to_have_count(1)
    expect(items.first).to_have_attribute("data-conversation-id", str(second.pk))
    page.fill("[data-sd=conversation-search]", "")
    expect(items).to_have_count(2)

    # "?" lists the shortcuts; Escape closes the list.
    page.keyboard.press("Escape")  # leaves the search box: shortcuts never fire while typing
    page.keyboard.press("?")
    expect(page.locator("[data-sd=shortcut-help]")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("[data-sd=shortcut-help]")).to_be_hidden()

    # j opens the first conversation, c claims it, r focuses the reply box.
    page.keyboard.press("j")
    expect(page.locator("[data-sd=conversation]")).to_have_attribute(
        "data-conversation-id", str(first.pk)
    )
    expect(page.locator("[data-sd=contact-panel]")).to_contain_text("Noor Aziz")
    expect(page.locator("[data-sd=handoff-summary]")).to_contain_text("Handoff reason: ")
    page.keyboard.press("c")
    expect(page.locator("[data-sd=conversation-status]")).to_have_text("With an agent")
    page.keyboard.press("r")
    reply = page.locator("[data-sd=reply-text]")
    expect(reply).to_be_focused()

    # "/" and a shortcut suggest a canned response; Enter inserts it, variables filled in.
    reply.press_sequentially("/sor")
    picker = page.locator("[data-sd=canned-picker]")
    expect(picker).to_be_visible()
    expect(picker).to_contain_text("/sorry")
    reply.press("Enter")
    expect(reply).to_have_value("Sorry for the wait, Noor Aziz.")
    expect(picker).to_be_hidden()

    # A label from the admins' list.
    page.locator("[data-sd=label-picker] summary").click()
    page.locator("[data-sd=label-picker] input[type=checkbox]").check()
    page.click("[data-sd=label-save]")
    expect(page.locator("#conversation-head [data-sd=label]")).to_have_text("vip")
    assert list(Conversation.objects.get(pk=first.pk).labels.all()) == [vip]

    # Notifications: the browser's permission is granted in this context, so they are on;
    # the button turns them off for this agent and on again.
    button = page.locator("[data-sd=notify-enable]")
    expect(button).to_have_attribute("aria-pressed", "true")
    button.click()
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button).to_have_text("Turn on notifications")
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    assert violations == []
    close_console(page, agent)
