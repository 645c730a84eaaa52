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
    path("conversations/<int:pk>/note/", views.conversation_note, name="console-note"),
    path("conversations/<int:pk>/assign/", views.conversation_assign, name="console-assign"),
    path("conversations/<int:pk>/labels/", views.conversation_labels, name="console-labels"),
    path("presence/", views.presence, name="console-presence"),
    path("articles/", views.article_search, name="console-articles"),
    path("canned/", views.canned_search, name="console-canned"),
    path("canned/manage/", views.canned_manage, name="console-canned-manage"),
    path("profile/", views.profile, name="console-profile"),
    path("labels.css", views.label_css, name="console-label-css"),
]
