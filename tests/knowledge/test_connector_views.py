"""The connector admin pages: saving with every check, write-only headers, the Test button
with secrets masked, and the audit log without header values."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from knowledge import connector_network, connectors
from knowledge.importexport import taxonomy_export
from knowledge.models import AuditLogEntry, Connector, Intent
from tests.fake_company_api import FakeCompanyApi

pytestmark = pytest.mark.django_db

SECRET = "tok-5ecret-q7w8e9"
URL = "/knowledge/connectors/"


@pytest.fixture
def api(settings):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = True
    server = FakeCompanyApi()
    yield server
    server.close()


@pytest.fixture
def intent(db):
    return Intent.objects.create(slug="order_status", name="Order status")


def form(api_host="shop.example", base="https://shop.example", **over):
    data = {
        "name": "Orders", "description": "Order lookups", "intents": ["order_status"],
        "needs": ["order_number", "email"], "method": "GET",
        "url_template": base + "/orders/{order_number}?email={email}",
        "allowed_hosts": api_host, "headers": f"Authorization: Bearer {SECRET}\nX-Shop: 1",
        "timeout_seconds": "2", "reply_template": "{{ order.status }}",
        "fallback_text": "No such order.", "is_active": "on",
    }
    data.update(over)
    return data


def test_create_then_edit_never_shows_header_values(admin_client, intent, caplog):
    with caplog.at_level(logging.DEBUG):
        response = admin_client.post(URL + "new/", form())
    assert response.status_code == 302
    connector = Connector.objects.get()
    assert connector.headers == {"Authorization": f"Bearer {SECRET}", "X-Shop": "1"}
    assert list(connector.intents.values_list("slug", flat=True)) == ["order_status"]
    page = admin_client.get(f"{URL}{connector.pk}/").content.decode()
    assert "Authorization: ••••" in page and SECRET not in page
    assert SECRET not in admin_client.get(URL).content.decode()
    assert SECRET not in admin_client.get("/knowledge/audit/").content.decode()
    # An edit that leaves the headers empty keeps them.
    admin_client.post(f"{URL}{connector.pk}/", form(headers="", name="Orders 2"))
    connector.refresh_from_db()
    assert connector.name == "Orders 2" and connector.headers["Authorization"].endswith(SECRET)
    entries = AuditLogEntry.objects.filter(object_type="connector")
    assert {e.action for e in entries} == {"connector_created", "connector_updated"}
    assert all(SECRET not in json.dumps(e.changes) for e in entries)
    assert SECRET not in json.dumps(taxonomy_export())
    assert SECRET not in caplog.text


@pytest.mark.parametrize("field, value, message", [
    ("reply_template", "{% load static %}", "load"),
    ("reply_template", "ok\n{% include 'base.html' %}", "Line 2"),
    ("reply_template", "{{ settings.SECRET_KEY }}", "settings"),
    ("url_template", "https://evil.example/orders/{order_number}?email={email}", "allow-list"),
    ("allowed_hosts", "", "required"),
    ("headers", "no colon here", "Line 1"),
    ("headers", "Bad Header: x", "header"),
    ("timeout_seconds", "0", "0.1"),
    ("timeout_seconds", "60", "30"),
    ("method", "DELETE", "valid choice"),
    ("needs", ["password"], "valid choice"),
])
def test_bad_input_is_refused_and_saves_nothing(admin_client, intent, field, value, message):
    response = admin_client.post(URL + "new/", form(**{field: value}))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Connector.objects.exists() and not AuditLogEntry.objects.exists()


def test_test_button_shows_the_request_masked_and_the_reply(admin_client, intent, api):
    admin_client.post(URL + "new/", form(api_host=api.host, base=api.base_url))
    connector = Connector.objects.get()
    response = admin_client.post(f"{URL}{connector.pk}/test/", {
        "order_number": "70001", "email": "kit@example.org"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Authorization: ••••" in page and SECRET not in page
    assert "Delivered" in page and "200" in page
    assert api.requests[-1][1]["Authorization"] == f"Bearer {SECRET}"
    failed = admin_client.post(f"{URL}{connector.pk}/test/", {
        "order_number": "70001", "email": "nobody@example.org"}).content.decode()
    assert "http_404" in failed and "No such order." in failed


def test_test_form_asks_only_for_the_details_the_connector_needs(admin_client, intent, api):
    admin_client.post(URL + "new/", form(api_host=api.host, base=api.base_url))
    connector = Connector.objects.get()
    page = admin_client.get(f"{URL}{connector.pk}/").content.decode()
    test_form = page[page.index('data-sd="connector-test-form"'):]
    test_form = test_form[:test_form.index("</form>")]
    assert 'name="order_number"' in test_form and 'name="email"' in test_form
    assert 'name="customer_id"' not in test_form  # a public connector uses no customer id
    # A verified-only connector of the customer id asks for that id only.
    admin_client.post(f"{URL}{connector.pk}/", form(
        api_host=api.host, base=api.base_url, needs=["customer_id"], verified_only="on",
        url_template=api.base_url + "/list?customer={customer_id}", headers=""))
    page = admin_client.get(f"{URL}{connector.pk}/").content.decode()
    test_form = page[page.index('data-sd="connector-test-form"'):]
    test_form = test_form[:test_form.index("</form>")]
    assert 'name="customer_id"' in test_form
    assert 'name="order_number"' not in test_form and 'name="email"' not in test_form


def test_test_without_a_needed_detail_is_refused_and_calls_nothing(admin_client, intent, api):
    admin_client.post(URL + "new/", form(api_host=api.host, base=api.base_url))
    connector = Connector.objects.get()
    before = len(api.requests)
    response = admin_client.post(f"{URL}{connector.pk}/test/", {"order_number": "70001"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "E-mail address: This field is required." in response.content.decode()
    assert len(api.requests) == before


def test_delete_is_audited(admin_client, intent):
    admin_client.post(URL + "new/", form())
    connector = Connector.objects.get()
    delete = f"{URL}{connector.pk}/delete/"
    assert f'action="{delete}"' in admin_client.get(f"{URL}{connector.pk}/").content.decode()
    confirm = admin_client.get(delete)  # asks first, deletes nothing
    assert confirm.status_code == 200 and connector.name in confirm.content.decode()
    assert "answer from their articles and offer a person" in confirm.content.decode()
    assert Connector.objects.exists() and not AuditLogEntry.objects.filter(
        action="connector_deleted").exists()
    admin_client.post(delete)
    assert not Connector.objects.exists()
    entry = AuditLogEntry.objects.get(action="connector_deleted")
    assert entry.changes["name"] == [connector.name, None]
    assert entry.changes["url_template"][0] == connector.url_template
    assert AuditLogEntry.objects.filter(action="connector_deleted").exists()


def test_agents_cannot_see_connectors(client, agent_user):
    client.force_login(agent_user)
    assert client.get(URL).status_code == 403


def test_agents_cannot_ask_to_delete_a_connector(admin_client, client, agent_user, intent):
    admin_client.post(URL + "new/", form())
    connector = Connector.objects.get()
    client.force_login(agent_user)
    assert client.get(f"{URL}{connector.pk}/delete/").status_code == 403
    assert client.post(f"{URL}{connector.pk}/delete/").status_code == 403
    assert Connector.objects.exists()


def test_export_import_round_trip_keeps_headers_and_refuses_bad_connectors(
    admin_client, admin_user, intent
):
    from knowledge import services
    from knowledge.importexport import ImportRejected

    admin_client.post(URL + "new/", form())
    exported = taxonomy_export()
    [item] = exported["connectors"]
    assert item["header_names"] == ["Authorization", "X-Shop"] and "headers" not in item
    item["timeout_seconds"] = 5.0
    services.taxonomy_import_json(actor=admin_user, data=json.dumps(exported).encode())
    connector = Connector.objects.get()
    assert connector.timeout_seconds == 5.0
    assert connector.headers["Authorization"] == f"Bearer {SECRET}"  # kept
    for bad in ({"reply_template": "{% include 'x' %}"},
                {"url_template": "https://evil.example/x"},
                {"intents": ["no_such_intent"]},
                {"needs": ["password"]},
                {"timeout_seconds": 99}):
        doc = taxonomy_export()
        doc["connectors"][0].update(bad)
        with pytest.raises(ImportRejected):
            services.taxonomy_import_json(actor=admin_user, data=json.dumps(doc).encode())
    connector.refresh_from_db()
    assert connector.timeout_seconds == 5.0


@pytest.mark.parametrize(("url_template", "hosts", "message"), [
    ("http://0177.0.0.1/orders/{order_number}?email={email}", "127.0.0.1",
     "four decimal numbers"),
    ("http://2130706433/orders/{order_number}?email={email}", "2130706433",
     "four decimal numbers"),
    ("http://169.254.169.254/latest/meta-data", "169.254.169.254", "private or loopback"),
    ("http://localhost:5432/orders/{order_number}", "localhost:5432", "private or loopback"),
    ("http://[::1]/x", "[::1]", "private or loopback"),
    ("https://shop.example/orders/{order_number}?email={email}&api_key=SUPERSECRET",
     "shop.example", "Put secrets in a header (its value is write-only)"),
])
def test_a_bad_host_a_private_address_or_a_secret_in_the_url_is_refused_on_save(
    admin_client, intent, settings, url_template, hosts, message
):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = False
    response = admin_client.post(URL + "new/", form(url_template=url_template,
                                                    api_host=hosts))
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page and "SUPERSECRET" not in page.split("<form", 1)[0]
    assert not Connector.objects.exists() and not AuditLogEntry.objects.exists()


@pytest.mark.parametrize("private_ok", [True, False])
@pytest.mark.parametrize("host", ["0177.0.0.1", "127.000.000.001", "999.1.1.1", "a..b"])
def test_the_test_button_of_a_stored_bad_host_answers_never_500(admin_client, intent, settings,
                                                                 host, private_ok):
    # Written around the checks (saved by an older version): the Test button says why.
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = private_ok
    connector = Connector.objects.create(
        name="Orders", needs=["order_number"], method="GET",
        url_template=f"http://{host}/orders/{{order_number}}", allowed_hosts=[host],
        headers={}, timeout_seconds=1.0, reply_template="{{ status }}",
    )
    response = admin_client.post(f"{URL}{connector.pk}/test/", {"order_number": "1"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "bad_host" in response.content.decode()


def test_a_host_name_part_over_63_characters_is_named_shortened_with_the_limit(
    admin_client, intent
):
    label = "orders" + "x" * 58 + "-eu"  # 67 characters
    host = f"{label}.shop.example"
    page = admin_client.post(URL + "new/", form(
        api_host=f"shop.example, {host}", base=f"https://{host}",
    ))
    assert page.status_code == 400
    text = page.content.decode()
    assert (f"its part &quot;orders{'x' * 20}…{'x' * 9}-eu&quot; is 67 characters long; a part "
            "between dots has at most 63 characters.") in text
    page = admin_client.post(URL + "new/", form(base="https://shop_eu.shop.example"))
    assert "its part &quot;shop_eu&quot; has an underscore (_)" in page.content.decode()
    assert not Connector.objects.exists()


# --- A host that does not resolve on save: saved, with a warning (no DNS in these tests) ----

PUBLIC = "93.184.216.34"  # a globally routed address; no test connects to it


def no_such_name(host: str, port: int) -> list[str]:
    raise OSError(f"[Errno -2] Name or service not known: {host}")


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


@pytest.mark.parametrize("private_ok", [True, False])
def test_a_host_that_does_not_resolve_is_saved_with_a_warning_naming_it(
    admin_client, intent, settings, monkeypatch, private_ok
):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = private_ok
    asked = []
    monkeypatch.setattr(connector_network, "system_resolve",
                        lambda host, port: asked.append((host, port)) or no_such_name(host, port))
    response = admin_client.post(URL + "new/", form(
        api_host="orders.erp.internal:8443", base="https://Orders.ERP.internal:8443"),
        follow=True)
    connector = Connector.objects.get()
    assert connector.url_template.startswith("https://Orders.ERP.internal:8443/orders/")
    assert asked == [("orders.erp.internal", 8443)]
    assert messages_of(response) == [("warning", (
        'Connector "Orders" saved, but its host "orders.erp.internal" does not resolve: the '
        "bot's calls to it fail until the name resolves. Test (below) calls it and shows "
        "whether it does."))]
    page = response.content.decode()
    assert 'class="warning"' in page and "&quot;orders.erp.internal&quot; does not resolve" in page
    # Once the name resolves, saving says only that it is saved.
    monkeypatch.setattr(connector_network, "system_resolve", lambda host, port: [PUBLIC])
    response = admin_client.post(f"{URL}{connector.pk}/", form(
        api_host="orders.erp.internal:8443", base="https://orders.erp.internal:8443",
        headers=""), follow=True)
    assert messages_of(response) == [("success", 'Connector "Orders" saved.')]


def test_test_says_when_the_host_does_not_resolve(admin_client, intent, settings, monkeypatch):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = True
    monkeypatch.setattr(connector_network, "system_resolve", no_such_name)  # on save
    calls = connectors.checked_transport
    monkeypatch.setattr(connectors, "checked_transport",  # at the call
                        lambda: calls(resolve=no_such_name))
    admin_client.post(URL + "new/", form(api_host="orders.erp.internal",
                                         base="https://orders.erp.internal"))
    connector = Connector.objects.get()
    page = admin_client.post(f"{URL}{connector.pk}/test/", {
        "order_number": "70001", "email": "kit@example.org"}, HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "No response after" in page and "host_unresolved" in page
    assert "host name does not resolve from the desk's server" in page


def test_a_resolver_that_does_not_answer_in_time_saves_with_a_warning(
    admin_client, intent, monkeypatch
):
    released = threading.Event()

    def hanging(host: str, port: int) -> list[str]:  # a nameserver that never answers
        released.wait(10)
        return [PUBLIC]

    monkeypatch.setattr(connector_network, "system_resolve", hanging)
    monkeypatch.setattr(connector_network, "RESOLVE_SECONDS", 0.05)
    try:
        response = admin_client.post(URL + "new/", form(api_host="slow.example",
                                                        base="https://slow.example"), follow=True)
    finally:
        released.set()
    assert Connector.objects.filter(name="Orders").exists()
    [(level, text)] = messages_of(response)
    assert level == "warning"
    assert 'its host "slow.example" did not resolve within 0.05 seconds' in text


def test_a_name_that_resolves_to_a_private_address_is_still_refused(
    admin_client, intent, settings, monkeypatch
):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = False
    monkeypatch.setattr(connector_network, "system_resolve",
                        lambda host, port: [PUBLIC, "10.0.0.7"])
    response = admin_client.post(URL + "new/", form(api_host="mixed.example",
                                                    base="https://mixed.example"))
    assert response.status_code == 400
    assert "&quot;mixed.example&quot; is a private or loopback address" in (
        response.content.decode())
    assert not Connector.objects.exists()
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = True  # then a private address is the point
    response = admin_client.post(URL + "new/", form(api_host="mixed.example",
                                                    base="https://mixed.example"), follow=True)
    assert messages_of(response) == [("success", 'Connector "Orders" saved.')]


def test_an_ip_address_is_never_looked_up_nor_warned_about(
    admin_client, intent, settings, monkeypatch
):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = True
    asked = []
    monkeypatch.setattr(connector_network, "system_resolve",
                        lambda host, port: asked.append(host) or no_such_name(host, port))
    response = admin_client.post(URL + "new/", form(api_host="10.20.0.5:8080",
                                                    base="http://10.20.0.5:8080"), follow=True)
    assert messages_of(response) == [("success", 'Connector "Orders" saved.')]
    assert asked == []


def test_an_import_says_which_connector_hosts_do_not_resolve(
    admin_client, intent, settings, monkeypatch
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = True
    monkeypatch.setattr(connector_network, "system_resolve", lambda host, port: [PUBLIC])
    admin_client.post(URL + "new/", form())
    doc = taxonomy_export()
    resolving = dict(doc["connectors"][0], name="Stock")
    doc["connectors"][0].update(url_template="https://erp.corp.internal/o/{order_number}",
                                allowed_hosts=["erp.corp.internal"])
    doc["connectors"].append(resolving)
    monkeypatch.setattr(connector_network, "system_resolve",
                        lambda host, port: [PUBLIC] if host == "shop.example"
                        else no_such_name(host, port))
    response = admin_client.post("/knowledge/import/", {
        "kind": "json",
        "file": SimpleUploadedFile("k.json", json.dumps(doc).encode(), "application/json"),
    })
    assert response.status_code == 200
    page = response.content.decode()
    warnings = page.split('data-sd="import-warnings"', 1)[1].split("</ul>", 1)[0]
    assert warnings.count("<li>") == 1  # the connector whose host resolves is not named
    assert ("Connector &quot;Orders&quot; saved, but its host &quot;erp.corp.internal&quot; "
            "does not resolve") in warnings
    assert "Test, on the connector&#x27;s page, calls it" in warnings
    saved = Connector.objects.get(name="Orders")  # imported all the same
    assert saved.url_template == "https://erp.corp.internal/o/{order_number}"
    assert Connector.objects.filter(name="Stock").exists()
