"""The widget as a customer reads it (issue 14): header, quick replies, message groups and
times, agent names and initials, right-to-left text, the star rating, the launcher as a close
button, one handoff message; axe-core finds no serious or critical violation in any of these
states, at desktop size and 390 px wide, and the browser reports no CSP violation."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from playwright.sync_api import Frame, Page, expect

from chat import services
from chat.models import AgentPresence, Conversation, Message, PresenceStatus, Resolution
from chat.selectors import REPLY_TIME_CACHE_KEY
from tests.a11y import axe_violations
from tests.chat.widget_helpers import PANEL, REPLY_TIMEOUT_MS, WidgetPage

pytestmark = [pytest.mark.services, pytest.mark.browser]

@pytest.fixture(autouse=True)
def _no_cached_reply_time():
    """The typical reply time is cached in Redis, shared with Daphne: an earlier test's agent
    replies must not set this one's header."""
    cache.delete(REPLY_TIME_CACHE_KEY)


SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def _watch_console(page: Page) -> list[str]:
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text)
        if m.type == "error" and "Content Security Policy" in m.text else None,
    )
    return problems


def _panel_frame(page: Page) -> Frame:
    return page.locator(PANEL).element_handle().content_frame()


def _assert_accessible(page: Page, state: str) -> None:
    found = axe_violations(_panel_frame(page))
    found += axe_violations(page, include=["[data-sd=launcher]"])
    assert found == [], f"{state}: {found}"


@pytest.mark.parametrize("size", SIZES)
def test_header_quick_replies_and_launcher(
    daphne_server, celery_worker, demo, browser_context_factory, artifacts_dir, size
):
    page = browser_context_factory(viewport=SIZES[size]).new_page()
    csp = _watch_console(page)
    widget = WidgetPage(page, daphne_server).goto_store()
    launcher = page.locator("[data-sd=launcher]")
    expect(launcher).to_have_text("Chat with us")
    widget.open()
    panel = widget.panel
    # The company as customers know it, never the widget's internal name.
    expect(panel.locator("[data-sd=display-name]")).to_have_text("Acme Outfitters")
    expect(panel.locator(".sd-head .sd-avatar")).to_have_text("AO")
    # The bot answers at once; with no agent online the team answers by e-mail.
    expect(panel.locator("[data-sd=reply-time]")).to_have_text(
        "Instant answers \u00b7 team replies by e-mail")
    if size == "desktop":
        # The launcher is the panel's close button while it is open.
        expect(launcher).to_have_attribute("aria-label", "Close chat")
        expect(launcher).to_have_text("\u00d7")
    else:
        expect(launcher).to_be_hidden()  # the panel fills the screen and has its own close button
    buttons = panel.locator("[data-sd=quick-reply]")
    expect(buttons).to_have_count(4)
    assert buttons.all_inner_texts() == sorted(buttons.all_inner_texts())
    _assert_accessible(page, "greeting")

    panel.locator("[data-sd=quick-reply]", has_text="Where is my order?").click()
    [sent] = widget.wait_for_messages("customer", 1).all_inner_texts()
    assert sent.endswith("Where is my order?")
    expect(panel.locator("[data-sd=quick-replies]")).to_be_hidden()
    [question] = widget.wait_for_messages("bot", 1).all_inner_texts()
    assert "order number" in question
    assert Conversation.objects.get().intent == "order_status"
    # A question for a missing detail offers the way out.
    offered = panel.locator("[data-sd=message-replies] [data-sd=quick-reply]")
    expect(offered).to_have_text(["I don't have it"])
    _assert_accessible(page, "a question with a quick reply")
    # A question about a status in between is answered, and the order number asked again:
    # its button right under that question, "Did this help?" after it.
    widget.send("hmm, what does Packing mean?")
    between = widget.wait_for_messages("bot", 2).last
    expect(between).to_contain_text("Packing")
    expect(between).to_contain_text("order number")
    expect(offered).to_have_count(1)
    order = between.evaluate(
        "li => [...li.querySelectorAll('[data-sd=message-replies], [data-sd=feedback]')]"
        ".map(e => e.getAttribute('data-sd'))")
    assert order == ["message-replies", "feedback"], order
    page.screenshot(path=str(artifacts_dir / f"widget-question-in-between-{size}.png"))
    offered.click()
    expect(offered).to_have_count(0)
    widget.wait_for_messages("customer", 3)
    expect(widget.messages("customer").last).to_contain_text("I don't have it")
    answer = widget.wait_for_messages("bot", 3).last
    expect(answer).to_contain_text("track")  # answered without the number, not asked again
    _assert_accessible(page, "first answer")

    # One clear way to close (issue 14): the launcher beside the panel on a desktop, the
    # header's button full-screen on a phone (where the launcher is hidden).
    close_buttons = [
        b for b in (launcher, panel.locator("[data-sd=close]")) if b.is_visible()
    ]
    assert len(close_buttons) == 1
    if size == "desktop":
        expect(panel.locator("[data-sd=close]")).to_be_hidden()
        launcher.click()
        expect(page.locator(PANEL)).to_be_hidden()
        expect(launcher).to_have_text("Chat with us")
        expect(launcher).to_have_attribute("aria-expanded", "false")
        assert launcher.get_attribute("aria-label") is None
    else:
        panel.locator("[data-sd=close]").click()
        expect(launcher).to_be_visible()
        expect(launcher).to_have_text("Chat with us")
    assert csp == []


@pytest.mark.parametrize("size", SIZES)
def test_groups_times_agent_initials_rtl_and_long_words(
    daphne_server, celery_worker, demo, browser_context_factory, size
):
    agent = User.objects.get(username="agent")
    AgentPresence.objects.create(user=agent, status=PresenceStatus.ONLINE, connections=1)
    page = browser_context_factory(viewport=SIZES[size]).new_page()
    csp = _watch_console(page)
    widget = WidgetPage(page, daphne_server).goto_store().open()
    panel = widget.panel
    # The bot answers at once while it has the conversation; the team's reply time follows.
    expect(panel.locator("[data-sd=reply-time]")).to_have_text(
        "Instant answers \u00b7 team in about 2 min")

    widget.send("I want to talk to a person")
    widget.wait_for_messages("system", 1)
    # An agent is online: the usual handoff message, no e-mail form, the header's reply time.
    expect(panel.locator("[data-sd=contact-form]")).to_be_hidden()
    expect(panel.locator("[data-sd=reply-time]")).to_have_text("Typically replies in 2 min")
    expect(widget.messages("system")).to_contain_text("member of our team")

    conversation = Conversation.objects.get()
    services.conversation_claim(conversation=conversation, agent=agent)
    services.agent_message_create(conversation=conversation, agent=agent, text="Hello, I'm here.")
    services.agent_message_create(
        conversation=conversation, agent=agent, text="Let me look at your order."
    )
    agents = widget.wait_for_messages("agent", 2)
    first, second = agents.nth(0), agents.nth(1)
    expect(first.locator("[data-sd=sender-name]")).to_have_text("Support team")
    expect(first.locator("[data-sd=agent-initials]")).to_have_text("ST")
    expect(first.locator("[data-sd=message-time]")).to_be_visible()
    # The second message of the group shows no name or time of its own (read aloud still).
    expect(second).to_have_class(
        "sd-msg sd-author-agent sd-cont"
    )
    expect(second.locator(".sd-meta")).to_have_count(1)
    assert second.locator(".sd-meta").bounding_box()["width"] <= 1

    arabic = "مرحبا، أين طلبي؟"
    long_word = "x" * 300
    widget.send(arabic)
    widget.send(long_word)
    customers = widget.wait_for_messages("customer", 3)
    for item in widget.messages().all():
        assert item.get_attribute("dir") == "auto"
        assert item.locator(".sd-text").first.get_attribute("dir") == "auto"
    rtl = customers.nth(1).locator(".sd-text")
    assert rtl.evaluate("el => getComputedStyle(el).direction") == "rtl"
    ltr = customers.nth(2).locator(".sd-text")
    assert ltr.evaluate("el => getComputedStyle(el).direction") == "ltr"
    # A 300-letter word wraps inside its bubble: nothing scrolls sideways.
    log = panel.locator("[data-sd=log]")
    assert log.evaluate("el => el.scrollWidth <= el.clientWidth")
    bubble = customers.nth(2).bounding_box()
    assert bubble["x"] + bubble["width"] <= SIZES[size]["width"]
    _assert_accessible(page, "agent messages")
    assert csp == []


@pytest.mark.parametrize("size", SIZES)
def test_the_star_rating_works_with_the_keyboard(
    daphne_server, celery_worker, demo, browser_context_factory, size
):
    page = browser_context_factory(viewport=SIZES[size]).new_page()
    csp = _watch_console(page)
    widget = WidgetPage(page, daphne_server).goto_store().open()
    widget.send("I want to talk to a person")
    widget.wait_for_messages("system", 1)
    _assert_accessible(page, "handoff with no agent online")
    panel = widget.panel
    expect(panel.locator("[data-sd=reply-time]")).to_have_text("We\u2019ll reply by e-mail")
    conversation = Conversation.objects.get()
    # An agent takes it from the queue after all: the e-mail offer goes, the header follows.
    agent = User.objects.get(username="agent")
    services.conversation_claim(conversation=conversation, agent=agent)
    expect(panel.locator("[data-sd=reply-time]")).to_have_text("Typically replies in 2 min")
    expect(panel.locator("[data-sd=contact-form]")).to_be_hidden()
    conversation.refresh_from_db()
    services.conversation_resolve(conversation=conversation, resolution=Resolution.AGENT)
    group = panel.locator("[role=radiogroup]")
    expect(group).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    expect(panel.locator("[data-sd=rating-star]")).to_have_count(5)
    _assert_accessible(page, "rating")

    # Sending with no star chosen says what is missing and sends nothing.
    panel.locator("[data-sd=rating-send]").click()
    expect(widget.notice()).to_contain_text("Choose from 1 to 5 stars")
    expect(widget.star(1)).to_be_focused()
    conversation.refresh_from_db()
    assert conversation.rating is None

    # Only one star is in the tab order; arrows move the choice (and wrap), Home and End jump.
    assert [widget.star(n).get_attribute("tabindex") for n in range(1, 6)] == [
        "0", "-1", "-1", "-1", "-1"
    ]
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(widget.star(3)).to_have_attribute("aria-checked", "true")
    expect(widget.star(3)).to_be_focused()
    page.keyboard.press("End")
    expect(widget.star(5)).to_have_attribute("aria-checked", "true")
    page.keyboard.press("ArrowRight")
    expect(widget.star(1)).to_have_attribute("aria-checked", "true")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowDown")
    expect(widget.star(4)).to_have_attribute("aria-checked", "true")
    checked = [widget.star(n).get_attribute("aria-checked") for n in range(1, 6)]
    assert checked == ["false", "false", "false", "true", "false"]
    assert [widget.star(n).get_attribute("tabindex") for n in range(1, 6)] == [
        "-1", "-1", "-1", "0", "-1"
    ]
    expect(widget.star(4)).to_have_attribute("aria-label", "4 stars, very good")
    page.keyboard.press("Tab")
    expect(panel.locator("[data-sd=rating-comment]")).to_be_focused()
    page.keyboard.type("Kind and quick")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(widget.notice()).to_contain_text("Thank you", timeout=REPLY_TIMEOUT_MS)
    conversation.refresh_from_db()
    assert (conversation.rating, conversation.rating_comment) == (4, "Kind and quick")
    expect(panel.locator("[data-sd=rating-form]")).to_be_hidden()
    _assert_accessible(page, "rated")
    assert csp == []


@pytest.mark.parametrize("size", SIZES)
def test_a_mistyped_contact_address_is_said_under_the_field_and_spends_nothing(
    daphne_server, celery_worker, demo, browser_context_factory, artifacts_dir, size
):
    """Newcomer n59: the refusal was a notice that pushed the form half out of view, and three
    mistyped addresses spent the contact budget, so the right one was never saved."""
    page = browser_context_factory(viewport=SIZES[size]).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    widget.send("I want to talk to a person")
    widget.wait_for_messages("system", 1)
    panel = widget.panel
    field = panel.locator("[data-sd=contact-email]")
    error = panel.locator("[data-sd=contact-error]")
    for typo in ("sam example.com", "sam@", "@example.com", "sam@@example.com"):
        field.fill(typo)
        panel.locator("[data-sd=contact-send]").click()
        expect(error).to_contain_text("does not look right")
        expect(field).to_have_attribute("aria-invalid", "true")
        for part in (field, error, panel.locator("[data-sd=contact-send]")):
            expect(part).to_be_in_viewport()
    expect(widget.notice()).to_be_hidden()
    _assert_accessible(page, "a mistyped contact address")
    page.screenshot(path=str(artifacts_dir / f"contact-typo-{size}.png"))
    field.fill("sam@example.com")
    expect(error).to_be_hidden()
    expect(field).to_have_attribute("aria-invalid", "false")
    panel.locator("[data-sd=contact-send]").click()
    expect(panel.locator("[data-sd=contact-saved]")).to_contain_text("sam@example.com")
    conversation = Conversation.objects.get()
    assert conversation.contact is not None and conversation.contact.email == "sam@example.com"


def test_the_address_typed_in_the_chat_is_offered_in_the_e_mail_form_and_kept_on_reload(
    daphne_server, celery_worker, demo, browser_context_factory
):
    """Newcomer n60: a customer who had typed their address for an order lookup found the
    reply-by-e-mail form empty when no one was online."""
    page = browser_context_factory(viewport=SIZES["desktop"]).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    widget.send("Hi, I wrote to old.box@example.net last week")
    widget.wait_for_messages("bot", 1)
    # Newcomer n62: an apostrophe is part of the address, typographic quotes are not.
    widget.send("Sorry, my address is now \u201cLee.O'Park+shop@mail.example.org\u201d.")
    widget.wait_for_messages("customer", 2)
    widget.send("I want to talk to a person")
    widget.wait_for_messages("system", 1)
    field = widget.panel.locator("[data-sd=contact-email]")
    expect(field).to_have_value("Lee.O'Park+shop@mail.example.org")  # the last one, as typed
    # Only offered: nothing is saved until the customer sends the form.
    conversation = Conversation.objects.get()
    assert conversation.contact is None
    page.reload()
    widget.open()
    widget.wait_for_messages("system", 1)
    expect(field).to_have_value("Lee.O'Park+shop@mail.example.org")  # read from the history
    field.fill("lee@example.org")
    widget.send("or kim@example.com")  # an address typed in the form is never replaced
    widget.wait_for_messages("customer", 4)
    expect(field).to_have_value("lee@example.org")
    widget.panel.locator("[data-sd=contact-send]").click()
    expect(widget.panel.locator("[data-sd=contact-saved]")).to_contain_text("lee@example.org")
    conversation.refresh_from_db()
    assert conversation.contact.email == "lee@example.org"
    # Newcomer n62: a reload asked again, as if nothing had been saved.
    page.reload()
    widget.open()
    widget.wait_for_messages("customer", 4)
    saved = widget.panel.locator("[data-sd=contact-saved]")
    expect(saved).to_have_text("We will reply to lee@example.org by e-mail.")
    expect(widget.panel.locator("[data-sd=contact-form]")).to_be_hidden()
    # It stands where the form stood: right under the handoff message.
    after = saved.evaluate("li => li.previousElementSibling.getAttribute('data-author')")
    assert after == "system"


# Whether some line of a bubble ends inside a hyphenated word such as "e-mail" (the rects of
# the word's characters on more than one line).
_SPLIT_HYPHENATED = """log => {
  const split = [];
  for (const bubble of log.querySelectorAll('[data-sd=message] .sd-text')) {
    const walker = document.createTreeWalker(bubble, NodeFilter.SHOW_TEXT);
    let texts = [], node;
    while ((node = walker.nextNode())) { texts.push(node); }
    const whole = texts.map(t => t.data).join('');
    // Words, not the parts of a path in an address (which must wrap anywhere).
    for (const m of whole.matchAll(/(?<![\\w\\/.-])[A-Za-z]+(?:-[A-Za-z]+)+(?![\\w\\/-])/g)) {
      const range = document.createRange();
      let at = 0, started = false;
      for (const t of texts) {
        const end = at + t.data.length;
        if (!started && m.index < end) { range.setStart(t, m.index - at); started = true; }
        if (started && m.index + m[0].length <= end) {
          range.setEnd(t, m.index + m[0].length - at); break;
        }
        at = end;
      }
      const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
      if (tops.size > 1) { split.push(m[0]); }
    }
  }
  return split;
}"""


def test_hyphenated_words_stay_whole_in_bubbles_and_long_addresses_still_wrap(
    daphne_server, celery_worker, demo, browser_context_factory, artifacts_dir
):
    """"e-mail" in the handoff message broke as "e-" / "mail" at some panel widths."""
    page = browser_context_factory(viewport=SIZES["phone"]).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    widget.send("I want to talk to a person")
    widget.wait_for_messages("system", 1)
    long_url = "https://shop.example/" + "very-long-path-segment/" * 12 + "end"
    widget.send(f"See {long_url} and my e-mail, a follow-up re-sent")
    widget.wait_for_messages("customer", 2)
    log = widget.panel.locator("[data-sd=log]")
    split: dict[int, list[str]] = {}
    for width in range(300, 481, 3):
        page.set_viewport_size({"width": width, "height": 844})
        found = log.evaluate(_SPLIT_HYPHENATED)
        if found:
            split[width] = found
            page.locator(PANEL).screenshot(path=str(artifacts_dir / f"hyphen-split-{width}.png"))
        # Long words and addresses still wrap: nothing scrolls sideways.
        assert log.evaluate("el => el.scrollWidth <= el.clientWidth"), width
    page.set_viewport_size({"width": 336, "height": 844})
    page.screenshot(path=str(artifacts_dir / "hyphen-336.png"))
    assert split == {}


def test_a_message_over_the_limit_is_kept_counted_and_not_sent(
    daphne_server, celery_worker, demo, browser_context_factory, artifacts_dir
):
    """A paste over the limit was cut at it by the box's maxlength, silently."""
    page = browser_context_factory(viewport=SIZES["phone"]).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    panel = widget.panel
    box, count = panel.locator("[data-sd=input]"), panel.locator("[data-sd=input-count]")
    expect(count).to_be_hidden()  # nothing to count yet
    long_text = ("Lorem ipsum dolor sit amet. " * 80)[:2100] + "THE END"
    box.fill(long_text)
    expect(box).to_have_value(long_text)
    expect(count).to_be_visible()
    expect(count).to_have_text("2,107 of 2,000 characters: 107 too many")
    expect(count).to_have_attribute("aria-live", "polite")
    page.screenshot(path=str(artifacts_dir / "message-over-limit.png"))
    panel.locator("[data-sd=send]").click()
    expect(widget.notice()).to_have_text("A message has at most 2,000 characters.")
    expect(box).to_have_value(long_text)  # kept, to shorten or split
    assert Message.objects.count() == 0
    box.fill("x" * 1950)
    expect(count).to_have_text("1,950 of 2,000 characters")
    expect(widget.notice()).to_be_hidden()  # shortened enough: the refusal no longer holds
    box.fill("Short now")
    expect(count).to_be_hidden()
    panel.locator("[data-sd=send]").click()
    widget.wait_for_messages("customer", 1)
    expect(box).to_have_value("")


def test_a_rating_comment_over_the_limit_is_kept_counted_and_not_sent(
    daphne_server, celery_worker, demo, browser_context_factory, artifacts_dir
):
    page = browser_context_factory(viewport=SIZES["desktop"]).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    widget.send("Hello there!")
    widget.wait_for_messages("bot", 1)
    conversation = Conversation.objects.get()
    services.conversation_resolve(conversation=conversation, resolution=Resolution.AGENT)
    panel = widget.panel
    expect(panel.locator("[data-sd=rating-form]")).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    widget.star(5).click()
    comment, count = panel.locator("[data-sd=rating-comment]"), panel.locator(
        "[data-sd=rating-comment-count]")
    long_text = "Great help! " * 199 + "Great help!"
    comment.fill(long_text)
    expect(comment).to_have_value(long_text)
    expect(count).to_have_text("2,399 of 2,000 characters: 399 too many")
    panel.locator("[data-sd=rating-send]").click()
    expect(widget.notice()).to_have_text("A comment has at most 2,000 characters.")
    expect(comment).to_have_value(long_text)
    # The form keeps its layout: the comment box its rows (its text scrolls inside it), the
    # count one line under it, "Send rating" under the count and above the message box.
    boxes = {name: panel.locator(f"[data-sd={name}]").bounding_box()
             for name in ("rating-comment", "rating-comment-count", "rating-send", "compose")}
    assert boxes["rating-comment"]["height"] >= 40
    assert boxes["rating-comment-count"]["height"] < 30
    assert (boxes["rating-comment"]["y"] < boxes["rating-comment-count"]["y"]
            < boxes["rating-send"]["y"] < boxes["compose"]["y"])
    conversation.refresh_from_db()
    assert conversation.rating is None
    comment.fill("Great help!")
    expect(count).to_be_hidden()
    # The refusal goes; the notice it covered comes back (clearing it had cleared that too).
    expect(widget.notice()).to_have_text("This conversation is resolved. Write again any time.")
    page.screenshot(path=str(artifacts_dir / "rating-comment-shortened.png"))
    panel.locator("[data-sd=rating-send]").click()
    expect(widget.notice()).to_contain_text("Thank you", timeout=REPLY_TIMEOUT_MS)


def test_a_rating_comment_is_counted_without_the_spaces_around_it_like_a_message(
    daphne_server, celery_worker, demo, browser_context_factory, artifacts_dir
):
    """1,995 characters and 10 spaces showed "5 too many" under the comment (the message box
    counts without them, and the server stores the comment without them)."""
    page = browser_context_factory(viewport=SIZES["desktop"]).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    widget.send("Hello there!")
    widget.wait_for_messages("bot", 1)
    conversation = Conversation.objects.get()
    services.conversation_resolve(conversation=conversation, resolution=Resolution.AGENT)
    panel = widget.panel
    expect(panel.locator("[data-sd=rating-form]")).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    text = "x" * 1995 + " " * 10
    box, box_count = panel.locator("[data-sd=input]"), panel.locator("[data-sd=input-count]")
    box.fill(text)
    expect(box_count).to_have_text("1,995 of 2,000 characters")
    box.fill("")
    widget.star(4).click()
    comment = panel.locator("[data-sd=rating-comment]")
    count = panel.locator("[data-sd=rating-comment-count]")
    comment.fill(text)
    expect(count).to_have_text("1,995 of 2,000 characters")
    expect(comment).to_have_attribute("aria-invalid", "false")
    page.screenshot(path=str(artifacts_dir / "rating-comment-trailing-spaces.png"))
    panel.locator("[data-sd=rating-send]").click()
    expect(widget.notice()).to_have_text("Thank you for your rating!", timeout=REPLY_TIMEOUT_MS)
    conversation.refresh_from_db()
    assert (conversation.rating, conversation.rating_comment) == (4, "x" * 1995)


def test_the_header_follows_agents_coming_and_going_without_a_reload(
    daphne_server, celery_worker, demo, browser_context_factory, artifacts_dir
):
    """The header said "We'll reply by e-mail" after an agent came online or took the
    conversation, until a reload: availability reached the panel only on join and handoff."""
    from chat.console.services import presence_connect, presence_disconnect

    page = browser_context_factory(viewport=SIZES["desktop"]).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    reply_time = widget.panel.locator("[data-sd=reply-time]")
    widget.send("I want to talk to a person")
    widget.wait_for_messages("system", 1)
    expect(reply_time).to_have_text("We\u2019ll reply by e-mail")
    agent = User.objects.get(username="agent")
    presence_connect(agent=agent)  # the agent opens the console
    expect(reply_time).to_have_text("Typically replies in 2 min")
    # The handoff message above said no one was online: the customer hears someone now is.
    expect(widget.notice()).to_have_text(
        "Someone from our team is online now and will reply here.")
    page.screenshot(path=str(artifacts_dir / "header-agent-online.png"))
    presence_disconnect(agent=agent)  # and closes it again
    expect(reply_time).to_have_text("We\u2019ll reply by e-mail")
    expect(widget.notice()).to_be_hidden()
    presence_connect(agent=agent)
    conversation = Conversation.objects.get()
    services.conversation_claim(conversation=conversation, agent=agent)
    expect(reply_time).to_have_text("Typically replies in 2 min")
    conversation.refresh_from_db()
    services.conversation_return_to_bot(conversation=conversation, agent=agent)
    expect(reply_time).to_have_text("Instant answers \u00b7 team in about 2 min")
    presence_disconnect(agent=agent)
    expect(reply_time).to_have_text("Instant answers \u00b7 team replies by e-mail")
    page.screenshot(path=str(artifacts_dir / "header-back-to-bot-offline.png"))


def test_the_expected_wait_goes_when_the_last_agent_goes_offline(
    daphne_server, celery_worker, demo, browser_context_factory, artifacts_dir
):
    """"Expected wait: about 2 minutes." stayed on screen under "We'll reply by e-mail" and the
    e-mail form once the last agent went offline."""
    from chat.console.services import presence_connect, presence_disconnect

    agent = User.objects.get(username="agent")
    presence_connect(agent=agent)  # online when the customer asks for a person
    page = browser_context_factory(viewport=SIZES["desktop"]).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    reply_time = widget.panel.locator("[data-sd=reply-time]")
    widget.send("I want to talk to a person")
    widget.wait_for_messages("system", 1)
    expect(widget.notice()).to_have_text(re.compile(r"^Expected wait: about \d+ minutes?\.$"))
    expect(widget.panel.locator("[data-sd=contact-form]")).to_be_hidden()
    presence_disconnect(agent=agent)
    expect(reply_time).to_have_text("We\u2019ll reply by e-mail")
    expect(widget.panel.locator("[data-sd=contact-form]")).to_be_visible()
    # The handoff message said someone would reply here: the notice says no one is online now.
    expect(widget.notice()).to_have_text(
        "No one from our team is online now. Leave your e-mail address and we will reply by "
        "e-mail.")
    page.screenshot(path=str(artifacts_dir / "wait-gone-agent-offline.png"))
    presence_connect(agent=agent)  # the availability frame carries no wait: announced as new
    expect(reply_time).to_have_text("Typically replies in 2 min")
    expect(widget.notice()).to_have_text(
        "Someone from our team is online now and will reply here.")
    presence_disconnect(agent=agent)


def test_a_conversation_the_customer_resolved_promises_no_e_mail_in_the_header(
    daphne_server, celery_worker, demo, browser_context_factory, artifacts_dir
):
    """After "Did this help?" Yes, the header read "We'll reply by e-mail": no address was
    left and nothing was owed."""
    from chat.console.services import presence_connect, presence_disconnect

    page = browser_context_factory(viewport=SIZES["desktop"]).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    reply_time = widget.panel.locator("[data-sd=reply-time]")
    widget.send("How long does standard shipping take?")
    widget.wait_for_messages("bot", 1)
    expect(reply_time).to_have_text("Instant answers \u00b7 team replies by e-mail")
    widget.panel.locator("[data-sd=helpful-yes]").click()
    expect(widget.panel.locator("[data-sd=rating-form]")).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    assert Conversation.objects.get().resolution == Resolution.BOT_CONFIRMED
    # The line before the question, as true now: the next message goes to the bot.
    expect(reply_time).to_have_text("Instant answers \u00b7 team replies by e-mail")
    page.screenshot(path=str(artifacts_dir / "header-resolved-by-customer.png"))
    agent = User.objects.get(username="agent")
    presence_connect(agent=agent)
    expect(reply_time).to_have_text("Instant answers \u00b7 team in about 2 min")
    presence_disconnect(agent=agent)
    expect(reply_time).to_have_text("Instant answers \u00b7 team replies by e-mail")


def test_an_address_a_lookup_found_nothing_for_is_not_offered_in_the_e_mail_form(
    daphne_server, celery_worker, demo, browser_context_factory, artifacts_dir
):
    """The form offered the last address the customer wrote, even the one an order lookup had
    just found no order for."""
    from tests.supportdesk.test_browser_demo_connectors import point_connectors_at

    point_connectors_at(daphne_server)
    page = browser_context_factory(viewport=SIZES["desktop"]).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    widget.send("Order 10023 hasn't arrived, I used jo@example.com to buy it")
    expect(widget.wait_for_messages("bot", 1).last).to_contain_text("couldn't find that order")
    widget.send("I want to talk to a person")
    widget.wait_for_messages("system", 1)
    field = widget.panel.locator("[data-sd=contact-email]")
    expect(field).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "contact-after-failed-lookup.png"))
    expect(field).to_have_value("")
    page.reload()  # nor on a reload, which reads the address from the history again
    widget.open()
    widget.wait_for_messages("system", 1)
    expect(field).to_be_visible()
    expect(field).to_have_value("")
