"""The public, read-only help pages: a published article for anyone, e.g. a customer who
follows the link under a bot reply. Drafts are not found; nothing here needs a login.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from . import selectors
from .links import article_slug
from .markdown import render_markdown


@require_GET
def help_article(request: HttpRequest, pk: int, slug: str = "") -> HttpResponse:
    """A published article rendered through the sanitiser, under the help center's name
    (``HELP_CENTER_NAME``, with a link back to ``HELP_CENTER_HOME_URL``) and with its related
    articles; an outdated slug redirects, a draft or unknown id is a 404."""
    article = selectors.article_published(pk)
    if article is None:
        raise Http404("No published article with this id.")
    if slug != article_slug(article.title):
        return redirect("help:article", pk=article.pk, slug=article_slug(article.title),
                        permanent=True)
    return render(
        request,
        "knowledge/help_article.html",
        {
            "article": article,
            "body_html": render_markdown(article.body),
            "related": [
                (related, article_slug(related.title))
                for related in selectors.articles_related(article)
            ],
            "help_center_name": settings.HELP_CENTER_NAME,
            "help_center_home_url": settings.HELP_CENTER_HOME_URL,
        },
    )
