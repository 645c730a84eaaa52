"""URLs of the public help pages, mounted at ``/help/`` (addresses built in ``links``)."""

from django.urls import path

from .help_views import help_article

app_name = "help"

urlpatterns = [
    path("articles/<int:pk>/", help_article, name="article_short"),
    path("articles/<int:pk>-<slug:slug>/", help_article, name="article"),
]
