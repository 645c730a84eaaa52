"""``/api/``: the tokens page, the OpenAPI schema and its docs page, and the API itself
under ``/api/v1/``. Any other ``/api/`` address is a JSON 404."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from . import pages, views
from .errors import not_found

app_name = "api"

router = SimpleRouter()
router.register("conversations", views.ConversationViewSet, basename="conversation")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("articles", views.ArticleViewSet, basename="article")
router.register("events", views.ReportingEventViewSet, basename="event")

v1 = [
    re_path(
        rf"^conversations/(?P<pk>{views.ID_PATTERN})/messages/$",
        views.ConversationMessagesView.as_view(),
        name="conversation-messages",
    ),
    re_path(
        rf"^conversations/(?P<pk>{views.ID_PATTERN})/notes/$",
        views.ConversationNotesView.as_view(),
        name="conversation-notes",
    ),
    *router.urls,
]

urlpatterns = [
    path("tokens/", pages.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", pages.token_revoke, name="token-revoke"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="api/docs.html"),
        name="docs",
    ),
    path("v1/", include(v1)),
    re_path(r"^.*$", not_found),
]
