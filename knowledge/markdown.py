"""Markdown to sanitised HTML: the one way any page shows knowledge-base text.

markdown-it-py renders CommonMark (plus tables and strikethrough) with raw HTML switched
off, so a ``<script>`` in a body comes out as text; nh3 then keeps only a small set of tags
and attributes as a second line of defence. Links keep only http, https and mailto targets
(and the site's own public help pages, ``/help/articles/...``), open in a new tab and carry
``rel="noopener noreferrer nofollow"``. The result is safe for ``|safe``; the chat widget
shows bot replies through it too.
"""

from __future__ import annotations

import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "s", "del",
    "code", "pre", "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr",
    "th", "td",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
SAFE_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"
# Site-relative link targets allowed besides absolute ones: the public, read-only article
# pages (``knowledge.help_urls``) that a bot reply links to. Any other path (``/admin/``)
# or a protocol-relative ``//host`` loses its target.
SAFE_PATH_PREFIXES = ("/help/articles/",)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # linkify: bare URLs and e-mail addresses in an article ("write to help@example.com")
    # become links, with the same scheme check as written links (linkify-it-py).
    parser = MarkdownIt("commonmark", {"html": False, "linkify": True}).enable(
        ["table", "strikethrough", "linkify"]
    )
    # Addresses under the documentation domain (RFC 2606: "help@shop.example", as in the
    # demo) are links too; linkify-it knows only the delegated top-level domains.
    parser.linkify.tlds(["example"], True)
    # Only what a link may point at (``SAFE_SCHEMES``): no ftp: or protocol-relative links.
    parser.linkify.add("ftp:", None)
    parser.linkify.add("//", None)
    return parser


def _has_safe_scheme(url: str) -> bool:
    scheme, sep, _ = url.strip().partition(":")
    return bool(sep) and scheme.lower() in SAFE_SCHEMES


def _is_help_path(url: str) -> bool:
    return url.startswith(SAFE_PATH_PREFIXES) and not any(c in url for c in ("\\", ":", ".."))


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    # Only absolute http(s)/mailto targets survive: no javascript:, data:, relative tricks;
    # a link (not an image) may also point at a public help article of this site.
    if attribute == "href" and _is_help_path(value):
        return value
    if attribute in {"href", "src"} and not _has_safe_scheme(value):
        return None
    if attribute == "src" and value.strip().lower().startswith("mailto:"):
        return None
    return value


def sanitize_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes=SAFE_SCHEMES,
        link_rel=LINK_REL,
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """Render Markdown to HTML that contains no script, style, event handler or unsafe link."""
    if not text:
        return ""
    return sanitize_html(_parser().render(text))


# Characters escaped wherever they are in a literal: those that open a link, an image, an
# autolink, emphasis, code, a table cell or strikethrough, and the backslash itself. A colon
# too, so that no "scheme:" of a URL reaches the linkifier (nor the inline "https:" rule).
_LITERAL_ALWAYS = re.compile(r"([\\`*_\[\]<>|~:@])")
# A dot that could separate the labels of a domain name ("evil.example" would be linkified as
# a bare domain): a dot before a letter. "12.50" and a sentence's last dot stay as they are.
_LITERAL_DOT = re.compile(r"\.(?=[^\W\d])")
# An HTML entity ("&amp;", "&#91;") would be decoded: its "&" is escaped.
_LITERAL_ENTITY = re.compile(r"&(?=#?\w+;)")
# What opens a block at the beginning of a line: a heading, a list item, a quote, a setext
# underline or a thematic break; an ordered item's "1." or "1)".
_LITERAL_LINE_START = re.compile(r"^(\s*)(?:([#+\-=>])|(\d{1,9})([.)]))")
_LINE_BREAK = re.compile(r"\s*[\r\n\u2028\u2029\x0b\x0c\x85]\s*")


def escape_markdown(text: str) -> str:
    """``text`` written so that Markdown (``render_markdown``) shows it as literal text.

    For a value that no admin wrote (a company API's answer, a detail a customer typed)
    put into a reply that is rendered as Markdown: no link, image, autolink or linkified
    URL, domain or address, no emphasis, code, heading, list, quote, table or entity comes
    out of it. Backslash escapes (CommonMark, section 2.4) are added only before what could
    start such syntax; a line break becomes a space (as Markdown would show it inside a
    paragraph), so that no block begins inside the value.
    """
    text = _LINE_BREAK.sub(" ", str(text))
    text = _LITERAL_ALWAYS.sub(r"\\\1", text)
    text = _LITERAL_DOT.sub(r"\\.", text)
    text = _LITERAL_ENTITY.sub(r"\\&", text)

    def line_start(match: re.Match[str]) -> str:
        if match.group(2):
            return f"{match.group(1)}\\{match.group(2)}"
        return f"{match.group(1)}{match.group(3)}\\{match.group(4)}"

    return _LITERAL_LINE_START.sub(line_start, text, count=1)
