"""Every API error is JSON: ``{"error": code, "message": text}``, with ``fields`` (a field's
name -> its messages) for bad input."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
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


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any ``/api/`` address that is no endpoint: a JSON 404, not the HTML page."""
    return JsonResponse(
        {"error": "not_found", "message": "No such API endpoint; see /api/schema/."}, status=404
    )
