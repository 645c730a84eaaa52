from django.urls import include, path

app_name = "chat"

urlpatterns = [
    path("console/", include("chat.console.urls")),
    path("", include("chat.widget_urls")),
]
