"""The widget recovers what a fault costs it: retry after server_error, gap fill, late answers.

Real Chromium against a real Daphne (and the Celery worker where the bot answers). The socket
goes through Playwright's WebSocket route, which forwards every frame both ways and stands in
for the faults: a ``server_error`` answer, a frame lost on the way, a bot reply held back.
Waits in the page (backoff, the late notice) run on Playwright's fake clock, never on the
machine's.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import pytest
from django.db import transaction
from playwright.sync_api import expect

from chat import services
from chat.models import Conversation, Message, Widget
from tests.chat.widget_helpers import WidgetPage

pytestmark = [pytest.mark.services, pytest.mark.browser]

CHAT_SOCKET = re.compile(r".*/ws/chat/$")


class Proxy:
    """Forwards the widget's socket to the server; tests change what passes through it."""

    def __init__(self) -> None:
        self.routes: list = []
        self.to_server: list[dict] = []      # every frame the page sent, in order
        self.fail_next_message = 0           # answer this many message frames with server_error
        self.limit_next_message = 0          # answer this many message frames with rate_limited
        self.drop_to_page = None             # predicate: a server frame the page never gets
        self.dropped: list[dict] = []

    def __call__(self, route) -> None:
        server = route.connect_to_server()
        self.routes.append((route, server))

        def from_page(raw) -> None:
            frame = json.loads(raw)
            self.to_server.append(frame)
            if frame.get("type") == "message" and self.fail_next_message:
                self.fail_next_message -= 1
                route.send(json.dumps({"type": "error", "code": "server_error",
                                       "message": "Something went wrong; try again."}))
                return
            if frame.get("type") == "message" and self.limit_next_message:
                self.limit_next_message -= 1
                route.send(json.dumps({"type": "error", "code": "rate_limited",
                                       "message": "Too many messages.", "retry_after": 3}))
                return
            server.send(raw)

        def to_page(raw) -> None:
            frame = json.loads(raw)
            if self.drop_to_page is not None and self.drop_to_page(frame):
                self.dropped.append(frame)
                return
            route.send(raw)

        route.on_message(from_page)
        server.on_message(to_page)

    def drop_line(self) -> None:
        route, server = self.routes[-1]
        route.close()
        server.close()

    def sent(self, kind: str) -> list[dict]:
        return [frame for frame in self.to_server if frame.get("type") == kind]


def wait_until(page, predicate, what: str) -> None:
    """Lets Playwright deliver frames until ``predicate()`` holds (bounded by a count of turns)."""
    for _ in range(300):
        if predicate():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never happened: {what}")


def paused_clock(page) -> None:
    """Stops the page's clock a second ahead: its timers fire only when the test runs them."""
    now_ms = page.evaluate("() => Date.now()")
    page.clock.pause_at(datetime.fromtimestamp(now_ms / 1000 + 1, tz=UTC))


def test_a_message_refused_with_server_error_is_sent_again_and_stored_once(
    daphne_server, celery_worker, demo, browser_context_factory
):
    context = browser_context_factory(viewport={"width": 1280, "height": 800})
    context.clock.install()
    proxy = Proxy()
    context.route_web_socket(CHAT_SOCKET, proxy)
    page = context.new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    paused_clock(page)

    proxy.fail_next_message = 2
    widget.send("How long does standard shipping take?")
    expect(widget.panel.locator(".sd-pending")).to_have_count(1)
    wait_until(page, lambda: proxy.fail_next_message == 1, "the first send refused")
    # First refusal: sent again within the first backoff step (0.5-1 s), not before.
    page.clock.run_for(400)
    assert len(proxy.sent("message")) == 1
    page.clock.run_for(700)
    wait_until(page, lambda: len(proxy.sent("message")) == 2, "the first resend")
    # Second refusal: the next step is 1-2 s.
    page.clock.run_for(2100)
    widget.wait_for_messages("customer", 1)
    widget.wait_for_messages("bot", 1)
    expect(widget.panel.locator(".sd-pending")).to_have_count(0)

    messages = proxy.sent("message")
    assert len(messages) == 3 and len({m["client_id"] for m in messages}) == 1
    assert len(proxy.routes) == 1  # resent on the same socket, not after a reconnect
    assert Message.objects.filter(author="customer").count() == 1


def test_messages_refused_as_rate_limited_are_sent_again_once_each_after_retry_after(
    daphne_server, celery_worker, demo, browser_context_factory
):
    """Several refusals in a row schedule one resend of the pending messages, not one per
    refusal (which would send each message once per refusal and be refused again)."""
    context = browser_context_factory(viewport={"width": 1280, "height": 800})
    context.clock.install()
    proxy = Proxy()
    context.route_web_socket(CHAT_SOCKET, proxy)
    page = context.new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    paused_clock(page)

    texts = ["Do you ship to Norway?", "What sizes do the boots come in?",
             "Can I pay with a gift card?", "Is the blue jacket in stock?"]
    proxy.limit_next_message = len(texts)
    for text in texts:
        widget.send(text)
    wait_until(page, lambda: proxy.limit_next_message == 0, "every message refused")
    expect(widget.panel.locator(".sd-pending")).to_have_count(len(texts))
    expect(widget.notice()).to_have_text(
        "You are sending messages quickly; we will send the rest in a moment.")
    page.clock.run_for(2500)  # retry_after is 3 s: nothing is sent before it
    assert len(proxy.sent("message")) == len(texts)
    page.clock.run_for(1000)
    widget.wait_for_messages("customer", len(texts))
    expect(widget.notice()).to_be_hidden()  # sent: the notice that said so goes
    page.clock.run_for(5000)  # no second resend is left waiting either
    page.wait_for_timeout(300)

    messages = proxy.sent("message")
    assert len(messages) == 2 * len(texts), [m["text"] for m in messages]
    assert sorted(m["text"] for m in messages[len(texts):]) == sorted(texts)
    assert Message.objects.filter(author="customer").count() == len(texts)


def test_a_reply_lost_on_the_way_is_fetched_on_rejoin(
    daphne_server, celery_worker, demo, browser_context_factory
):
    proxy = Proxy()
    context = browser_context_factory(viewport={"width": 1280, "height": 800})
    context.clock.install()
    context.route_web_socket(CHAT_SOCKET, proxy)
    page = context.new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    # Paused: the late notice's own rejoin (15 s) must not fetch the reply before the test does.
    paused_clock(page)

    proxy.drop_to_page = lambda f: f.get("type") == "message" and f.get("author") == "bot"
    widget.send("What is your return policy?")
    widget.wait_for_messages("customer", 1)
    conversation = Conversation.objects.get()
    first_answer = _wait_for_answer(page, conversation)
    # Stored first, then broadcast: the frame may still be on its way; it must be dropped
    # before the proxy lets bot replies through again.
    wait_until(page, lambda: [f["seq"] for f in proxy.dropped] == [first_answer.seq],
               "the first answer's frame dropped")

    proxy.drop_to_page = None
    widget.send("Do you ship to Canada?")
    widget.wait_for_messages("customer", 2)
    widget.wait_for_messages("bot", 1)  # the second answer; the first never reached the page
    expect(widget.panel.locator(f'[data-seq="{first_answer.seq}"]')).to_have_count(0)
    assert [f["seq"] for f in proxy.dropped] == [first_answer.seq]

    proxy.drop_line()
    page.clock.run_for(1000)  # the reconnect's first backoff step (0.25-0.5 s)
    widget.wait_for_messages("bot", 2)
    rejoin = proxy.sent("join")[-1]
    assert rejoin["missing_seqs"] == [first_answer.seq]
    assert rejoin["after_seq"] == conversation.messages.order_by("-seq").first().seq
    seqs = [int(s) for s in widget.messages().evaluate_all("els => els.map(e => e.dataset.seq)")]
    assert seqs == [1, 2, 3, 4]
    expect(widget.messages("bot").first).to_contain_text("return")


def _wait_for_answer(page, conversation: Conversation) -> Message:
    """The bot's first stored answer (the page, which never got it, has nothing to wait on)."""
    answers = conversation.messages.filter(author="bot").order_by("seq")
    wait_until(page, answers.exists, "the bot's answer stored")
    return answers.first()


def test_a_late_answer_says_so_and_offers_a_person(
    daphne_server, celery_worker, demo, browser_context_factory, artifacts_dir
):
    context = browser_context_factory(viewport={"width": 420, "height": 700})
    context.clock.install()
    proxy = Proxy()
    context.route_web_socket(CHAT_SOCKET, proxy)
    page = context.new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    late = widget.panel.locator("[data-sd=late]")

    # An answer in time: no notice, however long the customer then waits.
    widget.send("How long does standard shipping take?")
    widget.wait_for_messages("bot", 1)
    page.clock.fast_forward(20_000)
    expect(late).to_be_hidden()

    # The bot's answer is held back: after 15 s the widget says so and offers a person.
    proxy.drop_to_page = lambda f: f.get("type") == "message" and f.get("author") == "bot"
    widget.send("What is your return policy?")
    widget.wait_for_messages("customer", 2)
    page.clock.fast_forward(14_000)
    expect(late).to_be_hidden()
    page.clock.fast_forward(2_000)
    expect(late).to_be_visible()
    expect(late).to_contain_text("This is taking longer than usual")
    page.locator("#supportdesk-chat-panel").screenshot(
        path=str(artifacts_dir / "widget-late-notice.png")
    )

    widget.panel.locator("[data-sd=ask-person]").click()
    # The request goes the way a customer asks in words: the bot hands the conversation over.
    widget.wait_for_messages("system", 1)
    expect(late).to_be_hidden()
    conversation = Conversation.objects.get()
    assert conversation.status == "waiting"
    assert conversation.handoff_category == "human_request"


def test_a_late_answer_names_the_question_it_answers(
    daphne_server, demo, browser_context_factory, artifacts_dir
):
    """Two questions stored before the bot answers either: the first answer comes after both."""
    widget_row = Widget.objects.get(public_key="demo")
    conversation, token = services.conversation_start(widget=widget_row)
    with transaction.atomic():  # the bot's tasks run on commit, after both questions
        for text in ("What is your return policy?", "Do you ship to Canada?"):
            services.message_create_incoming(
                conversation=conversation, text=text, client_id=uuid.uuid4()
            )
    answers = list(conversation.messages.exclude(author="customer").order_by("seq"))
    assert [(m.seq, m.in_reply_to.seq) for m in answers] == [(3, 1), (4, 2)]

    page = browser_context_factory(viewport={"width": 1280, "height": 800}).new_page()
    widget = WidgetPage(page, daphne_server).goto_store().open()
    # This browser holds the conversation, as the panel keeps it across reloads.
    stored = {"conversationId": str(conversation.public_id), "token": token, "lastSeq": 0,
              "pending": []}
    widget.panel.locator("body").evaluate(
        "(body, stored) => localStorage.setItem('supportdesk-chat:demo', stored)",
        json.dumps(stored),
    )
    page.reload()
    widget = WidgetPage(page, daphne_server).open()
    widget.wait_for_messages("bot", 2)
    late_answer = widget.panel.locator('[data-seq="3"]')
    quote = late_answer.locator("[data-sd=reply-quote]")
    expect(quote).to_have_text("In reply to: “What is your return policy?”")
    # The answer to the latest question needs no quote.
    expect(widget.panel.locator('[data-seq="4"] [data-sd=reply-quote]')).to_have_count(0)
    quote.scroll_into_view_if_needed()
    panel = page.locator("#supportdesk-chat-panel")
    panel.screenshot(path=str(artifacts_dir / "widget-late-answer.png"))
    quote.click()
    expect(widget.panel.locator('[data-seq="1"]')).to_have_class(re.compile("sd-highlight"))
