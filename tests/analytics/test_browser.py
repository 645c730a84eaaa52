"""A manager uses the dashboard in a real Chromium under the strict CSP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from accounts.roles import MANAGERS, ensure_role_groups
from knowledge.models import Intent
from tests.analytics.conftest import History
from tests.conftest import DEMO_PASSWORD, login


def _forget_cached_reports(widget) -> None:
    """The server caches report sources in the shared Redis cache for a while; drop the
    entries of the scopes this test looks at, which an earlier run may have left."""
    from django.core.cache import cache

    from analytics.forms import ReportForm
    from analytics.kpis import SOURCES, Report

    queries = [
        {"range": "30"},
        {"range": "7"},
        {"range": "7", "intent": "return_request"},
        {"range": "custom", "start": "2020-01-01", "end": "2020-01-31", "intent": "return_request"},
    ]
    for query in queries:
        form = ReportForm(query)
        assert form.is_valid(), form.errors
        report = Report(form.scope())
        cache.delete_many([report._key(name) for name in (*SOURCES, "refreshing")])


@pytest.mark.services
@pytest.mark.browser
def test_manager_changes_range_and_filter_and_the_dashboard_follows(daphne_server, page, widget):
    from playwright.sync_api import expect

    ensure_role_groups()
    manager = User.objects.create_user(username="manager", password=DEMO_PASSWORD)
    manager.groups.add(Group.objects.get(name=MANAGERS))
    for slug in ("order_status", "return_request"):
        Intent.objects.create(slug=slug, name=slug.replace("_", " ").title())
    now = timezone.now()
    # Two conversations this week, one three weeks ago.
    for days_ago, intent in ((1, "order_status"), (2, "return_request"), (20, "order_status")):
        h = History(widget, now - timedelta(days=days_ago, hours=1))
        h.customer(0, "hello there")
        h.bot_reply(600, intent)
        h.resolve(90, "bot_confirmed")

    _forget_cached_reports(widget)

    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and ("Content Security Policy" in m.text or "Refused" in m.text)
            else None
        ),
    )
    failed: list[str] = []
    page.on(
        "response",
        lambda r: (
            failed.append(f"{r.status} {r.url}")
            if r.status >= 400 and "/favicon.ico" not in r.url
            else None
        ),
    )

    login(page, daphne_server, "manager")
    page.goto(f"{daphne_server}/analytics/?range=30")
    conversations = page.locator("[data-sd=kpi-conversations]")
    expect(conversations).to_have_text("3")
    daily = page.locator("canvas[data-chart=chart-data-conversations_daily]")
    expect(daily).to_have_attribute("data-drawn", "3")  # Chart.js drew the 3 conversations
    page.evaluate("window.__sameDocument = true")

    page.click("[data-sd=range-7]")
    expect(conversations).to_have_text("2")
    expect(daily).to_have_attribute("data-drawn", "2")
    assert "range=7" in page.url  # hx-push-url keeps the address shareable

    page.select_option("#id_intent", "return_request")
    expect(conversations).to_have_text("1")
    expect(page.locator("canvas[data-chart=chart-data-conversations_daily]")).to_have_attribute(
        "data-drawn", "1"
    )
    expect(page.locator("[data-sd=kpi-bot_resolution_rate]")).to_have_text("100.0%")
    assert "intent=return_request" in page.url
    assert page.evaluate("window.__sameDocument") is True  # no page reload

    # A custom range with nothing in it shows the empty state, not an error; the form waits
    # for both dates before it asks.
    page.fill("#id_start", "2020-01-01")
    expect(page.locator("[data-sd=range-custom]")).to_be_checked()
    page.fill("#id_end", "2020-01-31")
    expect(page.locator("[data-sd=empty]")).to_be_visible()
    expect(conversations).to_have_text("0")
    assert "start=2020-01-01" in page.url

    # An impossible range gets the error in place of the report.
    page.fill("#id_start", "2020-02-15")
    expect(page.locator("[data-sd=errors]")).to_contain_text("start date must not be after")

    assert not problems, problems  # no script error, nothing refused by the CSP
    assert failed == [
        f"400 {daphne_server}/analytics/?range=custom&start=2020-02-15"
        f"&end=2020-01-31&intent=return_request&widget=&tz=UTC"
    ], failed


@pytest.mark.services
@pytest.mark.browser
def test_phone_layout_has_no_sideways_scroll_and_definitions_open(daphne_server, page, widget):
    """At 390 px nothing is wider than the screen, even a 690-character word in a gap
    message; a tile's definition opens from its info button. Screenshots at 1280 and 390 px
    go to $SD_SCREENSHOTS when it is set."""
    import os

    from playwright.sync_api import expect

    ensure_role_groups()
    admin_group = Group.objects.get(name="admins")
    admin = User.objects.create_user(username="admin1", password=DEMO_PASSWORD)
    admin.groups.add(admin_group, Group.objects.get(name=MANAGERS))
    for slug in ("order_status", "return_request"):
        Intent.objects.create(slug=slug, name=slug.replace("_", " ").title())
    now = timezone.now()
    long_word = "x" * 690
    for days_ago, text in ((1, f"what is {long_word}"), (2, "do you sell gift cards"),
                           (3, "do you sell gift vouchers")):
        h = History(widget, now - timedelta(days=days_ago, hours=1))
        h.customer(0, text)
        h.bot_reply(600, "general_inquiry", confidence=0.1, fallback=True)
    # Eleven more groups (made-up words, none shared), one of them marked out of scope:
    # 12 open groups, ten shown at first.
    import random

    from analytics.gaps import gap_mark_out_of_scope

    rng = random.Random(390)
    made_up = [
        " ".join("".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3))
                 for _ in range(3))
        for _ in range(11)
    ]
    for i, text in enumerate(made_up):
        h = History(widget, now - timedelta(days=4, hours=i))
        h.customer(0, text)
        h.bot_reply(600, "general_inquiry", confidence=0.1, fallback=True)
    gap_mark_out_of_scope(actor=admin, texts=[made_up[0]])
    _forget_cached_reports(widget)

    login(page, daphne_server, "admin1")
    shots = os.environ.get("SD_SCREENSHOTS", "")
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{daphne_server}/analytics/?range=30")
        expect(page.locator("[data-sd=timezone]")).to_have_text("UTC")
        expect(page.locator("[data-sd=gap-group]").first).to_be_visible()
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        wide = page.evaluate(
            """() => {
                const edge = document.documentElement.clientWidth + 1;
                return [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > edge).slice(0, 5)
                    .map(e => e.tagName + '.' + e.className);
            }"""
        )
        assert overflow <= 0, f"{overflow} px of sideways scroll at {width} px: {wide}"
        # An admin's gap table has a "Try in playground" button per row: it wraps too.
        playground = page.locator("[data-sd=chart-gap_messages] [data-sd=fix-link]")
        expect(playground.first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        info = page.locator("[data-sd=kpi-info]").first
        definition = info.locator(".definition")
        expect(definition).to_be_hidden()
        info.locator("summary").click()
        expect(definition).to_be_visible()
        if shots:
            page.screenshot(path=f"{shots}/analytics-{width}-top.png")
            page.locator("#gaps").screenshot(path=f"{shots}/analytics-{width}-gaps.png")
            page.locator("[data-sd=chart-gap_messages]").screenshot(
                path=f"{shots}/analytics-{width}-gap-table.png"
            )
        info.locator("summary").click()

    # Show more, at 390 px: the last two groups come in place, and still no sideways scroll;
    # the group marked out of scope is listed apart with who marked it.
    groups = page.locator("[data-sd=gap-group]")
    expect(groups).to_have_count(10)
    page.evaluate("window.__sameDocument = true")
    page.click("[data-sd=gap-more]")
    expect(groups).to_have_count(12)
    expect(page.locator("[data-sd=gap-more]")).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True
    aside = page.locator("[data-sd=gaps-out-of-scope]")
    aside.locator("summary").click()
    expect(aside.locator("[data-sd=gap-group-out-of-scope]")).to_contain_text(made_up[0])
    expect(aside.locator("[data-sd=gap-done]")).to_contain_text("Marked out of scope, by admin1")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    if shots:
        page.locator("#gaps").screenshot(path=f"{shots}/analytics-390-gaps-all.png")


@pytest.mark.services
@pytest.mark.browser
def test_a_gap_group_becomes_phrases_and_the_bot_then_answers_it(
    daphne_server, celery_worker, page, browser_context_factory, widget
):
    """On the demo's taxonomy: a manager sees a group of gap messages (generated by
    ``test_teaching.generated_gaps``); an admin adds them as training phrases of the group's
    suggested intent from the dashboard, retrains from the knowledge admin (the new model
    activates by itself), and the playground then puts every one of them in that intent;
    the gap view says what was done, by whom, and the share of gaps before and after.
    Screenshots go to $SD_SCREENSHOTS when it is set."""
    import os

    from playwright.sync_api import expect

    from knowledge.models import ClassifierModel
    from knowledge.training import classifier_create, classifier_train
    from supportdesk.management.commands.load_demo import DEMO_KNOWLEDGE, load_knowledge
    from tests.analytics.test_teaching import generated_gaps

    shots = os.environ.get("SD_SCREENSHOTS")
    ensure_role_groups()
    manager = User.objects.create_user(username="manager2", password=DEMO_PASSWORD)
    manager.groups.add(Group.objects.get(name=MANAGERS))
    admin = User.objects.create_user(username="admin2", password=DEMO_PASSWORD)
    admin.groups.add(Group.objects.get(name="admins"), Group.objects.get(name=MANAGERS))
    load_knowledge(DEMO_KNOWLEDGE)
    first = classifier_train(model=classifier_create())
    gaps = generated_gaps("kayak", 8, 11)
    now = timezone.now()
    for hours, text in enumerate(gaps):
        h = History(widget, now - timedelta(days=1, hours=hours))
        h.customer(0, text)
        h.bot_reply(600, "general_inquiry", confidence=0.2, fallback=True)
    _forget_cached_reports(widget)

    login(page, daphne_server, "manager2")
    page.goto(f"{daphne_server}/analytics/?range=30")
    # The largest group these messages make: the one taught.
    group = page.locator("[data-sd=gap-group]").first
    expect(group).to_be_visible()
    key = group.get_attribute("data-group")
    assert group.locator(".gap-text").first.inner_text() in gaps
    expect(group.locator("[data-sd=gap-add-phrases]")).to_have_count(0)  # managers only look

    admin_page = browser_context_factory().new_page()
    login(admin_page, daphne_server, "admin2")
    admin_page.goto(f"{daphne_server}/analytics/?range=30")
    group = admin_page.locator(f"[data-sd=gap-group][data-group='{key}']")
    texts = group.locator("input[name=text]").evaluate_all("els => els.map(e => e.value)")
    assert set(texts) <= set(gaps) and len(texts) >= 2
    suggested = group.locator("[data-sd=gap-intent]").input_value()
    assert suggested and suggested != "general_inquiry"
    assert "general_inquiry" not in group.locator("[data-sd=gap-intent] option").all_inner_texts()
    group.locator("[data-sd=gap-add-phrases]").click()
    admin_page.wait_for_load_state("networkidle")
    expect(admin_page.locator(".flash")).to_contain_text(f"training phrases of {suggested}")
    done = group.locator("[data-sd=gap-done]")
    expect(done).to_contain_text(f"Added as training phrases of {suggested}, by admin2")
    expect(done).to_contain_text("after: waiting for the next training")

    # Retrain from the knowledge admin (the Celery worker trains); the model that knows the
    # new phrases activates by itself: nobody activates it by hand.
    admin_page.goto(f"{daphne_server}/knowledge/training/")
    admin_page.click("[data-sd=train]")
    admin_page.wait_for_selector("[data-sd=model-status][data-status=ready]", timeout=120_000)
    second = ClassifierModel.objects.order_by("-version").first()
    assert second.version > first.version
    assert second.is_active, second.metrics.get("activation")
    for text in texts:
        admin_page.goto(f"{daphne_server}/knowledge/playground/")
        admin_page.fill("#id_text", text)
        admin_page.click("[data-sd=playground-send]")
        expect(admin_page.locator("[data-sd=pg-intent]")).to_have_text(suggested)

    admin_page.goto(f"{daphne_server}/analytics/?range=30")
    effect = group.locator("[data-sd=gap-effect]")
    share = f"{len(texts) / len(gaps) * 100:.1f}%"
    expect(effect).to_contain_text(f"Share of the gaps: before {share}, after the training of")
    if shots:
        admin_page.set_viewport_size({"width": 1280, "height": 900})
        admin_page.locator("#gaps").screenshot(path=f"{shots}/gaps-after-teaching.png")
