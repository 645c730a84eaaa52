"""A reply template that reads a variable the answer lacks: the reason stays ``missing_field``
(analytics and the bot compare it) and the variables are named beside it, in the call's
outcome, its trace and the Test output; the form's help says which variables exist."""

from __future__ import annotations

import httpx2
import pytest

from knowledge.connectors import ConnectorSpec, connector_call, render_reply_checked
from knowledge.forms import ConnectorForm
from knowledge.models import Connector
from tests.fake_company_api import FakeCompanyApi


def spec(template: str) -> ConnectorSpec:
    return ConnectorSpec(
        id=3, name="Orders", description="", intents=(), needs=("order_number", "email"),
        method="GET", url_template="https://shop.example/o/{order_number}",
        allowed_hosts=("shop.example",), headers=(), timeout_seconds=1.0,
        verified_only=False, reply_template=template, fallback_text="Not found.",
    )


def call(template: str, answer: object) -> object:
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=answer))
    return connector_call(spec(template), {"order_number": "7", "email": "kim@shop.example"},
                          transport=transport)


def test_the_missing_variables_are_named_and_the_reason_stays_stable():
    outcome = call("Order {{ order.number }} for {{ email }}: {{ order.state|upper }}",
                   {"order": {"number": 7, "status": "shipped"}})
    assert not outcome.ok and outcome.not_found
    assert outcome.reason == "missing_field"
    assert outcome.missing == ["email", "order.state"]
    assert outcome.reason_text == "missing_field: email, order.state"
    trace = outcome.to_trace()
    assert trace["reason"] == "missing_field" and trace["missing"] == ["email", "order.state"]


def test_details_and_data_are_variables_of_the_reply():
    outcome = call("{{ details.email }}: {{ data.order.status }}, {{ details.order_number }}",
                   {"order": {"status": "shipped"}})
    assert outcome.ok and outcome.missing == []
    assert outcome.reply == "kim\\@shop\\.example: shipped, 7"
    # An answer's own field of that name wins, as with "details".
    text, missing = render_reply_checked(spec("{{ data.tracking }}"),
                                         {"data": {"tracking": "Z9"}}, {})
    assert (text, missing) == ("Z9", [])


def test_a_name_read_in_a_condition_only_is_not_reported():
    outcome = call("{% if order.eta %}ETA {{ order.eta }}{% else %}No ETA{% endif %}",
                   {"order": {}})
    assert outcome.ok and outcome.reply == "No ETA" and outcome.missing == []


def test_an_empty_reply_is_missing_field_without_names():
    outcome = call("{% if order.eta %}{{ order.eta }}{% endif %}", {"order": {}})
    assert outcome.reason == "missing_field" and outcome.missing == []
    assert outcome.reason_text == "missing_field"


def test_the_form_help_says_which_variables_exist():
    help_text = str(ConnectorForm().fields["reply_template"].help_text)
    for words in ("{{ details.email }}", "{{ details.order_number }}", "{{ data }}",
                  "{{ order.status }}", "{{ items }}", "missing_field"):
        assert words in help_text, words


@pytest.mark.django_db
def test_the_test_output_names_the_missing_variable(admin_client, settings):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = True
    api = FakeCompanyApi()
    try:
        connector = Connector.objects.create(
            name="Orders", needs=["order_number", "email"], method="GET",
            url_template=api.base_url + "/orders/{order_number}?email={email}",
            allowed_hosts=[api.host], headers={}, timeout_seconds=2.0,
            reply_template="{{ order.status }} for {{ email }}", fallback_text="Not found.",
        )
        response = admin_client.post(
            f"/knowledge/connectors/{connector.pk}/test/",
            {"order_number": "70001", "email": "kit@example.org"}, HTTP_HX_REQUEST="true")
    finally:
        api.close()
    page = response.content.decode()
    assert response.status_code == 200
    assert '<strong data-sd="connector-test-reason">missing_field: email</strong>' in page
    assert "{{ details.email }}" in page
