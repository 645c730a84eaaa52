from django.urls import path

from . import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("tiles/", views.tiles_fragment, name="tiles"),
    path("charts/<slug:key>/", views.chart_data, name="chart"),
    path("gaps/act/", views.gap_act, name="gap_act"),
]
