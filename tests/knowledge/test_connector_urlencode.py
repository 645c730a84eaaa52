"""``urlencode`` in a reply template: a value inside the admin's link target is percent-encoded,
the Markdown-literal escaping added after it leaves the target intact, and no value breaks out
of the link or makes one of its own."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from knowledge.connectors import ConnectorSpec, check_reply_template, render_reply
from knowledge.markdown import render_markdown

TEMPLATE = "[Track it](https://carrier.example/track?n={{ tracking|urlencode }}&lang=en)"


def spec(template: str) -> ConnectorSpec:
    return ConnectorSpec(
        id=1, name="Orders", description="", intents=(), needs=(), method="GET",
        url_template="https://shop.example/o", allowed_hosts=("shop.example",), headers=(),
        timeout_seconds=1.0, verified_only=False, reply_template=template, fallback_text="",
    )


def links(reply_html: str) -> list[tuple[str, str]]:
    return [(html.unescape(href), text) for href, text in
            re.findall(r'<a href="([^"]*)"[^>]*>(.*?)</a>', reply_html)]


@pytest.mark.parametrize("value", [
    "1Z 999 AA1", "AB)12", "a&b=c", "x#frag", "a_b.c~d/e", "](https://evil.example)",
    "x) [evil](https://evil.example", '"><script>alert(1)</script>', "\\)", "&amp;",
    "ünï 😀", "1. 2", "- x", "*bold* `code`", "a\nb", "%41",
])
def test_a_urlencoded_value_makes_one_whole_link_with_the_value_in_its_query(value):
    check_reply_template(TEMPLATE)
    text, missing = render_reply(spec(TEMPLATE), {"tracking": value}, {})
    assert not missing
    found = links(render_markdown(text))
    assert len(found) == 1, (text, found)
    href, label = found[0]
    assert label == "Track it"
    parts = urlsplit(href)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == (
        "https", "carrier.example", "/track", "")
    assert parse_qs(parts.query) == {"n": [value], "lang": ["en"]}


def test_without_urlencode_a_space_breaks_the_link():
    # Why the filter is there: the raw value ends the link's target at its space.
    text, _ = render_reply(spec(TEMPLATE.replace("|urlencode", "")), {"tracking": "1Z 999"}, {})
    assert "Track it" not in [label for _, label in links(render_markdown(text))]


@pytest.mark.parametrize("safe", ['" ()"', '"()<>[]\\\\"', '"/ "'])
def test_its_argument_cannot_keep_a_character_that_ends_the_link(safe):
    template = TEMPLATE.replace("|urlencode", f"|urlencode:{safe}")
    check_reply_template(template)
    value = "a b)(c<d>[e]\\f/g"
    text, _ = render_reply(spec(template), {"tracking": value}, {})
    found = links(render_markdown(text))
    assert len(found) == 1
    assert parse_qs(urlsplit(found[0][0]).query)["n"] == [value]


def test_a_url_delimiter_named_in_the_argument_stays_unencoded():
    template = "[Open](https://shop.example/{{ path|urlencode:'/:' }})"
    text, _ = render_reply(spec(template), {"path": "orders/7:a b"}, {})
    assert links(render_markdown(text)) == [("https://shop.example/orders/7:a%20b", "Open")]
