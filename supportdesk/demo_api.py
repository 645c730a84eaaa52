"""The demo company's orders API, served by the desk itself at ``/demo/api/orders/`` for the
demo's data connectors (``load_demo``). Its orders are data (``supportdesk/demo/orders.json``).

``GET /demo/api/orders/<number>/?email=...``: the order when the number and the e-mail
address both match, else 404 (the same answer for a wrong address and for no such order).
The number may be written as the demo company's confirmations print it, ``A-10023`` (any
case, a space or no hyphen after the ``A``): the same order as ``10023``.
``GET /demo/api/orders/?customer_id=...``: that customer's three latest orders.
Both need ``Authorization: Bearer <DEMO_API_TOKEN>``.
"""

from __future__ import annotations

import hmac
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

ORDERS_FILE = Path(__file__).resolve().parent / "demo" / "orders.json"
RECENT_ORDERS = 3
# "A-10023", "a 10023", "A10023": the prefix the demo's confirmations print before a number.
ORDER_PREFIX = re.compile(r"^[Aa](?:-|\s)?(?=\d)")
PUBLIC_FIELDS = ("number", "status", "carrier", "tracking_number", "placed_on", "items", "total")


@cache
def demo_orders() -> tuple[dict[str, Any], ...]:
    """The demo orders, read once per process."""
    return tuple(json.loads(ORDERS_FILE.read_text())["orders"])


def _authorised(request: HttpRequest) -> bool:
    expected = f"Bearer {settings.DEMO_API_TOKEN}".encode()
    given = request.headers.get("Authorization", "").encode()
    return bool(settings.DEMO_API_TOKEN) and hmac.compare_digest(expected, given)


def _public(order: dict[str, Any]) -> dict[str, Any]:
    return {key: order[key] for key in PUBLIC_FIELDS}


def order_found(number: str, email: str) -> dict[str, Any] | None:
    """The API's answer for order ``number`` (``A-10023`` as well as ``10023``) asked with
    ``email``: ``{"order": {...}}`` (its public fields), or None (the 404) when there is no
    such order or the address is not the order's."""
    email = email.strip().lower()
    number = ORDER_PREFIX.sub("", number.strip())
    order = next((o for o in demo_orders() if o["number"] == number), None)
    if order is None or not email or order["email"].lower() != email:
        return None
    return {"order": _public(order)}


def recent_orders(customer_id: str) -> dict[str, Any]:
    """The API's answer for a customer's latest orders: ``{"orders": [...]}``, newest first,
    at most ``RECENT_ORDERS``, empty for a customer with none."""
    mine = sorted((o for o in demo_orders() if o["customer_id"] == customer_id),
                  key=lambda o: o["placed_on"], reverse=True)
    return {"orders": [_public(o) for o in mine[:RECENT_ORDERS]]}


@never_cache
@require_GET
def orders_api(request: HttpRequest, number: str | None = None) -> JsonResponse:
    """One order by number and e-mail address, or a customer's latest orders (see module)."""
    if not _authorised(request):
        return JsonResponse({"error": "unauthorized"}, status=401)
    if number is None:
        customer = request.GET.get("customer_id", "")
        if not customer:
            return JsonResponse({"error": "customer_id is required"}, status=400)
        return JsonResponse(recent_orders(customer))
    found = order_found(number, request.GET.get("email", ""))
    if found is None:
        return JsonResponse({"error": "not_found"}, status=404)
    return JsonResponse(found)
