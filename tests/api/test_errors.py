"""Every error answer under ``/api/`` is the API's JSON (``api.errors``), a server error
included; the staff pages keep Django's HTML pages. DEBUG is off, as in production."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from .error_urls import SECRET

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.error_urls")]


@pytest.fixture
def anon() -> Client:
    """A client that gets the 500 answer instead of the exception, and checks CSRF."""
    return Client(raise_request_exception=False, enforce_csrf_checks=True)


def assert_json_error(response, status: int, error: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == error and body["message"]
    text = response.content.decode()
    assert SECRET not in text and "Traceback" not in text and "RuntimeError" not in text
    return body


@pytest.mark.parametrize("url", ["/api/v1/boom/", "/api/plain-boom/"])
def test_a_server_error_under_api_is_json_and_logged(settings, anon, caplog, url):
    assert settings.DEBUG is False
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = anon.get(url)
    assert_json_error(response, 500, "server_error")
    logged = [r for r in caplog.records
              if r.name == "django.request" and r.levelno == logging.ERROR]
    assert len(logged) == 1, caplog.records
    assert logged[0].exc_info and isinstance(logged[0].exc_info[1], RuntimeError)
    assert SECRET in str(logged[0].exc_info[1])  # the log keeps what the answer hides


def test_a_server_error_on_a_staff_page_keeps_the_html_page(anon, caplog):
    for url in ("/staff-boom/", "/api/tokens/boom/"):
        response = anon.get(url)
        assert response.status_code == 500, url
        assert response["Content-Type"].startswith("text/html"), url
        assert b"Server Error" in response.content and SECRET.encode() not in response.content


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
@pytest.mark.parametrize("url", ["/api/nothing-here", "/api/v1/nothing/", "/api/v2/conversations/",
                                 "/api/v1/conversations/not-an-id/"])
def test_an_unknown_api_address_is_a_json_404(anon, method, url):
    # A POST without a CSRF token too: not the HTML CSRF page.
    body = assert_json_error(getattr(anon, method)(url), 404, "not_found")
    assert "/api/schema/" in body["message"]


def test_a_suspicious_request_or_a_refusal_outside_drf_is_json_under_api(anon, settings):
    assert_json_error(anon.get("/api/suspicious/"), 400, "bad_request")
    assert_json_error(anon.get("/api/forbidden/"), 403, "permission_denied")
    settings.ALLOWED_HOSTS = ["desk.example"]
    assert_json_error(anon.get("/api/v1/conversations/", HTTP_HOST="evil.example"), 400,
                      "bad_request")


def test_staff_pages_keep_their_html_4xx_pages(anon):
    response = anon.get("/staff-suspicious/")
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
    response = anon.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_drf_errors_keep_their_shape(anon):
    body = assert_json_error(anon.get("/api/v1/conversations/"), 401, "not_authenticated")
    assert body["message"]
