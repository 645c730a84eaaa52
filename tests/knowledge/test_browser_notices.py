"""What an admin sees when an htmx request is refused: the reason in place, or a notice."""

import pytest
from django.contrib.auth.models import Group, User

from tests.conftest import DEMO_PASSWORD, login


def _admin(username: str) -> User:
    admin = User.objects.create_user(username=username, password=DEMO_PASSWORD)
    admin.groups.add(Group.objects.get(name="admins"))
    return admin


@pytest.mark.services
@pytest.mark.browser
@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("broken.json", b'{"intents": [', "JSON"),
        ("nul.json", b'{"intents": [{"slug": "a\\u0000b", "name": "x", "phrases": []}]}', "NUL"),
    ],
)
def test_a_refused_import_shows_its_reasons_on_the_page(
    daphne_server, page, tmp_path, name, body, reason
):
    _admin("importer")
    login(page, daphne_server, "importer")
    page.goto(f"{daphne_server}/knowledge/import/")
    upload = tmp_path / name
    upload.write_bytes(body)
    page.set_input_files("input[type=file]", str(upload))
    page.click("[data-sd=import-submit]")
    problems = page.wait_for_selector("[data-sd=import-problems], .kn-problems", timeout=10_000)
    text = problems.inner_text()
    assert "Nothing was imported" in text or "error" in text.lower()
    assert reason in text
    assert page.locator("[data-sd=htmx-notice]").is_hidden()


@pytest.mark.services
@pytest.mark.browser
def test_a_failed_request_with_nothing_to_show_is_named_in_a_notice(daphne_server, page):
    _admin("noticer")
    login(page, daphne_server, "noticer")
    page.goto(f"{daphne_server}/knowledge/import/")
    notice = page.locator("[data-sd=htmx-notice]")
    assert notice.is_hidden()
    page.evaluate(
        "() => htmx.ajax('GET', '/knowledge/intents/987654321/', {target: '#import-outcome'})"
    )
    notice.wait_for(state="visible", timeout=10_000)
    assert "no longer exists" in notice.inner_text()
    # The outcome area kept what it had: a 404 page is not swapped into it.
    assert "Not found" not in page.inner_text("#import-outcome")


@pytest.mark.services
@pytest.mark.browser
@pytest.mark.parametrize("path", ["/knowledge/connectors/", "/analytics/", "/console/"])
def test_the_first_tab_offers_to_skip_the_top_bar(daphne_server, page, path):
    _admin("skipper").groups.add(*Group.objects.filter(name__in=["agents", "managers"]))
    login(page, daphne_server, "skipper")
    page.goto(f"{daphne_server}{path}")
    skip = page.locator("[data-sd=skip-link]")
    box = skip.bounding_box()
    assert box is None or box["y"] + box["height"] <= 0  # out of sight until focused
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.dataset.sd") == "skip-link"
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0 and box["height"] > 10
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    # The next Tab lands in the page's own content, not in the top bar.
    page.keyboard.press("Tab")
    assert page.evaluate(
        "() => !!document.activeElement.closest('main')"
        " && !document.activeElement.closest('header')"
    )
