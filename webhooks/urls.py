from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("", views.endpoint_list, name="endpoint_list"),
    path("new/", views.endpoint_create, name="endpoint_create"),
    path("<int:pk>/", views.endpoint_edit, name="endpoint_edit"),
    path("<int:pk>/created/", views.endpoint_created, name="endpoint_created"),
    path("<int:pk>/enable/", views.endpoint_enable, name="endpoint_enable"),
    path("<int:pk>/delete/", views.endpoint_delete, name="endpoint_delete"),
    path("<int:pk>/deliveries/", views.delivery_list, name="delivery_list"),
    path("deliveries/<int:pk>/resend/", views.delivery_resend, name="delivery_resend"),
]
