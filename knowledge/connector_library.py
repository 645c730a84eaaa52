"""The only template library of a connector's reply template (``knowledge.connectors``):
``{% if %}``, ``{% for %}``, ``{% comment %}`` and a short list of filters that read values,
from Django's own built-ins. No tag loads, includes, extends or reaches settings."""

from __future__ import annotations

from django.template import Library, defaultfilters, defaulttags

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
