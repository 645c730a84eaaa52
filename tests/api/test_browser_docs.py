"""A person makes a token on the tokens page and reads the API docs page in Chromium: the
Swagger UI comes from the project's static files, with no CSP violation."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import expect

from tests.conftest import DEMO_PASSWORD, login


@pytest.mark.services
@pytest.mark.browser
def test_make_a_token_then_read_the_docs_page_under_the_strict_csp(
    daphne_server, browser_context_factory, artifacts_dir
):
    user = User.objects.create_user(username="ada", password=DEMO_PASSWORD)
    user.groups.add(Group.objects.get(name="agents"))
    page = browser_context_factory(permissions=["clipboard-read", "clipboard-write"]).new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith((daphne_server, "data:")) else None,
    )
    login(page, daphne_server, "ada")
    page.click("[data-sd=nav-api-tokens]")
    page.fill("#id_name", "Warehouse export")
    page.click("[data-sd=token-make]")
    token = page.locator("[data-sd=token-value]").inner_text()
    assert token.startswith("sdk_")
    assert page.locator("[data-sd=token-row]").count() == 1
    # Shown once: the Copy button puts it on the clipboard and says so.
    page.click("[data-sd=copy-token]")
    expect(page.locator("[data-copy-status=api-token]")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == token
    page.screenshot(path=str(artifacts_dir / "api-tokens.png"), full_page=True)

    page.goto(f"{daphne_server}/api/docs/")
    page.locator(".opblock-summary-path", has_text="/api/v1/conversations/").first.wait_for()
    page.screenshot(path=str(artifacts_dir / "api-docs.png"), full_page=False)
    status = page.evaluate(
        """async (token) => (await fetch('/api/v1/contacts/',
               {headers: {Authorization: 'Bearer ' + token}})).status""",
        token,
    )
    assert status == 200
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    assert not outside, outside
