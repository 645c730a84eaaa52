from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from supportdesk.roles import area_required

from .models import Article, Intent


@area_required("knowledge")
def index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "knowledge/index.html",
        {"intent_count": Intent.objects.count(), "article_count": Article.objects.count()},
    )
