"""Markdown to sanitised HTML: the one way any page shows knowledge-base text.

markdown-it-py renders CommonMark (plus tables and strikethrough) with raw HTML switched
off, so a ``<script>`` in a body comes out as text; nh3 then keeps only a small set of tags
and attributes as a second line of defence. Links keep only http, https and mailto targets
(and the site's own public help pages, ``/help/articles/...``), open in a new tab and carry
``rel="noopener noreferrer nofollow"``. The result is safe for ``|safe``; the chat widget
shows bot replies through it too.
"""

from __future__ import annotations

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
