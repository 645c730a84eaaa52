from django.urls import path

from . import views

urlpatterns = [
    path("", views.console, name="console"),
    path("conversations/<int:pk>/", views.conversation_detail, name="console-conversation"),
    path("conversations/<int:pk>/claim/", views.conversation_claim, name="console-claim"),
    path("conversations/<int:pk>/send/", views.conversation_send, name="console-send"),
    path("conversations/<int:pk>/resolve/", views.conversation_resolve, name="console-resolve"),
    path(
        "conversations/<int:pk>/return/",
        views.conversation_return_to_bot,
        name="console-return",
    ),
    path("presence/", views.presence, name="console-presence"),
    path("articles/", views.article_search, name="console-articles"),
]
