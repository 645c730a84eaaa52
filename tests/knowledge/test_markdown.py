"""Hostile Markdown never comes out as script, event handler or unsafe link."""

import re
from html.parser import HTMLParser

import pytest

from knowledge.markdown import markdown_to_text, render_markdown

HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java&#x09;script:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "![img](javascript:alert(1))",
    '<iframe src="https://evil.example"></iframe>',
    "<style>body{display:none}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<svg><script>alert(1)</script></svg>",
    '<details open ontoggle="alert(1)">',
    "[x](https://ok.example \"title\" onmouseover=alert(1))",
    "<form action=https://evil.example><input name=p></form>",
    "<<script>script>alert(1)<</script>/script>",
    "```html\n<script>alert(1)</script>\n```",
    "javascript:alert(1) and www.evil.example/javascript:alert(1)",
    "mail me at x@y.example?subject=<script>alert(1)</script>",
    "see https://ok.example/\"onmouseover=alert(1)",
]


class Elements(HTMLParser):
    """What a browser would build: element names and their attributes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_markdown_renders_inert(body):
    elements = Elements(render_markdown(body)).elements
    names = {tag for tag, _ in elements}
    assert not names & {"script", "style", "iframe", "svg", "form", "input", "details", "div"}
    for _, attrs in elements:
        assert not [a for a in attrs if a.startswith("on") or a == "style"], attrs
        for key in ("href", "src"):
            if key in attrs:
                assert attrs[key].split(":", 1)[0].lower() in {"http", "https", "mailto"}


def test_raw_html_attributes_are_text():
    html = render_markdown('<img src=x onerror=alert(1)>')
    assert Elements(html).elements == [("p", {})]
    assert re.search("&lt;img", html)


def test_script_tag_is_shown_as_text_not_dropped_silently():
    html = render_markdown("Before <script>alert('x')</script> after")
    assert "&lt;script&gt;" in html
    assert "<script" not in html


def test_ordinary_markdown_survives():
    html = render_markdown(
        "# Returns\n\nSend it back within **30 days**. See [policy](https://shop.example/returns)"
        " or [mail us](mailto:help@shop.example).\n\n- one\n- two\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert "<h1>Returns</h1>" in html
    assert "<strong>30 days</strong>" in html
    assert ('<a href="https://shop.example/returns" target="_blank" '
            'rel="noopener noreferrer nofollow">') in html
    assert 'href="mailto:help@shop.example"' in html
    assert "<li>one</li>" in html
    assert "<table>" in html and "<td>1</td>" in html


def test_relative_and_protocol_relative_links_lose_their_target():
    html = render_markdown("[a](/admin/) [b](//evil.example/)")
    assert "href" not in html


@pytest.mark.parametrize("target", [
    "/help/articles/../../admin/", "/help/articles/javascript:alert(1)", "/help/\\evil.example",
    "/helpdesk/", "/help/other/", "//help/articles/1-a/",
])
def test_only_public_article_pages_are_kept_as_site_links(target):
    assert "href" not in render_markdown(f"[a]({target})")


def test_a_link_to_a_public_article_page_is_kept_and_opens_in_a_new_tab():
    html = render_markdown("[Read it](/help/articles/12-shipping_costs-abroad/)")
    [(tag, attrs)] = Elements(html).elements[1:]
    assert tag == "a"
    assert attrs["href"] == "/help/articles/12-shipping_costs-abroad/"
    assert attrs["target"] == "_blank"
    assert "noopener" in attrs["rel"].split()


def test_every_link_opens_in_a_new_tab_without_access_to_the_opener():
    html = render_markdown(
        "[a](https://a.example/x_y) <https://b.example/> [m](mailto:h@x.example)"
    )
    links = [attrs for tag, attrs in Elements(html).elements if tag == "a"]
    assert [attrs["href"] for attrs in links] == [
        "https://a.example/x_y", "https://b.example/", "mailto:h@x.example"
    ]
    for attrs in links:
        assert attrs["target"] == "_blank" and "noopener" in attrs["rel"].split()


def test_empty_body_renders_empty():
    assert render_markdown("") == ""


@pytest.mark.parametrize(("body", "href", "text"), [
    ("Write to help@shop.example today.", "mailto:help@shop.example", "help@shop.example"),
    ("Our form: https://shop.example/returns.", "https://shop.example/returns",
     "https://shop.example/returns"),
    ("Open www.shop.com/size-guide, then pick a size.", "http://www.shop.com/size-guide",
     "www.shop.com/size-guide"),
    ("Questions? care@outfitters.co.uk", "mailto:care@outfitters.co.uk", "care@outfitters.co.uk"),
])
def test_a_bare_address_in_an_article_is_a_link(body, href, text):
    elements = Elements(render_markdown(body)).elements
    links = [attrs for tag, attrs in elements if tag == "a"]
    assert [link["href"] for link in links] == [href]
    assert links[0]["rel"] == "noopener noreferrer nofollow"
    assert f">{text}</a>" in render_markdown(body)


@pytest.mark.parametrize("body", [
    "version 1.2.3 of file.txt", "`https://in.code.example/x`", "    https://indented.example/code",
    "javascript:alert(1)", "ftp://files.example/x", "see //evil.example/x",
])
def test_code_versions_and_other_schemes_are_not_links(body):
    assert [tag for tag, _ in Elements(render_markdown(body)).elements if tag == "a"] == []


# --- markdown_to_text: the plain-text part of a mail -----------------------------------------


def _safe_only(href: str) -> str | None:
    return href if href.startswith(("http://", "https://", "mailto:")) else None


def _text(markdown: str) -> str:
    return markdown_to_text(markdown, link_target=_safe_only)


@pytest.mark.parametrize(("markdown", "text"), [
    ("Keep **the receipt** and _the box_.", "Keep the receipt and the box."),
    ("Was ~~$20~~ now __$15__, code `SAVE5`.", "Was $20 now $15, code SAVE5."),
    ("Use \\*literally\\* 5 \\* 3 &amp; a &lt;tag&gt;", "Use *literally* 5 * 3 & a <tag>"),
    ("<b>not bold</b> <script>x()</script>", "<b>not bold</b> <script>x()</script>"),
    ("one\ntwo  \nthree", "one\ntwo\nthree"),
    ("", ""),
])
def test_inline_marks_are_dropped_and_escapes_resolved(markdown, text):
    assert _text(markdown) == text


def test_blocks_read_as_lines_with_their_markers():
    markdown = (
        "## Returns\n\nYou can:\n\n- print a label\n- drop it off\n  - at a locker\n\n"
        "3. pack it\n4. ship it\n\n> Refunds take 5 days.\n\n---\n\n"
        "| Plan | Price |\n| --- | --- |\n| Basic | $5 |\n\n```\nraw *text*\n```"
    )
    assert _text(markdown) == (
        "Returns\n\nYou can:\n\n- print a label\n- drop it off\n  - at a locker\n\n"
        "3. pack it\n4. ship it\n\n> Refunds take 5 days.\n\n----\n\n"
        "Plan | Price\nBasic | $5\n\nraw *text*"
    )


def test_a_list_item_of_several_lines_keeps_them_under_its_marker():
    assert _text("1. first line\n   still the first\n2. second") == (
        "1. first line\n   still the first\n2. second")


@pytest.mark.parametrize(("markdown", "text"), [
    ("[the carrier's page](https://carrier.example/track)",
     "the carrier's page (https://carrier.example/track)"),
    ("[https://shop.example/a](https://shop.example/a)", "https://shop.example/a"),
    ("Write to help@shop.example or see https://shop.example/faq.",
     "Write to help@shop.example or see https://shop.example/faq."),
    ("[mail us](mailto:help@shop.example)", "mail us (help@shop.example)"),
    ("[local](/admin/) and ![a parcel](https://img.example/p.png)", "local and a parcel"),
    ("[**bold** label](https://a.example/)", "bold label (https://a.example/)"),
])
def test_links_read_as_label_and_address(markdown, text):
    assert _text(markdown) == text


def test_the_link_target_function_decides_the_address():
    seen = []

    def target(href: str) -> str | None:
        seen.append(href)
        return "https://desk.example" + href if href.startswith("/help/") else None

    text = markdown_to_text("[Returns](/help/articles/3-returns/) and [x](/admin/)",
                            link_target=target)
    assert text == "Returns (https://desk.example/help/articles/3-returns/) and x"
    assert seen == ["/help/articles/3-returns/", "/admin/"]
