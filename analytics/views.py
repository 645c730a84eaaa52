from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from supportdesk.roles import area_required


@area_required("analytics")
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "analytics/dashboard.html")
