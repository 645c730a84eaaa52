"""Logging filters named in ``settings.LOGGING``."""

from __future__ import annotations

import logging


class ClientErrorWithoutTraceback(logging.Filter):
    """Keeps a 4xx answer's one log line but drops its traceback.

    Django logs every 403 (``PermissionDenied``) and 400 (``DisallowedHost``, a bad request) with
    the exception attached (``django.core.handlers.exception.response_for_exception``, the
    ``status_code`` in the record's extra): 60 lines per refused request, for a refusal that is
    working as intended. Server errors (5xx) and records without a status keep theirs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
