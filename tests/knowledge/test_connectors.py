"""knowledge.connectors: the reply template's sandbox, the URL and host checks, and the call
against a company API on a loopback port (success, 404, 500, timeout, oversize, redirects,
bad JSON, private addresses)."""

from __future__ import annotations

import html as html_lib
import logging
import re

import pytest

from knowledge.connectors import (
    MASK,
    ConnectorInvalid,
    ConnectorSpec,
    check_hosts,
    check_reply_template,
    check_url_template,
    connector_call,
    literal_outputs,
    mask_url,
    render_reply,
)
from knowledge.markdown import render_markdown
from tests.fake_company_api import FakeCompanyApi

SECRET = "Bearer s3cr3t-value-zz91"
REPLY = (
    "Order {{ order.number }}: {{ order.status }}"
    "{% if order.carrier %} with {{ order.carrier }}{% endif %}."
)


@pytest.fixture(scope="module")
def api():
    server = FakeCompanyApi(slow_seconds=1.5)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def private_ok(settings):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = True


def spec(api, path="/orders/{order_number}?email={email}", **kw) -> ConnectorSpec:
    values = dict(
        id=1, name="Orders", description="", intents=("order_status",),
        needs=("order_number", "email"), method="GET", url_template=api.base_url + path,
        allowed_hosts=(api.host,), headers=(("Authorization", SECRET),), timeout_seconds=1.0,
        verified_only=False, reply_template=REPLY, fallback_text="No such order.",
    )
    values.update(kw)
    return ConnectorSpec(**values)


@pytest.mark.parametrize("source", [
    "{% load static %}{% static 'x' %}",
    "{% include 'base.html' %}",
    "{% extends 'base.html' %}",
    "{% debug %}",
    "{% ssi '/etc/passwd' %}",
    "{% url 'knowledge:index' %}",
    "{% csrf_token %}",
    "{% now 'Y' %}",
    "{% templatetag openblock %}",
    "{% with x=1 %}{{ x }}{% endwith %}",
    "{{ settings.SECRET_KEY }}",
    "{% if request.user %}x{% endif %}",
    "{{ order.status|safe }}",
    "{{ order.status|escapejs }}",
    "{{ order.status|nosuchfilter }}",
    "{{ order._meta }}",
    "{% if x %}",
    "   ",
])
def test_reply_template_refuses_forbidden_or_broken(source):
    with pytest.raises(ConnectorInvalid) as caught:
        check_reply_template(source)
    assert caught.value.field == "reply_template"


def test_reply_template_error_names_the_line():
    with pytest.raises(ConnectorInvalid, match="Line 3"):
        check_reply_template("Hello\n{{ order.status }}\n{% include 'x.html' %}")


@pytest.mark.parametrize("source", [
    REPLY,
    "{% for o in items %}{{ o.id }}, {% empty %}none{% endfor %}",
    "{{ order.date|date:'j M Y' }} {{ order.status|upper|default:'?' }} {{ items|length }}",
    "{# a comment #}{% comment %}x{% endcomment %}Plain text",
])
def test_reply_template_accepts_the_sandbox(source):
    check_reply_template(source)


def test_render_reports_a_missing_field(api):
    text, missing = render_reply(spec(api), {"order": {"number": "1"}}, {})
    assert missing
    text, missing = render_reply(spec(api), {"order": {"number": "1", "status": "Shipped",
                                                       "carrier": "UPS"}}, {})
    assert (text, missing) == ("Order 1: Shipped with UPS.", False)


def test_render_does_not_run_markup(api):
    data = {"order": {"number": "<b>1</b>", "status": "A & B", "carrier": ""}}
    text, _ = render_reply(spec(api), data, {})
    assert text == "Order \\<b\\>1\\</b\\>: A & B."  # the widget shows it as text
    assert render_markdown(text) == "<p>Order &lt;b&gt;1&lt;/b&gt;: A &amp; B.</p>\n"


HOSTILE = [
    "[phish](https://evil.example/login)",
    "![x](http://evil.example/pixel.png)",
    "<https://evil.example/login>",
    "<mailto:boss@evil.example>",
    "https://evil.example/login",
    "see www.evil.com now",
    "evil.example/login",
    "write to boss@evil.example",
    "*bold* _em_ **strong** __strong__",
    "# heading",
    "- item",
    "+ item",
    "1. one",
    "7) seven",
    "> quoted",
    "`code` and ```fenced```",
    "~~struck~~",
    "a | b",
    "\\[x\\](http://evil.example) \\",
    "&#91;x&#93;(http://evil.example) &lt;b&gt;",
    "first\n\n    indented code\n\n---\n===",
    "[a]: http://evil.example\n[a]",
    "javascript:alert(1)",
]
MARKUP_TAGS = re.compile(
    r"<(a|img|h[1-6]|em|strong|code|pre|li|ol|ul|blockquote|table|del|s|hr)\b"
)


@pytest.mark.parametrize("value", HOSTILE)
def test_api_values_and_details_are_literal_text(api, value):
    """Whatever the company's API answers, or a customer typed, shows as written: no link,
    image or other Markdown out of it; the admin's own Markdown in the template stays."""
    template = (
        "**Order {{ order.number }}**\n\n- Status: {{ order.status|upper }}\n"
        "- Carrier: {{ order.carrier|default:'none' }}\n- For: {{ details.email }}\n\n"
        "{% for line in order.lines %}{{ line }} {% endfor %}[Help](https://shop.example/help)"
    )
    data = {"order": {"number": value, "status": value, "carrier": value,
                      "lines": [value, value]}}
    text, missing = render_reply(spec(api, reply_template=template), data, {"email": value})
    assert not missing
    html = render_markdown(text)
    found = MARKUP_TAGS.findall(html)
    # the template's own: one strong, one list of three items, one link
    assert sorted(found) == ["a", "li", "li", "li", "strong", "ul"], html
    assert html.count("evil.example") == text.count("evil\\.example")
    assert 'href="https://shop.example/help"' in html
    plain = html_lib.unescape(re.sub(r"<[^>]+>", "", html))
    assert " ".join(value.split()) in " ".join(plain.split())


def test_literal_filter_is_not_applied_twice(api):
    template = "{{ order.status|markdown_literal }}"
    text, _ = render_reply(spec(api, reply_template=template), {"order": {"status": "a_b"}}, {})
    assert text == "a\\_b"


def test_literal_outputs_keeps_tags_comments_and_lines():
    source = "{# {{ x }} #}\n{% if a %}{{a.b|default:'}'}}{% endif %}\n{{ c }}"
    assert literal_outputs(source) == (
        "{# {{ x }} #}\n{% if a %}{{ a.b|default:'}'|markdown_literal }}{% endif %}\n"
        "{{ c|markdown_literal }}"
    )


@pytest.mark.parametrize("hosts", [[], "x.example", ["bad host"], ["http://x.example"], [3]])
def test_hosts_refused(hosts):
    with pytest.raises(ConnectorInvalid):
        check_hosts(hosts)


@pytest.mark.parametrize("url, needs", [
    ("https://evil.example/orders/{order_number}", ["order_number"]),
    ("ftp://shop.example/x", []),
    ("https://{order_number}.shop.example/", ["order_number"]),
    ("https://shop.example/orders/{order_number}", []),
    ("https://shop.example/orders/{password}", []),
    ("https://user:pw@shop.example/", []),
    ("shop.example/orders", []),
])
def test_url_template_refused(url, needs):
    with pytest.raises(ConnectorInvalid) as caught:
        check_url_template(url, hosts=["shop.example"], needs=needs)
    assert caught.value.field == "url_template"


def test_url_template_accepted():
    check_url_template("https://shop.example/o/{order_number}?e={email}",
                       hosts=["shop.example"], needs=["order_number", "email"])
    check_url_template("http://127.0.0.1:8000/x", hosts=["127.0.0.1:8000"], needs=[])


def test_success_sends_headers_and_encodes_details(api):
    outcome = connector_call(spec(api), {"order_number": "70001", "email": "kit@example.org"})
    assert outcome.ok and outcome.status == 200
    assert outcome.reply == "Order 70001: Delivered with DHL."
    path, headers = api.requests[-1]
    assert path == "/orders/70001?email=kit%40example.org"
    assert headers["Authorization"] == SECRET
    assert SECRET not in repr(outcome.to_trace()) and SECRET not in repr(spec(api))


def test_detail_cannot_reach_another_path(api):
    outcome = connector_call(spec(api), {"order_number": "../500", "email": "x"})
    assert api.requests[-1][0].startswith("/orders/..%2F500")
    assert not outcome.ok


def test_wrong_email_is_not_found(api):
    outcome = connector_call(spec(api), {"order_number": "70001", "email": "lee@example.net"})
    assert (outcome.ok, outcome.reason, outcome.not_found) == (False, "http_404", True)


@pytest.mark.parametrize("path, reason", [
    ("/500", "http_500"),
    ("/slow", "timeout"),
    ("/big", "oversize"),
    ("/chunked", "oversize"),
    ("/away", "redirect_other_host"),
    ("/badjson", "bad_json"),
])
def test_failures_never_reach_the_reply(api, path, reason):
    outcome = connector_call(spec(api, path=path, needs=()), {})
    assert not outcome.ok and outcome.reply == ""
    assert outcome.reason == reason
    assert outcome.ms < 1400  # the 1 s timeout held (the slow path answers after 1.5 s)


def test_redirect_to_the_same_host_is_followed(api):
    outcome = connector_call(spec(api, path="/here", needs=()), {})
    assert outcome.ok and "Delivered" in outcome.reply


def test_template_reading_a_list(api):
    outcome = connector_call(
        spec(api, path="/list", needs=(),
             reply_template="{% for i in items %}#{{ i.id }} {% endfor %}"),
        {},
    )
    assert outcome.reply == "#1 #2"


def test_loopback_refused_unless_allowed(api, settings, caplog):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = False
    before = len(api.requests)
    with caplog.at_level(logging.DEBUG):
        outcome = connector_call(spec(api), {"order_number": "70001", "email": "kit@example.org"})
    assert outcome.reason == "private_address"
    assert len(api.requests) == before
    assert SECRET not in caplog.text


def test_host_off_the_allow_list_is_not_called(api):
    outcome = connector_call(spec(api, allowed_hosts=("shop.example",)), {"order_number": "1",
                                                                           "email": "e"})
    assert outcome.reason == "host_not_allowed"


def test_mask_url_hides_secret_parameters():
    masked = mask_url("https://x.example/o/1?email=a%40b.c&api_key=zz&token=yy&page=2")
    assert "zz" not in masked and "yy" not in masked
    assert f"api_key={MASK}" in masked and "email=a%40b.c" in masked and "page=2" in masked


def test_a_call_logs_no_url_or_secret(api, caplog):
    with caplog.at_level(logging.INFO):
        outcome = connector_call(
            spec(api, path="/orders/{order_number}?email={email}&api_key=k3y-zz"),
            {"order_number": "70001", "email": "kit@example.org"},
        )
    assert outcome.status == 200
    assert "k3y-zz" not in caplog.text and "kit@example.org" not in caplog.text
    assert SECRET not in caplog.text
    assert "k3y-zz" not in repr(outcome.to_trace())


@pytest.mark.parametrize("production", [False, True])
def test_the_demo_apis_own_host_is_exempt_only_outside_production(api, settings, production):
    # The demo's connectors call the desk's own server (DEMO_API_BASE_URL); in production
    # that host is no exception to the refusal of loopback addresses.
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = False
    settings.PRODUCTION = production
    settings.DEMO_API_BASE_URL = api.base_url
    outcome = connector_call(spec(api), {"order_number": "70001", "email": "kit@example.org"})
    assert (outcome.reason == "private_address") is production


def test_form_help_and_docs_list_what_the_sandbox_allows():
    """The connector form's help is made from the allow-lists; the documentation names the
    same filters; and each filter it names compiles in the sandbox."""
    from pathlib import Path

    from knowledge.connector_library import SAFE_FILTERS, SAFE_TAGS, register
    from knowledge.forms import ConnectorForm

    help_text = str(ConnectorForm().fields["reply_template"].help_text)
    for name in SAFE_FILTERS:
        assert re.search(rf"\b{name}\b", help_text), name
    assert set(register.filters) == {*SAFE_FILTERS, "markdown_literal"}
    assert set(register.tags) == set(SAFE_TAGS)
    for tag in SAFE_TAGS:
        assert f"{{% {tag} %}}" in help_text
    docs = (Path(__file__).resolve().parents[2] / "docs" / "connectors.md").read_text()
    listed = re.search(r"the filters ((?:`[^`]+`)|(?:[a-z_ ]+))", docs).group(1).strip("`")
    assert sorted(listed.split()) == sorted(SAFE_FILTERS)


@pytest.mark.parametrize("url", ["https://user:pw@shop.example/o", "https://token@shop.example/o"])
def test_credentials_in_the_url_are_sent_to_a_header(url):
    with pytest.raises(ConnectorInvalid, match="put credentials in a header"):
        check_url_template(url, hosts=["shop.example"], needs=[])
