"""Role checks of the API, the same as the pages' (``accounts.roles.AREA_ROLES``)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.roles import ADMINS, AGENTS, AREA_ROLES, has_role


class _AreaPermission(BasePermission):
    area = ""
    message = "Your role does not give access to this data."

    def has_permission(self, request: Any, view: Any) -> bool:
        return has_role(request.user, AREA_ROLES[self.area])


class ConsoleArea(_AreaPermission):
    """Conversations, messages and contacts: agents, as in the console."""

    area = "console"
    message = "Only agents can read conversations, messages and contacts."


class AnalyticsArea(_AreaPermission):
    """Reporting events: managers and admins, as on the analytics dashboard."""

    area = "analytics"
    message = "Only managers and admins can read reporting events."


class ArticlesAccess(BasePermission):
    """Articles: agents and admins read (agents the published ones); only admins write."""

    message = "Only admins can change articles; agents and admins can read them."

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return has_role(request.user, [AGENTS, ADMINS])
        return has_role(request.user, [ADMINS])
