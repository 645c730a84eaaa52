"""The DEBUG error page masks URL credentials; client errors are logged without tracebacks."""

from __future__ import annotations

import io
import logging
import secrets
import sys

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory, override_settings
from django.views.debug import ExceptionReporter

from supportdesk.reporting import ClientErrorTracebackFilter, mask_url_credentials

# Made at run time, so that the traceback's source lines cannot show them either.
PW = [secrets.token_hex(6) for _ in range(5)]
SECRETS = {
    "CELERY_BROKER_URL": (f"redis://:{PW[0]}@broker.internal:6379/1", PW[0]),
    "DATABASE_URL": (f"postgres://desk:{PW[1]}%2F7@db.internal:5432/desk", f"{PW[1]}%2F7"),
    "REDIS_URL": (f"rediss://default:{PW[2]}@cache.internal:6380/0", PW[2]),
    "SENTRY_LIKE_URL": (f"https://hooks.internal/x?token={PW[3]}&v=2", PW[3]),
}


@pytest.mark.parametrize(("url", "secret"), list(SECRETS.values()))
def test_mask_url_credentials_hides_the_secret_and_keeps_the_rest(url, secret):
    masked = mask_url_credentials(url)
    assert secret not in masked
    host = url.split("@")[-1].split("?")[0] if "@" in url else url.split("?")[0]
    assert host in masked


def test_text_without_credentials_is_unchanged():
    for text in ("redis://cache:6379/0", "memory://", "user@example.com", "a:b@c"):
        assert mask_url_credentials(text) == text


@override_settings(
    DEBUG=True,
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                        "LOCATION": f"redis://:{PW[4]}@cache.internal:6379/3"}},
    **{name: url for name, (url, _) in SECRETS.items()},
)
def test_the_debug_error_page_masks_passwords_inside_url_settings():
    request = RequestFactory().get("/boom")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        page = ExceptionReporter(request, *sys.exc_info()).get_traceback_html()
    for _, secret in SECRETS.values():
        assert secret not in page
    assert PW[4] not in page
    assert "broker.internal:6379/1" in page
    assert "cache.internal:6379/3" in page


@pytest.fixture
def console_log():
    """What the project's console log handler writes, captured."""
    handler = next(
        h for h in logging.getLogger().handlers
        if any(isinstance(f, ClientErrorTracebackFilter) for f in h.filters)
    )
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


@pytest.mark.django_db
def test_a_403_is_logged_in_one_line_without_a_traceback(client, console_log):
    client.force_login(User.objects.create_user(username="no-role", password="x-long-pass-1"))
    assert client.get("/knowledge/").status_code == 403
    text = console_log.getvalue()
    assert "Forbidden" in text
    assert "Traceback" not in text


@pytest.mark.django_db
def test_bad_input_is_logged_without_a_traceback_and_server_errors_keep_theirs(console_log):
    logger = logging.getLogger("django.security.SuspiciousOperation")
    for status, logged in ((400, False), (500, True)):
        try:
            raise ValueError(f"sample {status}")
        except ValueError as exc:
            logger.error("rejected %s", status, exc_info=exc, extra={"status_code": status})
        text = console_log.getvalue()
        assert f"rejected {status}" in text
        assert ("Traceback" in text) is logged
