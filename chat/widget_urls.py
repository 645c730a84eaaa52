"""URLs the widget uses: the conversation API and the panel page framed by customers' sites."""

from django.urls import path

from . import api

urlpatterns = [
    path("api/widget/conversations/", api.conversation_create, name="widget-conversations"),
    path(
        "api/widget/conversations/reopen/", api.conversation_reopen,
        name="widget-conversation-reopen",
    ),
    path(
        "api/widget/conversations/identify/", api.conversation_identify,
        name="widget-conversation-identify",
    ),
    path("widget/<slug:key>/panel/", api.panel, name="widget-panel"),
]
