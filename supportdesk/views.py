from __future__ import annotations

import math

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.roles import roles_context
from chat.identity import identity_hash
from chat.models import Widget

from .health import check_all


def login_locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The page a locked-out login gets (django-axes' ``AXES_LOCKOUT_CALLABLE``): 429, no form."""
    cooloff = get_cool_off(request)
    minutes = math.ceil(cooloff.total_seconds() / 60) if cooloff else 0
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}
    locked = render(request, "registration/locked_out.html", context, status=429)
    if minutes:
        locked["Retry-After"] = str(math.ceil(cooloff.total_seconds()))
    return locked


@login_required
def home(request: HttpRequest) -> HttpResponse:
    areas = roles_context(request)["nav_areas"]
    if len(areas) >= 1:
        return redirect(areas[0]["url"])
    return render(request, "home.html")


DEMO_CUSTOMER = {"id": "cust-10023", "email": "sam@example.com", "name": "Sam Rivera"}


@require_GET
def demo_store(request: HttpRequest) -> HttpResponse:
    """A sample shop page with the widget snippet embedded, as a company would embed it.

    ``?signed_in=1`` plays the shop's signed-in customer: the snippet carries the demo
    customer's id, e-mail address, name and their HMAC with the widget's identity secret, as
    the shop's server would write them (``chat.identity``).
    """
    widget = Widget.objects.filter(public_key="demo").first()
    signed_in = request.GET.get("signed_in") == "1"
    user = None
    if widget is not None and signed_in and widget.identity_secret:
        user = {**DEMO_CUSTOMER,
                "hash": identity_hash(widget.identity_secret, DEMO_CUSTOMER["id"])}
    return render(request, "demo_store.html",
                  {"widget": widget, "signed_in": user is not None, "user": user})


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = check_all()
    healthy = all(item["ok"] for item in checks.values())
    payload = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return JsonResponse(
        payload, status=200 if healthy else 503, json_dumps_params={"indent": None}
    )

