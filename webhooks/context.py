"""The notice of disabled webhook endpoints on the admin pages (a template context processor)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.roles import ADMINS, has_role

from .selectors import endpoints_disabled_by_failures

ADMIN_PATHS = ("/knowledge/", "/webhooks/")


def webhook_notices(request: HttpRequest) -> dict[str, Any]:
    """``disabled_webhooks``: the endpoints the desk disabled after a day of failures, for an
    admin on an admin page (one query there, none elsewhere)."""
    if not request.path.startswith(ADMIN_PATHS) or not has_role(request.user, [ADMINS]):
        return {}
    return {"disabled_webhooks": endpoints_disabled_by_failures()}
