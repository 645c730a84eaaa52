"""The only template library of a connector's reply template (``knowledge.connectors``):
``{% if %}``, ``{% for %}``, ``{% comment %}`` and a short list of filters that read values,
from Django's own built-ins. No tag loads, includes, extends or reaches settings."""

from __future__ import annotations

from typing import Any

from django.template import Library, defaultfilters, defaulttags
from django.utils.formats import localize

from .markdown import escape_markdown

register = Library()

register.tag("if", defaulttags.do_if)
register.tag("for", defaulttags.do_for)
register.tag("comment", defaulttags.comment)

SAFE_FILTERS = (
    "capfirst", "date", "default", "default_if_none", "first", "floatformat", "join", "last",
    "length", "lower", "pluralize", "title", "truncatechars", "upper", "yesno",
)
for _name in SAFE_FILTERS:
    register.filter(_name, getattr(defaultfilters, _name))


class MarkdownLiteral(str):
    """A value already written as literal Markdown text (``markdown_literal``'s result)."""


@register.filter("markdown_literal")
def markdown_literal(value: Any) -> str:
    """The value as Django would print it, escaped so that Markdown shows it as literal text.

    Added by ``knowledge.connectors.literal_outputs`` as the last filter of every variable
    of a reply template; not one of ``SAFE_FILTERS`` (an admin has no need to write it, and
    writing it changes nothing: a value is escaped once)."""
    if isinstance(value, MarkdownLiteral):
        return value
    return MarkdownLiteral(escape_markdown(str(localize(value))))
