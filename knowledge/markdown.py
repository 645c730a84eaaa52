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
from collections.abc import Callable
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


def markdown_to_text(text: str, *, link_target: Callable[[str], str | None]) -> str:
    """``text`` (Markdown) as plain text, for a mail's text part: what ``render_markdown``
    shows, without its markup.

    Emphasis, strikethrough and code lose their marks (``**30 days**`` reads "30 days");
    backslash escapes and entities are resolved as the HTML shows them; a heading is its own
    line; list items start with "- " or their number, their further lines and nested items
    indented by the marker's width;
    quoted lines start with "> "; table cells are joined by " | "; paragraphs are separated
    by an empty line. A link reads "label (target)", or the target alone when the label is
    the address itself, with ``link_target(href)`` as its target (None: the label alone, for a
    target the HTML would not link either); an image reads as its alternative text.
    """
    if not text:
        return ""
    blocks: list[str] = []  # finished lines, "" between paragraphs
    prefixes: list[str] = []  # what each open list item or quote puts before its lines
    lists: list[list[int | None]] = []  # each open list's next number (None: bullets)
    first_line_prefix: str | None = None  # an item's marker, for its first line only
    table_row: list[str] | None = None

    def emit(content: str) -> None:
        nonlocal first_line_prefix
        for line in content.split("\n"):
            indent = "".join(prefixes)
            if first_line_prefix is not None:
                indent = "".join(prefixes[:-1]) + first_line_prefix
                first_line_prefix = None
            blocks.append((indent + line).rstrip())

    def paragraph_gap() -> None:
        if blocks and blocks[-1] != "" and not lists:
            blocks.append("")

    for token in _parser().parse(text):
        kind = token.type
        if kind in ("paragraph_open", "heading_open", "fence", "code_block", "table_open",
                    "hr"):
            paragraph_gap()
        if kind == "inline":
            content = _inline_text(token.children or [], link_target)
            if table_row is not None:
                table_row.append(content.replace("\n", " "))
            else:
                emit(content)
        elif kind in ("fence", "code_block"):
            emit(token.content.rstrip("\n"))
        elif kind == "hr":
            emit("----")
        elif kind in ("bullet_list_open", "ordered_list_open"):
            if not lists:
                paragraph_gap()
            start = token.attrGet("start")
            lists.append([None] if kind == "bullet_list_open"
                         else [int(start) if start is not None else 1])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            number = lists[-1][0]
            marker = "- " if number is None else f"{number}. "
            if number is not None:
                lists[-1][0] = number + 1
            prefixes.append(" " * len(marker))
            first_line_prefix = marker
        elif kind == "list_item_close":
            prefixes.pop()
            first_line_prefix = None
        elif kind == "blockquote_open":
            paragraph_gap()
            prefixes.append("> ")
        elif kind == "blockquote_close":
            prefixes.pop()
        elif kind == "tr_open":
            table_row = []
        elif kind == "tr_close" and table_row is not None:
            emit(" | ".join(table_row))
            table_row = None
    while blocks and blocks[-1] == "":
        blocks.pop()
    return "\n".join(blocks)


def _inline_text(children: list, link_target: Callable[[str], str | None]) -> str:
    """The text of one inline token's children (see ``markdown_to_text``)."""
    out: list[str] = []
    links: list[tuple[str | None, int]] = []  # (target, where the label starts in ``out``)
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline", "html_inline"):
            out.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")
        elif kind == "image":
            out.append(child.content)
        elif kind == "link_open":
            href = str(child.attrGet("href") or "")
            links.append((link_target(href) if href else None, len(out)))
        elif kind == "link_close" and links:
            target, start = links.pop()
            label = "".join(out[start:])
            if target is not None:
                shown = target.removeprefix("mailto:")
                if label.strip() in (target, shown):
                    out[start:] = [shown]
                else:
                    out.append(f" ({shown})")
    return "".join(out)
