"""A URLconf for the error tests only: the project's, plus views that really raise (a DRF
view, a plain view under ``/api/``, a staff page), and the project's error handlers."""

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from supportdesk.urls import handler400, handler403, handler404, handler500
from supportdesk.urls import urlpatterns as project_urlpatterns

SECRET = "sk-live-do-not-show"


class BoomView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError(f"the database password is {SECRET}")


def plain_boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(f"the database password is {SECRET}")


def suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation(f"suspicious {SECRET}")


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied(f"forbidden {SECRET}")


urlpatterns = [
    path("api/v1/boom/", BoomView.as_view()),
    path("api/plain-boom/", plain_boom),
    path("api/suspicious/", suspicious),
    path("api/forbidden/", forbidden),
    path("api/tokens/boom/", plain_boom),
    path("staff-boom/", plain_boom),
    path("staff-suspicious/", suspicious),
    *project_urlpatterns,
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
