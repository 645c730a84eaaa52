"""Page objects for the chat widget in a real browser (shared with the console's end-to-end test).

The widget lives in an iframe on the host page; every hook is a ``data-sd`` attribute.
"""

from __future__ import annotations

from playwright.sync_api import FrameLocator, Locator, Page, expect

PANEL = "#supportdesk-chat-panel"
# Generous: a worker process loads the classifier on its first turn, on a shared machine.
REPLY_TIMEOUT_MS = 45_000


class WidgetPage:
    """A customer on the demo store with the chat widget."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def goto_store(self) -> WidgetPage:
        self.page.goto(f"{self.base_url}/demo/")
        return self

    def open(self) -> WidgetPage:
        launcher = self.page.locator("[data-sd=launcher]")
        expect(launcher).to_be_visible()
        if launcher.get_attribute("aria-expanded") != "true":
            launcher.click()
        expect(launcher).to_have_attribute("aria-expanded", "true")
        expect(self.panel.locator("[data-sd=input]")).to_be_visible()
        # The panel's script enables Send once it handles the form: a key pressed before that
        # would only add a line to the box.
        expect(self.panel.locator("[data-sd=send]")).to_be_enabled()
        return self

    @property
    def panel(self) -> FrameLocator:
        return self.page.frame_locator(PANEL)

    def send(self, text: str) -> None:
        box = self.panel.locator("[data-sd=input]")
        box.fill(text)
        self.panel.locator("[data-sd=send]").click()

    def messages(self, author: str | None = None) -> Locator:
        selector = "[data-sd=message]"
        if author:
            selector += f"[data-author={author}]"
        return self.panel.locator(selector)

    def wait_for_messages(self, author: str, count: int) -> Locator:
        """Waits until ``count`` stored messages by ``author`` are on screen (acknowledged)."""
        locator = self.panel.locator(f"[data-sd=message][data-author={author}][data-seq]")
        expect(locator).to_have_count(count, timeout=REPLY_TIMEOUT_MS)
        return locator

    def notice(self) -> Locator:
        return self.panel.locator("[data-sd=notice]")

    def star(self, score: int) -> Locator:
        return self.panel.locator(f"[data-sd=rating-star][data-score='{score}']")

    def rate(self, score: int, comment: str = "") -> None:
        form = self.panel.locator("[data-sd=rating-form]")
        expect(form).to_be_visible(timeout=REPLY_TIMEOUT_MS)
        self.panel.locator(f"[data-sd=rating-star][data-score='{score}']").click()
        expect(self.star(score)).to_have_attribute("aria-checked", "true")
        if comment:
            self.panel.locator("[data-sd=rating-comment]").fill(comment)
        self.panel.locator("[data-sd=rating-send]").click()
        expect(self.notice()).to_contain_text("Thank you", timeout=REPLY_TIMEOUT_MS)
