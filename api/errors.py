"""Every API error is JSON: ``{"error": code, "message": text}``, with ``fields`` (a field's
name -> its messages) for bad input.

Two doors give that shape. DRF's views answer their own errors through
``api_exception_handler`` (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``). Anything else, an
unexpected exception in a view or a middleware, a ``SuspiciousOperation``, an unknown
address, reaches Django's error handlers, which ``supportdesk.urls`` points at the
``handler*`` functions below: under ``/api/`` they answer the same JSON (never a traceback or
the exception's text), elsewhere, and on the API's pages people read in a browser (the tokens
page, the docs page), Django's own HTML pages. Django logs the error before either answers.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _flatten(value)]
    if isinstance(detail, list):
        return [m for value in detail for m in _flatten(value)]
    return [str(detail)]


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (statuses, ``WWW-Authenticate``, ``Retry-After``), its body reshaped."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500, logged with its traceback
    if isinstance(exc, exceptions.APIException):
        code = exc.default_code
        if isinstance(exc, exceptions.ValidationError):
            detail = exc.detail
            fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
            response.data = {
                "error": "invalid",
                "message": " ".join(_flatten(exc.detail)) or "Bad input.",
                "fields": {key: _flatten(value) for key, value in fields.items()},
            }
            return response
        response.data = {"error": code, "message": " ".join(_flatten(exc.detail))}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            response.data["retry_after"] = int(exc.wait + 0.999)
    return response


API_PREFIX = "/api/"
# The API's pages people read in a browser keep the site's HTML error pages.
API_HTML_PAGES = ("/api/tokens/", "/api/docs/")

NOT_FOUND_MESSAGE = "No such API endpoint; see /api/schema/."


def answers_json(request: HttpRequest) -> bool:
    """Whether an error answer to ``request`` is the API's JSON: its path is under ``/api/``
    and is none of ``API_HTML_PAGES``."""
    path = request.path_info
    return path.startswith(API_PREFIX) and not path.startswith(API_HTML_PAGES)


def error_response(status: int, error: str, message: str) -> JsonResponse:
    """``{"error": error, "message": message}`` with the HTTP ``status``."""
    return JsonResponse({"error": error, "message": message}, status=status)


@csrf_exempt  # a POST without a CSRF token to an unknown address is a 404, not a CSRF 403
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any ``/api/`` address that is no endpoint: a JSON 404, not the HTML page."""
    return error_response(404, "not_found", NOT_FOUND_MESSAGE)


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's ``handler400`` (a ``SuspiciousOperation``, e.g. a host not in
    ``ALLOWED_HOSTS``): JSON 400 under ``/api/``, else Django's page."""
    if answers_json(request):
        return error_response(400, "bad_request", "The request could not be understood.")
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's ``handler403`` (a ``PermissionDenied`` outside DRF's views): JSON under
    ``/api/``, else the site's 403 page."""
    if answers_json(request):
        return error_response(403, "permission_denied",
                              "You do not have permission to perform this action.")
    return defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's ``handler404`` (an ``Http404`` outside DRF's views): JSON under ``/api/``,
    else the site's 404 page."""
    if answers_json(request):
        return error_response(404, "not_found", NOT_FOUND_MESSAGE)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    """Django's ``handler500``, after Django logged the exception with its traceback
    (``django.request``): under ``/api/`` a JSON 500 that says nothing of the exception,
    else Django's page. With ``DEBUG`` on Django shows its debug page instead of either."""
    if answers_json(request):
        return error_response(500, "server_error",
                              "The server failed to answer; the error has been logged.")
    return defaults.server_error(request)
