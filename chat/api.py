"""The widget's HTTP doors: opening a conversation, and the chat panel page sites frame."""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import Resolver404, resolve
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from knowledge.safejson import UnsafeJSON, UnstorableText, loads_checked

from . import mail, selectors, services
from .identity import identity_from_payload
from .models import Widget
from .origins import SELF, allowed_origin_entries

logger = logging.getLogger(__name__)

WS_PATH = "/ws/chat/"
# Room for the longest hints the panel sends (a 2,000-character page URL, a 300-character
# title in any script) with a signed customer: a chat must never fail to start for them.
MAX_BODY_BYTES = 8192


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": code, "message": message}, status=status)


def _self_origin(request: HttpRequest) -> str:
    return selectors.server_origin(scheme=request.scheme, host=request.get_host())


def _cors(response: HttpResponse, origin: str | None, self_origin: str) -> HttpResponse:
    """Lets an allowed foreign page read the answer (a site calling the API directly)."""
    if origin and origin != self_origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    response["Cache-Control"] = "no-store"
    return response


def _too_many_starts(request: HttpRequest, kind: str = "starts") -> bool:
    """Per-IP limit on opening conversations (or, with ``kind`` "identifies", on identifying
    resumed ones), counted in the shared cache. A cache that cannot be reached (Redis down)
    counts nothing and refuses no one, as the chat's own budgets do (``chat.limits``)."""
    limit = settings.CHAT_CONVERSATIONS_PER_IP_PER_MINUTE
    key = f"chat:{kind}:{request.META.get('REMOTE_ADDR', '')}"
    try:
        if cache.add(key, 1, timeout=60):
            return False
        try:
            return cache.incr(key) > limit
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=60)
            return False
    except Exception:
        logger.warning("the %s budget could not be counted: the cache cannot be reached", kind)
        return False


def _is_panel_url(url: str) -> bool:
    """True when ``url`` (absolute) is a chat panel page (``/widget/<key>/panel/``, on any
    host): the widget's own frame, never the page a customer started from."""
    try:
        path = urlsplit(url).path or "/"
        return resolve(path).url_name == "widget-panel"
    except (Resolver404, ValueError):
        return False


def _origin_info(request: HttpRequest, body: dict) -> dict[str, str]:
    """Where the chat started, from the body's hints or else the request's headers, through
    ``services.check_origin_info``. The panel's own URL (the ``Referer`` of a panel that was
    not told its host page) is never kept as the start page."""
    info = services.check_origin_info(
        page_url=body.get("page_url") or request.headers.get("Referer", ""),
        page_title=body.get("page_title", ""),
        user_agent=request.headers.get("User-Agent", ""),
        language=body.get("language") or request.headers.get("Accept-Language", ""),
    )
    if "page_url" in info and _is_panel_url(info["page_url"]):
        del info["page_url"]
    return info


# CSRF-exempt on purpose: this endpoint is called cross-site by design (from the widget panel
# and from customers' own pages), carries no cookie-based authority, and is guarded instead by
# the widget's origin allow-list, a per-IP rate limit and by returning a fresh secret token
# that only the caller sees; a forged request can only open an empty conversation.
@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def conversation_create(request: HttpRequest) -> HttpResponse:
    """``POST {"widget": KEY}`` -> 201 ``{"conversation_id", "token", "ws_path", "verified"}``.

    An optional ``"user": {"id", "hash", "email", "name"}`` (``chat.identity``) makes the
    conversation verified when the hash is the HMAC of the id with the widget's secret; a
    wrong or missing hash leaves it unverified (no error: the customer still gets help).
    """
    origin = request.headers.get("Origin")
    self_origin = _self_origin(request)
    if len(request.body) > MAX_BODY_BYTES:
        return _error(413, "too_large", "The request body is too large.")
    key = None
    user: object = None
    if request.method == "POST":
        try:
            body = loads_checked(request.body or b"null")
        except UnstorableText as exc:
            return _error(400, "bad_text", str(exc))
        except UnsafeJSON:
            return _error(400, "bad_json", 'Send JSON like {"widget": "KEY"}.')
        key = body.get("widget") if isinstance(body, dict) else None
        user = body.get("user") if isinstance(body, dict) else None
        if not isinstance(key, str) or not key:
            return _error(400, "missing_field", 'Send JSON like {"widget": "KEY"}.')
    else:
        key = request.GET.get("widget", "")
    widget = selectors.widget_active_by_key(key) if key else None
    if request.method == "OPTIONS":
        # Preflight: only an allowed origin of some widget (or of the named one) may go on.
        allowed = (
            selectors.widget_allows_origin(widget, origin=origin, self_origin=self_origin)
            if widget
            else selectors.any_widget_allows_origin(origin=origin, self_origin=self_origin)
        )
        if not allowed:
            return _error(403, "origin_not_allowed", "This site may not use this widget.")
        return _cors(HttpResponse(status=204), origin, self_origin)
    if widget is None:
        return _error(404, "unknown_widget", "No active widget has this key.")
    if not selectors.widget_allows_origin(widget, origin=origin, self_origin=self_origin):
        return _error(403, "origin_not_allowed", "This site may not use this widget.")
    if _too_many_starts(request):
        return _error(429, "rate_limited", "Too many conversations opened; try again soon.")
    identity = identity_from_payload(widget, user)
    conversation, token = services.conversation_start(
        widget=widget, identity=identity, origin_info=_origin_info(request, body),
    )
    response = JsonResponse(
        {"conversation_id": str(conversation.public_id), "token": token, "ws_path": WS_PATH,
         "verified": identity is not None},
        status=201,
    )
    return _cors(response, origin, self_origin)


def _json_object(request: HttpRequest) -> Any:
    """The request's JSON body (None when it is not JSON the desk stores), or a 413 answer for
    a body over ``MAX_BODY_BYTES``."""
    if len(request.body) > MAX_BODY_BYTES:
        return _error(413, "too_large", "The request body is too large.")
    try:
        return loads_checked(request.body or b"null")
    except (UnstorableText, UnsafeJSON):
        return None


# CSRF-exempt for the reasons given at conversation_create; the authority is the signed link.
@csrf_exempt
@require_http_methods(["POST"])
def conversation_reopen(request: HttpRequest) -> HttpResponse:
    """``POST {"widget": KEY, "link": TOKEN}`` -> 200 ``{"conversation_id", "token",
    "ws_path"}``: the conversation an e-mail's signed link (``chat.mail.reopen_link``) names,
    with a new customer token. A forged, tampered or expired link answers 400 (``bad_link``
    or ``link_expired``) and opens nothing: the widget starts a fresh conversation."""
    origin = request.headers.get("Origin")
    self_origin = _self_origin(request)
    body = _json_object(request)
    if isinstance(body, HttpResponse):
        return body
    key = body.get("widget") if isinstance(body, dict) else None
    link = body.get("link") if isinstance(body, dict) else None
    if not isinstance(key, str) or not key or not isinstance(link, str):
        return _error(400, "missing_field", 'Send JSON like {"widget": "KEY", "link": "..."}.')
    widget = selectors.widget_active_by_key(key)
    if widget is None:
        return _error(404, "unknown_widget", "No active widget has this key.")
    if not selectors.widget_allows_origin(widget, origin=origin, self_origin=self_origin):
        return _error(403, "origin_not_allowed", "This site may not use this widget.")
    if _too_many_starts(request):
        return _error(429, "rate_limited", "Too many conversations opened; try again soon.")
    try:
        conversation, token = services.conversation_reopen_by_link(widget=widget, link_token=link)
    except mail.ReopenLinkError as exc:
        if str(exc) == "expired":
            return _cors(_error(400, "link_expired", "This link has expired."),
                         origin, self_origin)
        return _cors(_error(400, "bad_link", "This link is not valid."), origin, self_origin)
    response = JsonResponse(
        {"conversation_id": str(conversation.public_id), "token": token, "ws_path": WS_PATH}
    )
    return _cors(response, origin, self_origin)


# CSRF-exempt for the reasons given at conversation_create; the authority is the customer's
# token and the host page's signature.
@csrf_exempt
@require_http_methods(["POST"])
def conversation_identify(request: HttpRequest) -> HttpResponse:
    """``POST {"widget": KEY, "conversation_id", "token", "user": {"id", "hash", "email",
    "name"}}`` -> 200 ``{"verified": bool}``: a resumed conversation's panel passes the host
    page's signed customer again, and a verified one updates the contact's e-mail and name
    (``services.conversation_identify``). A hash that does not verify answers
    ``{"verified": false}`` and changes nothing; a wrong token answers 403 ``bad_token``; a
    verified identity that is not the conversation's own (another customer, or a conversation
    that started unverified) answers 409 ``other_customer`` and changes nothing: the widget
    starts a fresh conversation for it. A ``user`` that is not an object with a string id and
    hash answers 400 ``missing_field``."""
    origin = request.headers.get("Origin")
    self_origin = _self_origin(request)
    body = _json_object(request)
    if isinstance(body, HttpResponse):
        return body
    fields = body if isinstance(body, dict) else {}
    key, public_id, token = (fields.get(k) for k in ("widget", "conversation_id", "token"))
    if not all(isinstance(v, str) and v for v in (key, public_id, token)):
        return _error(400, "missing_field", 'Send JSON like {"widget": "KEY", '
                      '"conversation_id": "...", "token": "...", "user": {...}}.')
    widget = selectors.widget_active_by_key(key)
    if widget is None:
        return _error(404, "unknown_widget", "No active widget has this key.")
    if not selectors.widget_allows_origin(widget, origin=origin, self_origin=self_origin):
        return _error(403, "origin_not_allowed", "This site may not use this widget.")
    if _too_many_starts(request, "identifies"):
        return _error(429, "rate_limited", "Too many requests; try again soon.")
    try:
        conversation = selectors.conversation_for_customer(
            public_id=uuid.UUID(public_id), token=token)
    except ValueError:
        conversation = None
    if conversation is None or conversation.widget_id != widget.pk:
        return _cors(_error(403, "bad_token", "Unknown conversation or wrong token."),
                     origin, self_origin)
    user = fields.get("user")
    if not (isinstance(user, dict) and isinstance(user.get("id"), str)
            and isinstance(user.get("hash"), str)):
        return _cors(_error(400, "missing_field", 'Send the signed customer as "user": '
                            '{"id": "...", "hash": "...", "email": "...", "name": "..."}.'),
                     origin, self_origin)
    identity = identity_from_payload(widget, user)
    if identity is None:
        return _cors(JsonResponse({"verified": False}), origin, self_origin)
    try:
        services.conversation_identify(conversation=conversation, identity=identity)
    except services.IdentityMismatch:
        return _cors(_error(409, "other_customer", "This conversation is another customer's."),
                     origin, self_origin)
    return _cors(JsonResponse({"verified": True}), origin, self_origin)


def _frame_ancestors(widget: Widget) -> str:
    sources = [
        "'self'" if item == SELF else item
        for item in allowed_origin_entries(widget.allowed_origins)
    ]
    return " ".join(dict.fromkeys(sources)) or "'none'"


# The rating's five stars, as a screen reader names them.
RATING_STARS = [
    {"score": score, "label": f"{score} star{'s' if score > 1 else ''}, {word}"}
    for score, word in enumerate(("poor", "fair", "good", "very good", "excellent"), 1)
]


@xframe_options_exempt  # framed by the widget's sites; CSP frame-ancestors says which
@require_GET
def panel(request: HttpRequest, key: str) -> HttpResponse:
    """The chat panel the loader shows in an iframe on the company's pages."""
    widget = get_object_or_404(Widget, public_key=key, is_active=True)
    response = render(
        request,
        "chat/panel.html",
        {
            "widget": widget,
            "face": selectors.widget_face(widget),
            "stars": RATING_STARS,
            "ws_path": WS_PATH,
            "max_chars": settings.CHAT_MAX_MESSAGE_CHARS,
        },
    )
    ancestors = _frame_ancestors(widget)
    csp = settings.CONTENT_SECURITY_POLICY.replace(
        "frame-ancestors 'none'", f"frame-ancestors {ancestors}"
    )
    response["Content-Security-Policy"] = csp
    return response
