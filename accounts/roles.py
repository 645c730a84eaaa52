"""The three staff roles, as Django groups, and the checks every staff page uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

ADMINS = "admins"
AGENTS = "agents"
MANAGERS = "managers"
ROLES = (ADMINS, AGENTS, MANAGERS)

# Which roles may open each area. Admins see analytics too; nobody but agents works the queue.
AREA_ROLES: dict[str, tuple[str, ...]] = {
    "console": (AGENTS,),
    "knowledge": (ADMINS,),
    "analytics": (MANAGERS, ADMINS),
}


def user_roles(user: Any) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_supportdesk_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._supportdesk_roles = cached
    return cached


def has_role(user: Any, roles: Iterable[str]) -> bool:
    return bool(user_roles(user) & set(roles))


def can_open(user: Any, area: str) -> bool:
    return has_role(user, AREA_ROLES[area])


def role_required(*roles: str) -> Callable:
    """Anonymous users go to the login page; signed-in users without the role get 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, roles):
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def area_required(area: str) -> Callable:
    return role_required(*AREA_ROLES[area])


def roles_context(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "nav_areas": [
            {"key": key, "label": key.title(), "url": f"/{key}/"}
            for key in ("console", "knowledge", "analytics")
            if user is not None and can_open(user, key)
        ]
    }


# Model permissions each role's group carries (app_label, codename prefix set, models).
ROLE_PERMISSIONS: dict[str, list[tuple[str, tuple[str, ...], tuple[str, ...]]]] = {
    ADMINS: [
        (
            "knowledge",
            ("add", "change", "delete", "view"),
            (
                "intent",
                "trainingphrase",
                "escalationsignal",
                "article",
                "articleversion",
                "classifiermodel",
            ),
        ),
        ("knowledge", ("view",), ("auditlogentry",)),
        ("chat", ("add", "change", "view"), ("widget",)),
        ("chat", ("add", "change", "delete", "view"), ("cannedresponse",)),
        ("analytics", ("view",), ("reportingevent",)),
    ],
    AGENTS: [
        ("chat", ("view", "change"), ("conversation", "contact")),
        ("chat", ("view", "add"), ("message",)),
        ("chat", ("view",), ("bottrace",)),
        ("knowledge", ("view",), ("article",)),
    ],
    MANAGERS: [("analytics", ("view",), ("reportingevent",))],
}


def ensure_role_groups(**kwargs: Any) -> None:
    """Create the role groups with their permissions; safe to run any number of times."""
    from django.contrib.auth.models import Group, Permission

    for role, grants in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        codenames = [
            (app, f"{action}_{model}") for app, actions, models in grants for action in actions
            for model in models
        ]
        perms = []
        for app, codename in codenames:
            perm = Permission.objects.filter(
                content_type__app_label=app, codename=codename
            ).first()
            if perm is not None:
                perms.append(perm)
        group.permissions.set(perms)
