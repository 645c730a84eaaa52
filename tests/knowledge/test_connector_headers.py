"""A connector's headers: what httpx cannot send (a name outside RFC 7230's token characters,
a value outside visible ASCII, spaces and tabs) is refused on save naming the header, and one
stored before the check fails its calls with ``bad_header``, never ``bad_url``."""

from __future__ import annotations

import httpx2
import pytest

from knowledge import services
from knowledge.connectors import (
    ConnectorInvalid,
    ConnectorSpec,
    check_headers,
    connector_call,
    header_problem,
)
from knowledge.models import AuditLogEntry, Connector, Intent

URL = "/knowledge/connectors/"


@pytest.mark.parametrize(("name", "value"), [
    ("X-Token", "café☕"), ("X-Token", "naïve"), ("X-Token", "a\r\nX-Evil: 1"),
    ("X-Token", "line\nbreak"), ("X-Token", "nul\x00"), ("X-Token", "del\x7f"),
    ("X Token", "v-zz9"), ("X-Tökén", "v-zz9"), ("X:Token", "v-zz9"), ("", "v-zz9"),
    ("X(Token)", "v-zz9"), ("X-" + "a" * 120, "v-zz9"),
])
def test_a_header_httpx_cannot_send_is_refused_naming_it(name, value):
    with pytest.raises(ConnectorInvalid, match="Header") as caught:
        check_headers({"Accept-Language": "en", name: value})
    assert caught.value.field == "headers"
    assert f'Header "{name[:10]}' in str(caught.value) or not name.isascii()
    assert value not in str(caught.value)  # a value is write-only, even in an error


@pytest.mark.parametrize(("name", "value"), [
    ("Authorization", "Bearer abc.DEF-123_~+/="), ("X-Api-Key", ""), ("X-Token", "a\tb c"),
    ("x!#$%&'*+.^_`|~-y", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
])
def test_a_header_httpx_sends_is_accepted(name, value):
    assert header_problem(name, value) == ""
    assert check_headers({name: value}) == {name: value}
    httpx2.Request("GET", "https://shop.example/", headers={name: value})  # sends as is


@pytest.mark.django_db
def test_save_refuses_a_non_ascii_value_and_writes_nothing(admin_user):
    Intent.objects.create(slug="order_status", name="Order status")
    with pytest.raises(ConnectorInvalid, match='Header "X-Token": a value may hold only '
                                               "visible ASCII"):
        services.connector_save(actor=admin_user, values=services.ConnectorFields(
            name="Orders", url_template="https://shop.example/o/{order_number}",
            reply_template="{{ status }}", allowed_hosts=["shop.example"],
            needs=["order_number"], intent_slugs=["order_status"],
            headers={"X-Token": "café☕"},
        ))
    assert not Connector.objects.exists() and not AuditLogEntry.objects.exists()


@pytest.mark.django_db
def test_setting_headers_refuses_a_bad_one_and_changes_nothing(admin_user):
    connector = Connector.objects.create(
        name="Orders", needs=["order_number"], method="GET",
        url_template="https://shop.example/o/{order_number}", allowed_hosts=["shop.example"],
        headers={"X-Token": "old"}, timeout_seconds=1.0, reply_template="{{ status }}",
    )
    with pytest.raises(ConnectorInvalid, match='Header "X-Token"'):
        services.connector_headers_set(actor=admin_user, connector=connector,
                                       headers={"X-Token": "café☕"})
    connector.refresh_from_db()
    assert connector.headers == {"X-Token": "old"} and not AuditLogEntry.objects.exists()


@pytest.mark.django_db
def test_the_form_names_the_header_and_saves_nothing(admin_client):
    Intent.objects.create(slug="order_status", name="Order status")
    response = admin_client.post(URL + "new/", {
        "name": "Orders", "intents": ["order_status"], "needs": ["order_number"],
        "method": "GET", "url_template": "https://shop.example/o/{order_number}",
        "allowed_hosts": "shop.example", "headers": "Accept: application/json\nX-Token: café☕",
        "timeout_seconds": "2", "reply_template": "{{ status }}", "is_active": "on",
    })
    assert response.status_code == 400
    page = response.content.decode()
    assert "Header &quot;X-Token&quot;: a value may hold only visible ASCII" in page
    assert not Connector.objects.exists() and not AuditLogEntry.objects.exists()


@pytest.mark.parametrize("headers", [
    (("X-Token", "café☕"),), (("X Token", "1"),), (("X-Token", "a\r\nX-Evil: 1"),),
])
def test_a_stored_bad_header_fails_the_call_as_bad_header_and_sends_nothing(headers):
    sent: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(200, json={"status": "ok"})

    spec = ConnectorSpec(
        id=1, name="Orders", description="", intents=(), needs=("order_number",),
        method="GET", url_template="https://shop.example/o/{order_number}",
        allowed_hosts=("shop.example",), headers=headers, timeout_seconds=1.0,
        verified_only=False, reply_template="{{ status }}", fallback_text="",
    )
    outcome = connector_call(spec, {"order_number": "1"},
                             transport=httpx2.MockTransport(handler))
    assert not outcome.ok and outcome.reason == "bad_header"
    assert outcome.to_trace()["reason"] == "bad_header" and not sent


def test_a_refused_header_name_is_shown_as_typed_and_invisible_characters_escaped():
    from knowledge.connectors import header_problem

    assert header_problem("X-Tökén", "v").startswith('Header "X-Tökén": a name may hold only')
    assert header_problem("X-\u200bToken", "v").startswith('Header "X-\\u200bToken":')
