"""The notice of disabled webhook endpoints on the admin pages (a template context processor)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.roles import ADMINS, has_role

from .selectors import endpoints_disabled_by_failures
from .services import disabled_notice_wanted

ADMIN_PATHS = ("/knowledge/", "/webhooks/")


def webhook_notices(request: HttpRequest) -> dict[str, Any]:
    """``disabled_webhooks``: the endpoints the desk disabled after a day of failures, for an
    admin on an admin page. A cache read there (``services.disabled_notice_wanted``), and a
    query only while such an endpoint exists; nothing on other pages."""
    if not request.path.startswith(ADMIN_PATHS) or not has_role(request.user, [ADMINS]):
        return {}
    if not disabled_notice_wanted():
        return {}
    return {"disabled_webhooks": endpoints_disabled_by_failures()}
