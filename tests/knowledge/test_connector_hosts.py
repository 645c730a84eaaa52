"""A connector's host and URL on save and at call time: numeric hosts the system resolver reads
its own way (octal, decimal, hex, short forms, leading zeros) refused with a clear message and
never an exception; private addresses refused on save as webhooks refuse them; IPv6 literals;
no secret written into the URL."""

from __future__ import annotations

import ipaddress
import json

import pytest

from knowledge import services
from knowledge.connector_network import (
    HostInvalid,
    canonical_host,
    embedded_ipv4,
    host_is_public,
    is_public,
)
from knowledge.connectors import (
    MASK,
    ConnectorInvalid,
    ConnectorSpec,
    check_hosts,
    check_url_template,
    connector_call,
    is_secret_param,
    mask_url,
)
from knowledge.importexport import ImportRejected, validate_taxonomy_json
from knowledge.models import AuditLogEntry, Connector, Intent

NON_CANONICAL = [
    "0177.0.0.1", "2130706433", "0x7f.0.0.1", "0x7f000001", "127.1", "127.0.1",
    "127.000.000.001", "010.0.0.1", "0177.1", "8.8.8.010", "999.1.1.1", "1.2.3.4.5",
    "127.0.0.1.", "0x", "00",
]
NOT_HOSTS = ["a..b", "-shop.example", "shop-.example", "shop_x.example", "a" * 64 + ".example",
             "fe80::1%eth0", "::zz", "shop.example."]
FOUR_NUMBERS = "four decimal numbers"
PRIVATE_URLS = [
    "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.5/o/{order_number}",
    "http://localhost:5432/o/{order_number}",
    "http://127.0.0.1:6379/o/{order_number}",
    "http://api.localhost/o/{order_number}",
    "http://192.168.1.20/o/{order_number}",
    "http://100.64.0.1/o/{order_number}",
    "http://[::1]/x",
    "http://[fe80::1]:8080/x",
    "http://[fd00::5]/x",
    "http://[::ffff:127.0.0.1]/x",
    # IPv6 forms that carry a private IPv4 address: NAT64, 6to4, Teredo, IPv4-compatible.
    "http://[64:ff9b::7f00:1]/o/{order_number}",
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
    "http://[2002:7f00:1::1]/o/{order_number}",
    "http://[2002:c0a8:114::]:8080/x",
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/x",
    "http://[::7f00:1]/x",
]


def hosts_of(url: str) -> list[str]:
    return [url.split("/")[2]]


def spec(url: str, hosts: tuple[str, ...]) -> ConnectorSpec:
    return ConnectorSpec(
        id=1, name="Orders", description="", intents=("order_status",), needs=("order_number",),
        method="GET", url_template=url, allowed_hosts=hosts, headers=(("X-Key", "zz"),),
        timeout_seconds=0.5, verified_only=False, reply_template="{{ status }}",
        fallback_text="",
    )


@pytest.mark.parametrize("host", NON_CANONICAL)
def test_a_numeric_host_not_in_four_decimal_numbers_is_refused(host):
    with pytest.raises(HostInvalid, match=FOUR_NUMBERS):
        canonical_host(host)


@pytest.mark.parametrize("host", NOT_HOSTS)
def test_what_is_no_host_name_is_refused(host):
    with pytest.raises(HostInvalid):
        canonical_host(host)


LONG = "a" * 30 + "b" * 28 + "c" * 12  # 70 characters: its start and end stay recognisable


@pytest.mark.parametrize(("host", "says"), [
    (LONG + ".example", f'its part "{"a" * 26}…{"c" * 12}" is 70 characters long; a part '
     "between dots has at most 63 characters."),
    ("shop." + "x" * 64, 'its part "xxxxxxxxxxxxxxxxxxxxxxxxxx…xxxxxxxxxxxx" is 64 characters'),
    ("api." + "q" * 63 + ".example", None),  # 63 is the limit, not over it
    ("x." * 125 + "com", None),  # 253 characters: the longest name
    ("x." * 126 + "com", "it is 255 characters long; a host name has at most 253."),
    ("My_API.Internal", '"My_API.Internal" is not a host name: its part "My_API" has an '
     "underscore (_); a host name has only letters, digits, hyphens (-) and dots."),
    ("_dmarc.shop.example", 'its part "_dmarc" has an underscore'),
    ("-shop.example", 'its part "-shop" starts with a hyphen; a hyphen goes only between'),
    ("shop.my-.example", 'its part "my-" ends with a hyphen'),
    ("a..b", "it has an empty part (a dot at its start, or two dots together)."),
    (".shop.example", "it has an empty part"),
    ("shop.example.", "it ends with a dot; write it without the final dot."),
    ("shop!.example", 'its part "shop!" has "!"; a host name has only letters'),
    ("shop example", 'its part "shop example" has a space'),
    ("shop\x00.example", 'its part "shop\\x00" has the invisible character \\x00'),
    ("ü" * 70 + ".example", "is 76 characters long in its ASCII form"),
    ("ü_x.example", 'its part "ü_x" has an underscore'),
    ("Bücher.example", '"xn--bcher-kva.example": international domain names are accepted'),
])
def test_a_refused_name_says_what_is_wrong_with_it(host, says):
    if says is None:
        assert canonical_host(host) == host
        return
    with pytest.raises(HostInvalid) as raised:
        canonical_host(host)
    assert says in str(raised.value)


@pytest.mark.parametrize(("host", "canonical"), [
    ("Shop.Example", "shop.example"), ("203.0.113.7", "203.0.113.7"), ("0.0.0.0", "0.0.0.0"),
    ("2001:DB8:0:0::1", "2001:db8::1"), ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("123.example", "123.example"), ("shop.0x1f.example", "shop.0x1f.example"),
])
def test_a_valid_host_is_kept_in_one_spelling(host, canonical):
    assert canonical_host(host) == canonical


@pytest.mark.parametrize("host", NON_CANONICAL[:-3])
def test_save_refuses_a_non_canonical_numeric_host_in_the_url_and_the_allow_list(host):
    with pytest.raises(ConnectorInvalid, match=FOUR_NUMBERS) as caught:
        check_hosts([host])
    assert caught.value.field == "allowed_hosts"
    with pytest.raises(ConnectorInvalid, match=FOUR_NUMBERS) as caught:
        check_url_template(f"http://{host}/o/{{order_number}}", hosts=["shop.example"],
                           needs=["order_number"])
    assert caught.value.field == "url_template"


@pytest.mark.parametrize("private_ok", [True, False])
@pytest.mark.parametrize("host", NON_CANONICAL + NOT_HOSTS[:3])
def test_a_stored_bad_host_is_refused_at_call_time_never_raised(host, private_ok, settings):
    # A connector saved before the check (or written around it): the call is refused like any
    # other, with the reason in the trace, and nothing is sent.
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = private_ok
    outcome = connector_call(spec(f"http://{host}/o/{{order_number}}", (host,)),
                             {"order_number": "1"})
    assert not outcome.ok and outcome.reason == "bad_host"
    assert outcome.to_trace()["reason"] == "bad_host"


def test_a_url_the_client_will_not_send_is_refused_not_raised(settings):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = True
    outcome = connector_call(spec("http://shop.example:99999/o/{order_number}",
                                  ("shop.example",)), {"order_number": "1"})
    assert outcome.reason == "bad_url"


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_save_refuses_a_private_address_unless_the_setting_allows_it(url, settings):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = False
    settings.DEMO_API_BASE_URL = "http://demo-api.example:8000"
    hosts = check_hosts(hosts_of(url))
    with pytest.raises(ConnectorInvalid, match="private or loopback") as caught:
        check_url_template(url, hosts=hosts, needs=["order_number"])
    assert caught.value.field == "url_template"
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = True
    check_url_template(url, hosts=hosts, needs=["order_number"])


def test_a_public_ipv6_literal_is_accepted_and_matched_in_one_spelling(settings):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = False
    hosts = check_hosts(["[2606:4700:4700:0::1111]:8443", "[2001:4860:4860::8888]"])
    assert hosts == ["[2606:4700:4700::1111]:8443", "[2001:4860:4860::8888]"]
    check_url_template("https://[2606:4700:4700::1111]:8443/o/{order_number}", hosts=hosts,
                       needs=["order_number"])
    check_url_template("https://[2001:4860:4860:0:0::8888]/o", hosts=hosts, needs=[])
    with pytest.raises(ConnectorInvalid, match="allow-list"):
        check_url_template("https://[2606:4700:4700::1111]/o", hosts=hosts, needs=[])


def test_a_private_ipv6_literal_is_refused_at_call_time(settings):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = False
    outcome = connector_call(spec("http://[::1]:9/o/{order_number}", ("[::1]:9",)),
                             {"order_number": "1"})
    assert outcome.reason == "private_address"


def test_the_shared_check_judges_literals_localhost_and_names():
    assert not host_is_public("127.0.0.1", 80)
    assert not host_is_public("::ffff:10.0.0.1", 80)
    assert not host_is_public("localhost", 80, resolve=False)
    assert not host_is_public("203.0.113.7", 80)  # a documentation range: reserved
    assert host_is_public("8.8.8.8", 80)
    assert host_is_public("shop.example", 80, resolve=False)


# --- Secrets in the URL ---------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    "api_key=SUPERSECRET", "key=SUPERSECRET", "token=SUPERSECRET", "secret=SUPERSECRET",
    "password=SUPERSECRET", "signature=SUPERSECRET", "access_token=SUPERSECRET",
    "auth=SUPERSECRET", "apiKey=SUPERSECRET", "X-Amz-Signature=SUPERSECRET",
    "apikey=SUPERSECRET", "client_secret=SUPERSECRET", "api%5Fkey=SUPERSECRET",
    "token=abc{order_number}",
])
def test_save_refuses_a_secret_value_in_the_url(query):
    with pytest.raises(ConnectorInvalid, match=r"Put secrets in a header \(its value is "
                                               r"write-only\)") as caught:
        check_url_template(f"https://shop.example/o/{{order_number}}?page=1&{query}",
                           hosts=["shop.example"], needs=["order_number"])
    assert caught.value.field == "url_template"
    assert "SUPERSECRET" not in str(caught.value)


@pytest.mark.parametrize("query", [
    "token={order_number}", "author=kim", "monkey=1", "page=2&sort=asc", "key=",
    "passenger=2", "email={email}",
])
def test_placeholders_and_ordinary_parameters_stay_allowed(query):
    check_url_template(f"https://shop.example/o/{{order_number}}?{query}",
                       hosts=["shop.example"], needs=["order_number", "email"])


def test_the_mask_and_the_refusal_agree_on_what_is_a_secret():
    assert is_secret_param("api_key") and is_secret_param("accessToken")
    assert not is_secret_param("author") and not is_secret_param("page")
    assert mask_url("https://x.example/o?author=kim&api_key=zz") == (
        f"https://x.example/o?author=kim&api_key={MASK}"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "hosts", "says"), [
    ("https://shop.example/o/{order_number}?api_key=SUPERSECRET", ["shop.example"],
     "Put secrets in a header"),
    ("http://0177.0.0.1/o/{order_number}", ["127.0.0.1"], FOUR_NUMBERS),
    ("http://169.254.169.254/latest", ["169.254.169.254"], "private or loopback"),
])
def test_connector_save_refuses_and_writes_nothing(admin_user, settings, url, hosts, says):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = False
    Intent.objects.create(slug="order_status", name="Order status")
    with pytest.raises(ConnectorInvalid, match=says):
        services.connector_save(actor=admin_user, values=services.ConnectorFields(
            name="Orders", url_template=url, reply_template="{{ status }}",
            allowed_hosts=hosts, needs=["order_number"], intent_slugs=["order_status"],
        ))
    assert not Connector.objects.exists() and not AuditLogEntry.objects.exists()


@pytest.mark.django_db
def test_an_import_with_a_secret_in_the_url_is_refused(settings):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = True
    document = {"intents": [], "articles": [], "signals": [], "connectors": [{
        "name": "Orders", "url_template": "https://shop.example/o?api_key=SUPERSECRET",
        "allowed_hosts": ["shop.example"], "reply_template": "{{ status }}",
    }]}
    with pytest.raises(ImportRejected) as caught:
        validate_taxonomy_json(json.dumps(document).encode())
    assert "Put secrets in a header" in str(caught.value.problems)


# --- IPv6 addresses that carry an IPv4 address ----------------------------------------------

# Each carries a private, loopback or link-local IPv4 address a relay or gateway would reach.
EMBEDDING_PRIVATE = [
    "::ffff:127.0.0.1", "::ffff:c0a8:1",                   # IPv4-mapped
    "64:ff9b::7f00:1", "64:ff9b::10.20.30.40", "64:ff9b::a9fe:a9fe",  # NAT64 well-known
    "64:ff9b:1::808:808", "64:ff9b:1:ab::7f00:1",           # NAT64 local use: never public
    "2002:7f00:1::1", "2002:a00:1:5::1", "2002:a9fe:a9fe::",  # 6to4
    "2001:0:4136:e378:8000:63bf:80ff:fffe",                 # Teredo, client 127.0.0.1
    "2001:0:a00:1:8000:63bf:f7f7:f7f7",                     # Teredo, server 10.0.0.1
    "::127.0.0.1", "::10.1.2.3",                            # IPv4-compatible
    "::ffff:0:7f00:1",                                      # IPv4-translated
]
# The same forms around a public IPv4 address (and plain public IPv6 addresses).
EMBEDDING_PUBLIC = [
    "::ffff:8.8.8.8", "64:ff9b::808:808", "64:ff9b::1.1.1.1", "2002:808:808::1",
    "::8.8.8.8", "::ffff:0:808:808", "2606:4700:4700::1111",
]


@pytest.mark.parametrize("address", EMBEDDING_PRIVATE)
def test_an_ipv6_address_carrying_a_private_ipv4_address_is_not_public(address):
    assert not is_public(address)
    assert not host_is_public(canonical_host(address), 80)


@pytest.mark.parametrize("address", EMBEDDING_PUBLIC)
def test_an_ipv6_address_carrying_a_public_ipv4_address_stays_public(address):
    assert is_public(address)


def test_the_embedded_addresses_are_found_in_every_form():
    assert embedded_ipv4(ipaddress.IPv6Address("64:ff9b::7f00:1")) == [
        ipaddress.IPv4Address("127.0.0.1")]
    assert embedded_ipv4(ipaddress.IPv6Address("2002:c0a8:101::1")) == [
        ipaddress.IPv4Address("192.168.1.1")]
    server, client = embedded_ipv4(
        ipaddress.IPv6Address("2001:0:4136:e378:8000:63bf:3fff:fdd2"))
    assert (str(server), str(client)) == ("65.54.227.120", "192.0.2.45")
    assert embedded_ipv4(ipaddress.IPv6Address("2606:4700:4700::1111")) == []


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "2002:7f00:1::1", "::127.0.0.1"])
def test_a_stored_connector_to_an_embedded_loopback_is_refused_at_call_time(address, settings):
    # Saved before the check: the call resolves the literal, checks it and opens nothing.
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = False
    settings.PRODUCTION = True
    host = canonical_host(address)
    outcome = connector_call(spec(f"http://[{host}]:9/o/{{order_number}}", (f"[{host}]:9",)),
                             {"order_number": "1"})
    assert outcome.reason == "private_address"


# --- Secrets behind ';' and '#' -------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "https://shop.example/o/{order_number}?x=1;api_key=SUPERSECRET",
    "https://shop.example/o/{order_number}?page=2&sort=asc;access_token=SUPERSECRET",
    "https://shop.example/o;token=SUPERSECRET/{order_number}",
    "https://shop.example/o/{order_number};jsessionid=1;sig=SUPERSECRET",
])
def test_save_refuses_a_secret_in_a_semicolon_parameter(url):
    with pytest.raises(ConnectorInvalid, match="Put secrets in a header") as caught:
        check_url_template(url, hosts=["shop.example"], needs=["order_number"])
    assert caught.value.field == "url_template"
    assert "SUPERSECRET" not in str(caught.value)


@pytest.mark.parametrize("url", [
    "https://shop.example/o/{order_number}#token=SUPERSECRET",
    "https://shop.example/o/{order_number}?page=1#top",
    "https://shop.example/o/{order_number}#",
])
def test_save_refuses_any_fragment(url):
    with pytest.raises(ConnectorInvalid, match="A URL's #fragment is never sent; remove it"):
        check_url_template(url, hosts=["shop.example"], needs=["order_number"])


def test_semicolon_parameters_that_are_no_secret_stay_allowed():
    check_url_template("https://shop.example/o/{order_number};v=2?x=1;lang=en;token={email}",
                       hosts=["shop.example"], needs=["order_number", "email"])


def test_the_mask_covers_semicolon_path_and_fragment_parameters():
    masked = mask_url("https://x.example/o;token=A1/7?x=1;api_key=B2&page=3#secret=C3")
    assert "A1" not in masked and "B2" not in masked and "C3" not in masked
    assert masked == (f"https://x.example/o;token={MASK}/7?x=1;api_key={MASK}&page=3"
                      f"#secret={MASK}")


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "says"), [
    ("https://shop.example/o/{order_number}?x=1;api_key=SUPERSECRET", "Put secrets in a header"),
    ("https://shop.example/o/{order_number}#token=SUPERSECRET", "#fragment is never sent"),
])
def test_a_semicolon_or_fragment_secret_is_not_saved_nor_audited(admin_user, settings, url,
                                                                   says):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = True
    Intent.objects.create(slug="order_status", name="Order status")
    with pytest.raises(ConnectorInvalid, match=says):
        services.connector_save(actor=admin_user, values=services.ConnectorFields(
            name="Orders", url_template=url, reply_template="{{ status }}",
            allowed_hosts=["shop.example"], needs=["order_number"],
            intent_slugs=["order_status"],
        ))
    assert not Connector.objects.exists() and not AuditLogEntry.objects.exists()


@pytest.mark.parametrize(("entry", "says"), [
    ("shop.example:70000", "Port out of range (1-65535) in 'shop.example:70000'."),
    ("shop.example:0", "Port out of range"),
    ("[2001:db8::1]:99999", "Port out of range"),
    ("shop.example:https", "Not a port number: 'https'"),
    ("shop.example:", "Not a port number: ''"),
    ("[2001:db8::1]:8x", "Not a port number: '8x'"),
    ("shop.example:80:80", "Not a host name"),
    ("bad/host", "has \"/\""),
])
def test_the_allow_list_says_whether_the_port_or_the_host_is_wrong(entry, says):
    with pytest.raises(ConnectorInvalid) as caught:
        check_hosts(["ok.example", entry])
    assert caught.value.field == "allowed_hosts"
    assert says in str(caught.value)


@pytest.mark.parametrize(("entry", "kept"), [
    ("Shop.Example:8443", "shop.example:8443"), ("[2001:DB8::1]:443", "[2001:db8::1]:443"),
    ("shop.example:65535", "shop.example:65535"),
])
def test_the_allow_list_keeps_a_host_with_its_port(entry, kept):
    assert check_hosts([entry]) == [kept]
