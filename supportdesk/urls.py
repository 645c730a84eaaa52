from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import demo_api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("demo/", views.demo_store, name="demo-store"),
    path("demo/api/orders/", demo_api.orders_api, name="demo-orders"),
    path("demo/api/orders/<str:number>/", demo_api.orders_api, name="demo-order"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("chat.urls")),
    path("knowledge/", include("knowledge.urls")),
    path("help/", include("knowledge.help_urls")),
    path("analytics/", include("analytics.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("api/", include("api.urls")),
]

# Under /api/ an error is the API's JSON; elsewhere Django's pages (api.errors).
handler400 = "api.errors.handler400"
handler403 = "api.errors.handler403"
handler404 = "api.errors.handler404"
handler500 = "api.errors.handler500"
