"""What errors put on the page and in the log: no credentials, no tracebacks for client errors."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

# "scheme://user:password@host" and "scheme://:password@host" (Redis): the password part.
URL_PASSWORD = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^/@:\s]*:)(?P<secret>[^@/\s]+)(?=@)", re.I
)
# "?password=...", "&token=..." and the like in a URL's query.
URL_SECRET_PARAMETER = re.compile(
    r"(?P<head>[?&](?:password|passwd|pass|secret|token|key|api_key|access_key)=)"
    r"(?P<secret>[^&#\s]+)",
    re.I,
)


def mask_url_credentials(value: str, substitute: str = "********************") -> str:
    """``value`` with the password of every URL in it (and secret query parameters) replaced.

    ``redis://:s3cret@cache:6379/0`` becomes ``redis://:********************@cache:6379/0``; the
    scheme, user, host and database stay readable for whoever debugs the connection.
    """
    value = URL_PASSWORD.sub(lambda match: match["head"] + substitute, value)
    return URL_SECRET_PARAMETER.sub(lambda match: match["head"] + substitute, value)


class CredentialMaskingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter for the ``DEBUG`` error page and error e-mails, plus URL credentials.

    Django hides settings whose names look secret (``SECRET_KEY``, ``PASSWORD``...) but shows
    ``CELERY_BROKER_URL``, ``DATABASE_URL`` or ``REDIS_URL`` whole, password included; this
    masks the password inside any URL in any setting, however deep in a dict or list.
    Installed as ``DEFAULT_EXCEPTION_REPORTER_FILTER``.
    """

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if type(cleansed) is str:  # not a lazy object that poses as one
            return mask_url_credentials(cleansed, str(self.cleansed_substitute))
        return cleansed


class ClientErrorTracebackFilter(logging.Filter):
    """Logs a 4xx response (a 403, bad input) as its one line, without the exception's traceback.

    Django logs ``PermissionDenied``, ``BadRequest`` and ``SuspiciousOperation`` with the
    exception attached, which prints a traceback for what is the client's mistake, not a bug.
    Records of 5xx responses and everything else pass unchanged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
