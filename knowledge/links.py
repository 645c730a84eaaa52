"""Addresses of the public help pages (``knowledge.help_urls``, mounted at ``/help/``)."""

from __future__ import annotations

from functools import lru_cache

from django.urls import reverse
from django.utils.text import slugify


def article_slug(title: str) -> str:
    """The slug of an article's public address: its title in lower-case words and dashes."""
    return slugify(title)[:80].strip("-") or "article"


@lru_cache(maxsize=4096)
def article_public_url(pk: int, title: str) -> str:
    """The site-relative address of a published article's public page, e.g.
    ``/help/articles/12-shipping-costs/`` (``knowledge.markdown`` keeps such links).

    Cached: ``reverse`` costs a fifth of a millisecond, and every answer ends with a link."""
    return reverse("help:article", kwargs={"pk": pk, "slug": article_slug(title)})
