"""A customer uses the widget in a real Chromium against Daphne, Redis and a Celery worker."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from chat import services
from chat.models import Conversation, Message, Resolution
from tests.chat.widget_helpers import PANEL as PANEL_SELECTOR
from tests.chat.widget_helpers import WidgetPage

pytestmark = [pytest.mark.services, pytest.mark.browser]


def test_customer_gets_a_bot_answer_then_a_handoff(
    daphne_server, celery_worker, demo, browser_context_factory
):
    page = browser_context_factory(viewport={"width": 1280, "height": 800}).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    expect(widget.panel.locator("[data-sd=greeting]")).not_to_be_empty()

    widget.send("Hello there!")
    [hello] = widget.wait_for_messages("bot", 1).all_inner_texts()
    assert hello.strip().endswith("What can I help you with today?")
    expect(widget.panel.locator("[data-sd=feedback]")).to_have_count(0)  # not an answer

    # (An order question now asks for the e-mail address: tests/supportdesk/
    # test_browser_demo_connectors.py follows the order lookup.)
    widget.send("How long does standard shipping take?")
    widget.wait_for_messages("customer", 2)
    answer = widget.wait_for_messages("bot", 2).last.inner_text()
    assert "help article" in answer
    expect(widget.panel.locator("[data-sd=helpful-yes]")).to_be_visible()

    widget.send("This is outrageous, my lawyer will hear about it and I will sue you.")
    [handoff] = widget.wait_for_messages("system", 1).all_inner_texts()
    expect(widget.panel.locator("[data-sd=typing]")).to_be_hidden()
    # Nobody is on the console in this test: one message says so, and the e-mail form
    # follows it in the transcript (no second notice under it).
    assert "no one is online" in handoff
    expect(widget.notice()).to_be_hidden()
    expect(widget.panel.locator("[data-sd=log] [data-sd=contact-form]")).to_be_visible()
    conversation = Conversation.objects.get()
    assert conversation.status == "waiting"
    assert conversation.handoff_category == "legal"
    # Issue 14: the form stays where the customer read it, once, right under the handoff
    # message; what the customer writes next goes below it.
    widget.send("Also, the zip of my jacket broke.")
    widget.wait_for_messages("customer", 4)
    order = widget.panel.locator("[data-sd=log]").evaluate(
        """log => Array.from(log.children).filter(li => !li.hidden)
              .map(li => li.getAttribute("data-sd") === "contact-item" ? "form"
                         : li.getAttribute("data-author") || li.getAttribute("data-sd"))"""
    )
    assert order.count("form") == 1
    assert order[-3:] == ["system", "form", "customer"], order
    expect(widget.panel.locator("[data-sd=contact-form]")).to_have_count(1)

    widget.panel.locator("[data-sd=contact-email]").fill("kim@example.com")
    widget.panel.locator("[data-sd=contact-send]").click()
    expect(widget.panel.locator("[data-sd=contact-saved]")).to_contain_text("kim@example.com")
    expect(widget.panel.locator("[data-sd=contact-form]")).to_be_hidden()
    conversation.refresh_from_db()
    assert conversation.contact.email == "kim@example.com"

    # A reload shows the same conversation again.
    page.reload()
    widget.open()
    widget.wait_for_messages("customer", 4)
    widget.wait_for_messages("system", 1)

    # Resolved (as an agent would); the customer rates it.
    services.conversation_resolve(conversation=conversation, resolution=Resolution.AGENT)
    widget.rate(4, "Quick and clear")
    conversation.refresh_from_db()
    assert (conversation.rating, conversation.rating_comment) == (4, "Quick and clear")


def test_phone_sized_screen_and_keyboard(
    daphne_server, celery_worker, demo, browser_context_factory
):
    page = browser_context_factory(viewport={"width": 375, "height": 700}).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    box = page.locator("#supportdesk-chat-panel").bounding_box()
    assert box["width"] == 375 and box["height"] == 700
    field = widget.panel.locator("[data-sd=input]")
    field.fill("what is your returns policy?")
    field.press("Enter")
    widget.wait_for_messages("customer", 1)
    widget.wait_for_messages("bot", 1)
    field.press("Escape")
    expect(page.locator("[data-sd=launcher]")).to_have_attribute("aria-expanded", "false")
    expect(page.locator("[data-sd=launcher]")).to_be_focused()


def test_send_waits_for_the_panel_s_script_and_a_click_before_it_loses_nothing(
    daphne_server, demo, browser_context_factory
):
    """Until panel.js has run, Send is disabled: a native submit would reload the panel and
    drop what the customer typed (a slow phone can show the box before the script runs)."""
    page = browser_context_factory(java_script_enabled=False).new_page()
    page.goto(f"{daphne_server}/widget/demo/panel/")
    send = page.locator("[data-sd=send]")
    expect(send).to_be_disabled()
    page.locator("[data-sd=input]").fill("is anyone there?")
    send.click(force=True)  # a disabled button submits nothing
    expect(page.locator("[data-sd=input]")).to_have_value("is anyone there?")
    assert page.url == f"{daphne_server}/widget/demo/panel/"
    assert not Conversation.objects.exists()

    page = browser_context_factory().new_page()
    page.goto(f"{daphne_server}/widget/demo/panel/")
    expect(page.locator("[data-sd=send]")).to_be_enabled()


def test_the_panel_loads_when_the_pointer_reaches_the_launcher_so_no_first_key_is_lost(
    daphne_server, demo, browser_context_factory
):
    """Loaded on the click, the panel took the first letters typed right after it; loaded on
    the way to the click, it has its message box ready for them."""
    page = browser_context_factory().new_page()
    WidgetPage(page, daphne_server).goto_store()
    launcher = page.locator("[data-sd=launcher]")
    expect(page.locator("iframe[data-sd=panel]")).to_have_count(0)  # nothing loads unasked
    launcher.hover()
    frame = page.frame_locator(PANEL_SELECTOR)
    expect(frame.locator("[data-sd=send]")).to_be_enabled()  # loaded, still hidden
    expect(page.locator(PANEL_SELECTOR)).to_be_hidden()
    assert not Conversation.objects.exists()
    launcher.click()
    page.keyboard.type("where is my tent")  # at once, no wait for the panel
    expect(frame.locator("[data-sd=input]")).to_have_value("where is my tent")


@pytest.mark.parametrize("how", ["click", "tap"])
def test_keys_typed_while_the_panel_loads_reach_its_message_box_and_are_sent_once(
    daphne_server, celery_worker, demo, browser_context_factory, how
):
    """A click or tap with no hover before it, and typing at once: the panel is still loading,
    so the loader keeps the keys (a space would otherwise press the launcher again) and puts
    them in the box; the customer sends them."""
    context = browser_context_factory(has_touch=how == "tap",
                                      viewport={"width": 390, "height": 844})
    page = context.new_page()
    widget = WidgetPage(page, daphne_server).goto_store()
    launcher = page.locator("[data-sd=launcher]")
    launcher.tap() if how == "tap" else launcher.dispatch_event("click")
    page.keyboard.type("what is your returns policy?")
    box = widget.panel.locator("[data-sd=input]")
    expect(box).to_have_value("what is your returns policy?")
    expect(launcher).to_have_attribute("aria-expanded", "true")  # no key pressed it again
    expect(box).to_be_focused()
    box.press("Enter")
    widget.wait_for_messages("customer", 1)
    assert [m.text for m in Message.objects.filter(author="customer")] == [
        "what is your returns policy?"]


def test_a_lost_acknowledgement_is_resent_after_a_drop_and_stored_once(
    daphne_server, celery_worker, demo, browser_context_factory
):
    """The socket goes through a proxy that can lose the echo of a message and drop the line."""
    context = browser_context_factory()
    routes = []
    lose_acks = {"on": False}

    def proxy(route) -> None:
        server = route.connect_to_server()
        routes.append((route, server))
        route.on_message(lambda message: server.send(message))

        def to_page(message) -> None:
            if lose_acks["on"] and '"author": "customer"' in message:
                return
            route.send(message)

        server.on_message(to_page)

    context.route_web_socket(re.compile(r".*/ws/chat/$"), proxy)
    widget = WidgetPage(context.new_page(), daphne_server).goto_store().open()
    widget.send("How long does standard shipping take?")
    widget.wait_for_messages("bot", 1)

    lose_acks["on"] = True
    widget.send("Do you ship to Canada?")
    widget.wait_for_messages("bot", 2)  # stored and answered, but the page never saw the ack
    expect(widget.panel.locator(".sd-pending")).to_have_count(1)

    lose_acks["on"] = False
    route, server = routes[-1]
    route.close()
    server.close()
    # The panel reconnects, joins after what it shows, and resends the pending message with
    # its client id: acknowledged with the stored seq, not stored again.
    widget.wait_for_messages("customer", 2)
    expect(widget.panel.locator(".sd-pending")).to_have_count(0)
    assert len(routes) >= 2
    assert Message.objects.filter(author="customer").count() == 2
    seqs = [int(s) for s in widget.messages().evaluate_all("els => els.map(e => e.dataset.seq)")]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)) == 4


def test_the_widget_sends_the_browser_s_time_zone_and_yesterday_is_the_customer_s(
    daphne_server, celery_worker, demo, browser_context_factory
):
    from chat.bot.entities import local_date
    from chat.models import BotTrace

    page = browser_context_factory(timezone_id="Pacific/Kiritimati").new_page()  # UTC+14
    widget = WidgetPage(page, daphne_server).goto_store().open()
    widget.send("I ordered yesterday, where is my order #55102?")
    widget.wait_for_messages("bot", 1)
    conversation = Conversation.objects.get()
    assert conversation.timezone == "Pacific/Kiritimati"
    message = Message.objects.get(conversation=conversation, author="customer")
    local_today = local_date(message.created_at, "Pacific/Kiritimati")
    [date] = BotTrace.objects.get(message=message).stages["entities"]["dates"]
    assert date["date"] == (local_today - timedelta(days=1)).isoformat()


def test_an_answer_shows_the_articles_table_and_links_to_its_public_page(
    daphne_server, celery_worker, demo, browser_context_factory, artifacts_dir
):
    context = browser_context_factory(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()

    widget.send("How much does shipping to Canada cost?")
    answer = widget.wait_for_messages("bot", 1).last
    table = answer.locator("table")
    expect(table).to_be_visible()
    expect(table.locator("th").first).to_have_text("destination")
    expect(table.locator("td", has_text="Canada")).to_be_visible()
    expect(table.locator("td", has_text="$14.95, free over $150")).to_be_visible()
    assert "---" not in answer.inner_text()  # a table, not its Markdown
    # One feedback question under the answer, none in its text.
    expect(answer.locator("[data-sd=feedback]")).to_have_count(1)
    assert "Does that answer" not in answer.inner_text()
    # The table fits the narrow panel: it scrolls inside the bubble, not the whole log.
    log = widget.panel.locator("[data-sd=log]")
    assert log.evaluate("el => el.scrollWidth <= el.clientWidth")
    page.screenshot(path=str(artifacts_dir / "widget-table-answer.png"))

    link = answer.locator("a", has_text="Read the whole article")
    expect(link).to_have_attribute("target", "_blank")
    assert "noopener" in link.get_attribute("rel").split()
    with context.expect_page() as opened:
        link.click()
    article = opened.value
    article.wait_for_load_state()
    assert re.search(r"/help/articles/\d+-international-shipping-and-customs/$", article.url)
    expect(article.locator("h1", has_text="International shipping and customs")).to_be_visible()
    expect(article.locator("table td", has_text="Canada")).to_be_visible()
    article.screenshot(path=str(artifacts_dir / "help-article.png"), full_page=True)


def test_customer_text_is_never_html_in_the_widget(
    daphne_server, celery_worker, demo, browser_context_factory
):
    page = browser_context_factory(viewport={"width": 1280, "height": 800}).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    hostile = '<img src=x onerror="window.parent.pwned=1"> **not bold** <b>plain</b>'
    widget.send(hostile)
    mine = widget.wait_for_messages("customer", 1).last
    widget.wait_for_messages("bot", 1)
    expect(mine.locator(".sd-text")).to_have_text(hostile)
    expect(mine.locator("img, b, strong")).to_have_count(0)
    assert page.evaluate("() => window.pwned === undefined")
    frame = page.frame_locator("#supportdesk-chat-panel").locator("body")
    assert frame.evaluate("() => window.pwned === undefined")


def test_hostile_markdown_in_an_article_does_not_run_in_the_widget(
    daphne_server, celery_worker, demo, browser_context_factory
):
    from knowledge import services as knowledge_services
    from knowledge.models import ArticleStatus, Intent

    knowledge_services.article_create(
        actor=None,
        title="Lunar parcel delivery",
        body=(
            "Lunar parcel delivery costs nothing extra. <img src=x onerror=\"parent.pwned=1\">"
            " <script>parent.pwned=2</script> [lunar rates](javascript:parent.pwned=3) "
            "<a href=\"javascript:parent.pwned=4\">lunar map</a> **lunar** parcels only."
        ),
        status=ArticleStatus.PUBLISHED,
        intents=[Intent.objects.get(slug="shipping_issue")],
    )
    page = browser_context_factory(viewport={"width": 1280, "height": 800}).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    widget.send("my lunar parcel delivery is late, what does it cost")
    answer = widget.wait_for_messages("bot", 1).last
    expect(answer).to_contain_text("Lunar parcel delivery costs nothing extra")
    expect(answer.locator("strong", has_text="lunar")).to_be_visible()
    expect(answer.locator("img, script")).to_have_count(0)
    for link in answer.locator("a").all():
        href = link.get_attribute("href") or ""
        assert not href.lower().startswith("javascript"), href
    for link in answer.locator("a", has_text="lunar").all():
        link.click()
    assert page.evaluate("() => window.pwned === undefined")


def test_a_message_of_invisible_characters_only_leaves_nothing_behind(
    daphne_server, celery_worker, demo, browser_context_factory
):
    page = browser_context_factory(viewport={"width": 1280, "height": 800}).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    widget.send("hello")
    widget.wait_for_messages("bot", 1)
    for invisible in ("\u200b\u200b", "\u2060\u00ad \u3164", "\ufeff\u200d"):
        widget.send(invisible)
    widget.send("where is my order?")
    widget.wait_for_messages("customer", 2)
    widget.wait_for_messages("bot", 2)
    # No faded bubble waits for an answer, and nothing is left to send again on a reload.
    expect(widget.messages("customer")).to_have_count(2)
    pending = widget.panel.locator("body").evaluate(
        "() => Object.keys(localStorage).map(k => localStorage.getItem(k)).join('')"
    )
    assert "\u200b" not in pending and "\u2060" not in pending
    page.reload()
    widget = WidgetPage(page, daphne_server).open()
    widget.wait_for_messages("customer", 2)
    expect(widget.notice()).to_be_hidden()
    assert Message.objects.filter(author="customer").count() == 2


def test_agents_see_the_customers_page_where_the_chat_started_not_the_panel(
    daphne_server, celery_worker, demo, browser_context_factory
):
    """The panel is a frame: the loader tells it the host page (by postMessage), and the
    conversation keeps that page's address (without its #fragment) and title, even after a
    single-page site moved; a message from anyone but the host page changes nothing."""
    page = browser_context_factory().new_page()
    page.goto(f"{daphne_server}/demo/?from=newsletter#sign-in-token")
    page.evaluate(
        "() => { history.pushState({}, '', '/demo/?step=checkout#x'); "
        "document.title = 'Checkout \u00b7 Acme'; }"
    )
    widget = WidgetPage(page, daphne_server).open()
    panel = page.locator(PANEL_SELECTOR).element_handle().content_frame()
    # The panel posting to itself (event.source is not its parent) is not the host page.
    panel.evaluate(
        "() => window.postMessage({type: 'supportdesk:page', "
        "url: 'https://evil.example/phish', title: 'Evil'}, '*')"
    )
    widget.send("Hello, where is my parcel?")
    widget.wait_for_messages("customer", 1)
    conversation = Conversation.objects.get()
    assert conversation.page_url == f"{daphne_server}/demo/?step=checkout"
    assert conversation.page_title == "Checkout \u00b7 Acme"


def test_the_store_page_is_the_start_page_of_a_chat(
    daphne_server, celery_worker, demo, browser_context_factory
):
    page = browser_context_factory().new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    title = page.title()
    assert title  # the demo store has a title to show
    widget.send("Do you ship abroad?")
    widget.wait_for_messages("customer", 1)
    conversation = Conversation.objects.get()
    assert conversation.page_url == f"{daphne_server}/demo/"
    assert conversation.page_title == title
    assert "/panel/" not in conversation.page_url
