"""The only template library of a connector's reply template (``knowledge.connectors``):
``{% if %}``, ``{% for %}``, ``{% comment %}`` and a short list of filters that read values,
from Django's own built-ins. No tag loads, includes, extends or reaches settings."""

from __future__ import annotations

from typing import Any

from django.template import Library, defaultfilters, defaulttags
from django.utils.formats import localize

from .markdown import escape_markdown

register = Library()

SAFE_TAGS = {"if": defaulttags.do_if, "for": defaulttags.do_for, "comment": defaulttags.comment}
for _tag, _compile in SAFE_TAGS.items():
    register.tag(_tag, _compile)

SAFE_FILTERS = (
    "capfirst", "date", "default", "default_if_none", "first", "floatformat", "join", "last",
    "length", "lower", "pluralize", "title", "truncatechars", "upper", "urlencode", "yesno",
)
for _name in SAFE_FILTERS:
    if _name != "urlencode":  # registered below, with its argument limited
        register.filter(_name, getattr(defaultfilters, _name))

# The characters ``urlencode``'s argument may keep unencoded: those a URL's path or query
# uses as delimiters. A space, ``(``, ``)``, ``<``, ``>``, a quote or a backslash is always
# encoded, so a value never ends a Markdown link's target or starts anything after it.
URLENCODE_SAFE = frozenset("/:@!$&'*+,;=?~")


@register.filter("urlencode", is_safe=False)
def urlencode(value: Any, safe: str | None = None) -> str:
    """Django's ``urlencode`` (``/`` left as is unless ``safe`` says otherwise), keeping
    unencoded only the characters of ``safe`` that are URL delimiters (``URLENCODE_SAFE``):
    ``{{ tracking|urlencode }}`` inside a link's target stays one target whatever the API
    answered (a space, ``)``, ``&``, ``#``...). The last filter, ``markdown_literal``, then
    adds only backslash escapes that Markdown removes again inside a link's target."""
    if safe is not None:
        safe = "".join(ch for ch in str(safe) if ch in URLENCODE_SAFE)
    return defaultfilters.urlencode(value, safe)


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


def help_text() -> str:
    """The reply template's help on the connector form, from the allow-lists themselves
    (``SAFE_TAGS``, ``SAFE_FILTERS``), so that it lists what the sandbox really allows."""
    tags = ", ".join(f"{{% {name} %}}" for name in SAFE_TAGS)
    return (
        "Django template over the JSON answer. Variables: the answer's fields by name "
        "({{ order.status }}; a JSON list is {{ items }}), the whole answer as {{ data }}, and "
        "the customer's details under details: {{ details.order_number }}, "
        "{{ details.email }} (not {{ email }}). A variable the answer lacks makes the call "
        "fail as missing_field, naming it, and the bot says the fallback text. Allowed: "
        f"{tags} and the filters {', '.join(SAFE_FILTERS)}. Each variable shows its value as "
        "written (no link or formatting from the API's data); your own text may use Markdown. "
        "Inside a link's address, encode a value: [Track it](https://carrier.example/t?n="
        "{{ tracking|urlencode }})."
    )
