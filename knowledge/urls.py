from django.urls import path

from . import views

app_name = "knowledge"

urlpatterns = [
    path("", views.index, name="index"),
    path("intents/", views.intent_list, name="intent_list"),
    path("intents/new/", views.intent_create, name="intent_create"),
    path("intents/<int:pk>/", views.intent_edit, name="intent_edit"),
    path("intents/<int:pk>/toggle/", views.intent_toggle, name="intent_toggle"),
    path("intents/<int:pk>/phrases/", views.phrase_add, name="phrase_add"),
    path("phrases/<int:pk>/remove/", views.phrase_remove, name="phrase_remove"),
    path("signals/", views.signal_list, name="signal_list"),
    path("signals/preview/", views.signal_preview, name="signal_preview"),
    path("signals/<int:pk>/", views.signal_edit, name="signal_edit"),
    path("signals/<int:pk>/toggle/", views.signal_toggle, name="signal_toggle"),
    path("articles/", views.article_list, name="article_list"),
    path("articles/new/", views.article_create, name="article_create"),
    path("articles/preview/", views.article_preview, name="article_preview"),
    path("articles/<int:pk>/", views.article_edit, name="article_edit"),
    path("articles/<int:pk>/versions/", views.article_versions, name="article_versions"),
    path(
        "articles/<int:pk>/versions/<int:number>/", views.article_version, name="article_version"
    ),
    path(
        "articles/<int:pk>/versions/<int:number>/restore/",
        views.article_version_restore,
        name="article_version_restore",
    ),
    path("import/", views.import_export, name="import_export"),
    path("export.json", views.export_json, name="export_json"),
    path("training/", views.training, name="training"),
    path("training/<int:pk>/", views.model_detail, name="model_detail"),
    path("training/<int:pk>/activate/", views.model_activate, name="model_activate"),
    path("playground/", views.playground, name="playground"),
    path("audit/", views.audit_log, name="audit_log"),
    path("connectors/", views.connector_list, name="connector_list"),
    path("connectors/new/", views.connector_edit, name="connector_create"),
    path("connectors/<int:pk>/", views.connector_edit, name="connector_edit"),
    path("connectors/<int:pk>/test/", views.connector_test, name="connector_test"),
    path("connectors/<int:pk>/delete/", views.connector_delete, name="connector_delete"),
]
