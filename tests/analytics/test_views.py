"""The dashboard through the real door: permissions, htmx fragments, chart JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.rollup import rollup_refresh
from knowledge.models import Intent
from tests.analytics.conftest import at

MARCH = "range=custom&start=2026-03-01&end=2026-03-07"
URLS = [
    "/analytics/",
    "/analytics/tiles/",
    "/analytics/charts/conversations_daily/",
    "/analytics/charts/conversations_daily/?format=csv",
    "/analytics/charts/gap_messages/?format=csv",
]


@pytest.fixture
def march(history, agent_user):
    for slug in ("order_status", "billing_dispute"):
        Intent.objects.create(slug=slug, name=slug.replace("_", " ").title())
    a = history(at("2026-03-02", 9))
    a.customer(0, "Where is my order?")
    a.bot_reply(400, "order_status")
    a.resolve(90, "bot_confirmed")
    a.rate(100, 5)
    b = history(at("2026-03-03", 9))
    b.customer(0, '=HYPERLINK("http://evil")')
    b.handoff(2, "billing_dispute", "billing")
    b.agent_reply(62, agent_user, first=True)
    b.resolve(300, "agent", agent=agent_user)
    return a, b


@pytest.mark.django_db
@pytest.mark.parametrize("url", URLS)
def test_anonymous_users_go_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("url", URLS)
def test_agents_get_403_everywhere(agent_client, url):
    assert agent_client.get(url).status_code == 403
    assert agent_client.get(url, headers={"HX-Request": "true"}).status_code == 403


@pytest.mark.django_db
def test_users_without_role_get_403(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="x-pass-123"))
    assert client.get("/analytics/").status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("url", URLS)
def test_managers_and_admins_get_in(manager_client, url):
    assert manager_client.get(url).status_code == 200


@pytest.mark.django_db
def test_admins_see_the_dashboard(admin_client_role):
    assert admin_client_role.get("/analytics/").status_code == 200


@pytest.mark.django_db
def test_full_page_shows_tiles_definitions_and_charts(manager_client, march):
    response = manager_client.get(f"/analytics/?{MARCH}")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html
    assert 'data-sd="kpi-conversations">2<' in html
    assert 'data-sd="kpi-handoff_rate">50.0%<' in html
    assert "resolved without an agent" in html  # the definition, behind its info button
    assert 'data-chart="chart-data-conversations_daily"' in html
    assert '<script id="chart-data-conversations_daily" type="application/json">' in html
    assert "vendor/chart.umd.min.js" in html
    # Strict CSP: no inline script code and no style attributes.
    assert " style=" not in html
    for chunk in html.split("<script")[1:]:
        head = chunk.split(">", 1)[0]
        assert "src=" in head or 'type="application/json"' in head, head
    # Customer text is escaped, never markup.
    assert "=HYPERLINK(&quot;http://evil&quot;)" in html.lower() or "hyperlink" in html.lower()
    assert '<a href="http://evil' not in html


@pytest.mark.django_db
def test_htmx_request_gets_only_the_report_fragment(manager_client, march):
    response = manager_client.get(f"/analytics/?{MARCH}", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="report"')
    assert 'data-sd="kpi-conversations">2<' in html
    # The tiles poller inside carries the same filters.
    tiles_url = "/analytics/tiles/?range=custom&amp;start=2026-03-01&amp;end=2026-03-07&amp;tz=UTC"
    assert f'hx-get="{tiles_url}"' in html


@pytest.mark.django_db
def test_filters_change_the_numbers(manager_client, march):
    html = manager_client.get(
        f"/analytics/?{MARCH}&intent=order_status", headers={"HX-Request": "true"}
    ).content.decode()
    assert 'data-sd="kpi-conversations">1<' in html
    assert 'data-sd="kpi-handoff_rate">0.0%<' in html


@pytest.mark.django_db
def test_tiles_fragment_polls_itself(manager_client, march):
    response = manager_client.get(f"/analytics/tiles/?{MARCH}", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="tiles"')
    assert 'hx-trigger="every 30s"' in html
    assert 'data-sd="kpi-bot_resolution_rate">50.0%<' in html
    assert "chart-data-" not in html


@pytest.mark.django_db
def test_empty_period_shows_the_empty_state(manager_client, march):
    response = manager_client.get("/analytics/?range=custom&start=2020-01-01&end=2020-01-31")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-sd="empty"' in html
    assert "data-chart=" not in html
    assert 'data-sd="kpi-bot_resolution_rate">—<' in html


@pytest.mark.django_db
def test_presets_count_from_today(manager_client, history):
    c = history(timezone.now() - timedelta(days=10))
    c.customer(0)
    html = manager_client.get("/analytics/?range=7").content.decode()
    assert 'data-sd="kpi-conversations">0<' in html
    html = manager_client.get("/analytics/?range=30").content.decode()
    assert 'data-sd="kpi-conversations">1<' in html
    html = manager_client.get("/analytics/").content.decode()  # 30 days by default
    assert 'data-sd="kpi-conversations">1<' in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "range=custom&start=2026-03-07&end=2026-03-01",
        "range=custom&start=2026-03-01",
        "range=custom&start=2024-01-01&end=2026-03-01",
        "range=365",
        "range=custom&start=notadate&end=2026-03-01",
        "range=custom&start=0001-01-01&end=0001-01-02",
        "range=custom&start=9999-12-30&end=9999-12-31",
        "range=custom&start=1999-12-31&end=2000-01-02",
        "widget=999999",
        "intent=no_such_intent",
    ],
)
def test_bad_filters_get_a_clear_400(manager_client, query):
    response = manager_client.get(f"/analytics/?{query}", headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert 'data-sd="errors"' in response.content.decode()
    assert manager_client.get(f"/analytics/charts/intents/?{query}").status_code == 400
    assert manager_client.get(f"/analytics/tiles/?{query}").status_code == 400
    csv_url = f"/analytics/charts/gap_messages/?{query}&format=csv"
    assert manager_client.get(csv_url).status_code == 400


@pytest.mark.django_db
def test_chart_json(manager_client, march):
    response = manager_client.get(f"/analytics/charts/conversations_daily/?{MARCH}")
    data = response.json()
    assert data["key"] == "conversations_daily"
    assert data["start"] == "2026-03-01" and data["end"] == "2026-03-07"
    assert data["labels"][:3] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    by_key = {ds["key"]: ds["data"] for ds in data["datasets"]}
    assert by_key["resolved_bot"][:3] == [0, 1, 0]
    assert by_key["resolved_agent"][:3] == [0, 0, 1]


@pytest.mark.django_db
def test_embedded_chart_json_matches_the_endpoint(manager_client, march):
    html = manager_client.get(f"/analytics/?{MARCH}").content.decode()
    start = html.index('<script id="chart-data-handoff_reasons" type="application/json">')
    embedded = html[start:].split(">", 1)[1].split("</script>", 1)[0]
    endpoint = manager_client.get(f"/analytics/charts/handoff_reasons/?{MARCH}").json()
    assert json.loads(embedded) == {"labels": endpoint["labels"], "datasets": endpoint["datasets"]}


@pytest.mark.django_db
def test_csv_export(manager_client, march):
    response = manager_client.get(f"/analytics/charts/conversations_daily/?{MARCH}&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    # A UTF-8 byte-order mark first, so that Excel reads "Grüße" as it was written.
    assert response.content.startswith("\ufeff".encode())
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="conversations_daily_2026-03-01_2026-03-07.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["day", "Resolved by bot", "Resolved by agent", "Abandoned", "Open"]
    assert rows[1:4] == [
        ["2026-03-01", "0", "0", "0", "0"],
        ["2026-03-02", "1", "0", "0", "0"],
        ["2026-03-03", "0", "1", "0", "0"],
    ]
    assert len(rows) == 8


@pytest.mark.django_db
def test_csv_neutralises_formulas_in_customer_text(manager_client, march):
    response = manager_client.get(f"/analytics/charts/gap_messages/?{MARCH}&format=csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["message", "Fallbacks and handoffs"]
    assert rows[1] == ['\'=hyperlink("http://evil")', "1"]


@pytest.mark.django_db
def test_kpi_csv_has_every_kpi(manager_client, march):
    response = manager_client.get(f"/analytics/charts/kpis/?{MARCH}&format=csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["kpi", "This period", "Previous period"]
    by_label = {row[0]: row[1:] for row in rows[1:]}
    assert by_label["Conversations"] == ["2", "0"]
    assert by_label["Handed to a person"] == ["0.5", ""]


@pytest.mark.django_db
def test_unknown_chart_and_format(manager_client):
    assert manager_client.get("/analytics/charts/nope/").status_code == 404
    assert manager_client.get("/analytics/charts/intents/?format=xml").status_code == 400


@pytest.mark.django_db
def test_dashboard_query_count_is_bounded(manager_client, march, django_assert_max_num_queries):
    # Beat keeps the rollup fresh; a refresh's own statements are bounded in test_rollup.py.
    rollup_refresh()
    # The gaps and articles add a fixed few: gap groups, actions taken, always-policy
    # intents, the taxonomy's check, the article figures and their titles, the data
    # connectors' counts (by outcome, the bot's resolutions after them, their names) and
    # their calls' counts (by outcome with the time, their names).
    with django_assert_max_num_queries(31):
        manager_client.get(f"/analytics/?{MARCH}")


@pytest.mark.django_db
def test_history_restore_gets_the_full_page(manager_client, march):
    response = manager_client.get(
        f"/analytics/?{MARCH}",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in response.content.decode()
    assert "HX-Request" in response["Vary"]


@pytest.mark.django_db
def test_page_tiles_and_csv_of_one_scope_share_the_cached_sources(
    manager_client, march, django_assert_max_num_queries
):
    manager_client.get(f"/analytics/?{MARCH}")
    # Within the cache window the tiles poll and a CSV reuse the computed sources: no KPI
    # query runs again (only the session, user, role and filter-choice lookups).
    with django_assert_max_num_queries(6):
        html = manager_client.get(f"/analytics/tiles/?{MARCH}").content.decode()
    assert 'data-sd="kpi-conversations">2<' in html
    with django_assert_max_num_queries(6):
        manager_client.get(f"/analytics/charts/conversations_daily/?{MARCH}&format=csv")


@pytest.mark.django_db
def test_stale_sources_are_served_at_once_and_refreshed_in_the_background(
    manager_client, march, history, django_capture_on_commit_callbacks, report_cache
):
    from analytics.forms import ReportForm
    from analytics.kpis import SOURCES, Report

    tiles_url = f"/analytics/tiles/?{MARCH}"
    assert 'kpi-conversations">2<' in manager_client.get(tiles_url).content.decode()
    late = history(at("2026-03-05", 9))
    late.customer(0, "one more")
    # Fresh for FRESH_SECONDS: the cached numbers are served, nothing is queued.
    with django_capture_on_commit_callbacks() as queued:
        assert 'kpi-conversations">2<' in manager_client.get(tiles_url).content.decode()
    assert queued == []
    # Once stale, the old numbers still come at once and one refresh is queued (and runs).
    form = ReportForm(dict(pair.split("=") for pair in MARCH.split("&")))
    assert form.is_valid()
    report = Report(form.scope(), cache=True)
    for name in SOURCES:
        entry = report_cache.get(report._key(name))
        if entry is not None:
            report_cache.set(report._key(name), (entry[0] - 3600, entry[1]))
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert 'kpi-conversations">2<' in manager_client.get(tiles_url).content.decode()
    assert len(queued) == 1
    assert 'kpi-conversations">3<' in manager_client.get(tiles_url).content.decode()


@pytest.mark.django_db
def test_knowledge_gap_links_only_for_those_who_can_fix_them(
    manager_client, admin_client_role, march
):
    manager_html = manager_client.get(f"/analytics/?{MARCH}").content.decode()
    assert 'data-sd="table-gap_intents"' in manager_html
    assert 'data-sd="fix-link"' not in manager_html  # managers cannot open /knowledge/
    admin_html = admin_client_role.get(f"/analytics/?{MARCH}").content.decode()
    billing = Intent.objects.get(slug="billing_dispute")
    assert f'href="/knowledge/intents/{billing.pk}/" data-sd="fix-link"' in admin_html
    assert "/knowledge/playground/?" not in admin_html


@pytest.mark.django_db
def test_try_in_playground_posts_the_message_and_fills_the_playground(
    admin_client_role, march, monkeypatch
):
    import html
    import re

    from knowledge.bot import bot_registered
    from tests.knowledge.test_views import fake_turn

    admin_html = admin_client_role.get(f"/analytics/?{MARCH}").content.decode()
    forms = re.findall(
        r'<form method="post" action="(/knowledge/playground/)" class="inline-form">'
        r'.*?name="text" value="([^"]*)">', admin_html
    )
    assert forms, "a gap message has its playground form"
    action, text = forms[0]
    assert text and text not in action
    calls: list[dict] = []
    monkeypatch.setattr(bot_registered(), "playground_turn", fake_turn(calls))
    response = admin_client_role.post(action, {"text": html.unescape(text)})
    assert response.status_code == 200
    assert [call["text"] for call in calls] == [html.unescape(text)]
    page = response.content.decode()
    assert re.search(r'<textarea name="text"[^>]*>\s*' + re.escape(text) + r"</textarea>", page)
    assert 'data-sd="trace"' in page or "order_status" in page


@pytest.mark.django_db
def test_custom_dates_outside_the_span_are_refused_with_the_span(manager_client):
    today = timezone.localdate()
    too_late = today + timedelta(days=400)
    response = manager_client.get(
        f"/analytics/?range=custom&start={too_late - timedelta(days=1)}&end={too_late}"
    )
    assert response.status_code == 400
    assert "Dates must lie between 2000-01-01 and" in response.content.decode()
    # The edges themselves are fine.
    ok = manager_client.get("/analytics/?range=custom&start=2000-01-01&end=2000-01-31")
    assert ok.status_code == 200
    soon = today + timedelta(days=300)
    response = manager_client.get(f"/analytics/?range=custom&start={soon}&end={soon}")
    assert response.status_code == 200


def test_the_dashboard_counts_connector_answers_and_failures_by_connector(manager_client, march):
    from analytics.models import EventName, ReportingEvent

    base = ReportingEvent.objects.filter(name=EventName.BOT_REPLIED).first()
    assert base is not None
    categories = ["connector:Order status"] * 3 + ["connector_failed:Order status"] + [
        "connector:Recent orders", "connector_not_found:Order status",
    ]
    for category in categories:
        base.pk = None
        base.category = category
        base.save()
    page = manager_client.get(f"/analytics/?{MARCH}").content.decode()
    section = page.split('data-sd="connector-stats"', 1)[1].split("</section>", 1)[0]
    resolved = '<td data-label="Resolved by the bot" data-sd="connector-resolved">0</td>'

    def row(name: str, answered: int, not_found: int, failed: int) -> str:
        return (f'<tr><td data-label="Connector">{name}</td>'
                f'<td data-label="Answered">{answered}</td>'
                f'<td data-label="Not found">{not_found}</td>'
                f'<td data-label="Failed">{failed}</td>{resolved}</tr>')

    assert row("Order status", 3, 1, 1) in section
    assert row("Recent orders", 1, 0, 0) in section
    assert "Resolved by the bot" in section and "Not found" in section


def test_the_dashboard_counts_every_connector_call_and_its_mean_time(manager_client, march):
    from analytics.models import EventName, ReportingEvent
    from knowledge.models import Connector

    orders = Connector.objects.create(name="Order status", url_template="https://shop.example/x",
                                      reply_template="{{ x }}")
    base = ReportingEvent.objects.filter(name=EventName.BOT_REPLIED).first()
    assert base is not None
    # One turn's three calls to one connector (two found, one timing out).
    for category, ms in [(f"ok:{orders.pk}", 100.0), (f"ok:{orders.pk}", 200.0),
                         (f"failed:{orders.pk}", 3000.0)]:
        base.pk = None
        base.name, base.category, base.value = EventName.CONNECTOR_CALLED, category, ms
        base.save()
    page = manager_client.get(f"/analytics/?{MARCH}").content.decode()
    section = page.split('data-sd="connector-stats"', 1)[1].split("</section>", 1)[0]
    assert 'data-sd="connector-calls"' in section
    assert ('<tr><td data-label="Connector">Order status</td><td data-label="Calls">3</td>'
            '<td data-label="Succeeded">2</td><td data-label="Not found">0</td>'
            '<td data-label="Failed">1</td><td data-label="Mean time">1100 ms</td></tr>'
            ) in section
    assert "every call counts" in section


def test_no_connector_section_without_connector_replies(manager_client, march):
    page = manager_client.get(f"/analytics/?{MARCH}").content.decode()
    assert 'data-sd="connector-stats"' not in page
