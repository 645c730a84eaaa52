"""Who may open a WebSocket: the ``Host`` header and the staff sockets' ``Origin``.

Daphne checks neither. Django checks ``Host`` against ``ALLOWED_HOSTS`` for HTTP requests only
(``HttpRequest.get_host``); ``AllowedHostsValidator`` does the same for every WebSocket
handshake with Django's own ``validate_host``. Channels' ``AllowedHostsOriginValidator`` is not
enough for the staff console: it compares the Origin's host name with ``ALLOWED_HOSTS`` and
ignores scheme and port, so a page served from another port of the same host passed.
``same_origin`` compares all three, as the browser's same-origin policy does (RFC 6454).

A widget's allow-list (``Widget.allowed_origins``) is checked when it is saved
(:func:`validate_allowed_origins`) and read through :func:`allowed_origin_entries`, which keeps
only entries it understands, so an older malformed row refuses origins instead of failing.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}
# The allow-list entry that stands for the SupportDesk server's own origin.
SELF = "self"
# An origin a widget may list: http(s), a host name or IPv4 address, an optional port; no path.
WIDGET_ORIGIN_RE = re.compile(r"(https?)://([a-z0-9.\-]+)(?::(\d{1,5}))?", re.IGNORECASE)
MAX_LISTED_PROBLEMS = 5
ORIGIN_EXAMPLE = 'e.g. ["https://shop.example", "http://127.0.0.1:8000", "self"]'


def scope_header(scope: dict[str, Any], name: bytes) -> str | None:
    """The first header ``name`` (lower-case bytes) of an ASGI scope, decoded as Latin-1."""
    for key, value in scope.get("headers") or []:
        if key == name:
            return value.decode("latin-1")
    return None


def allowed_hosts() -> list[str]:
    """``ALLOWED_HOSTS``, with the local names Django itself adds when DEBUG is on and the
    setting is empty (``HttpRequest.get_host``)."""
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return hosts


def host_allowed(scope: dict[str, Any]) -> bool:
    """Whether the handshake's ``Host`` header names one of ``ALLOWED_HOSTS``."""
    domain, _port = split_domain_port(scope_header(scope, b"host") or "")
    return bool(domain) and validate_host(domain, allowed_hosts())


def origin_tuple(origin: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an ``http``/``https`` origin with its default port filled in;
    None for anything else (``null``, a path, another scheme, a bad port)."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def _widget_origin(entry: str) -> str | None:
    """``entry`` as the browser would send it in ``Origin`` (lower case, no trailing ``/``), or
    None if it is not an http(s) origin with a valid port."""
    match = WIDGET_ORIGIN_RE.fullmatch(entry.removesuffix("/"))
    if match is None or not match.group(2).strip("."):
        return None
    port = match.group(3)
    if port is not None and not 0 < int(port) <= 65535:
        return None
    return match.group(0).lower()


def allowed_origin_entries(value: Any) -> list[str]:
    """The readable entries of a widget's ``allowed_origins``: ``"self"`` and origins written as
    the browser sends them (lower case, no trailing ``/``), in order.

    Anything else is left out rather than failing: a value that is no list (``5``,
    ``{"a": 1}``), an entry that is no string, or a string that is no origin (a path, a ``;``,
    a NUL). Such a row can only come from before :func:`validate_allowed_origins` checked saves.
    """
    if not isinstance(value, list):
        return []
    entries = []
    for item in value:
        if item == SELF:
            entries.append(SELF)
        elif isinstance(item, str) and (origin := _widget_origin(item)) is not None:
            entries.append(origin)
    return entries


def _shown(item: Any) -> str:
    """An entry as JSON, shortened: NUL and surrogates escaped, so the admin page can show it."""
    text = json.dumps(item, default=repr)
    return text if len(text) <= 60 else text[:60] + "…"


def validate_allowed_origins(value: Any) -> None:
    """Raise ``ValidationError`` unless ``value`` is a list whose entries are each ``"self"`` or
    an origin ``scheme://host[:port]`` (http or https, port 1 to 65535, no path, query or user).

    The messages name each refused entry (at most ``MAX_LISTED_PROBLEMS``), for the admin form.
    """
    if not isinstance(value, list):
        raise ValidationError(
            f"Write a list of origins, {ORIGIN_EXAMPLE}; not {_shown(value)}.", code="invalid"
        )
    problems = []
    for number, item in enumerate(value, 1):
        if item == SELF or (isinstance(item, str) and _widget_origin(item) is not None):
            continue
        if isinstance(item, str):
            problems.append(
                f"Entry {number}, {_shown(item)}, is neither \"self\" nor an origin like "
                "https://shop.example or http://127.0.0.1:8000 (scheme, host and optional "
                "port; no path)."
            )
        else:
            problems.append(
                f"Entry {number}, {_shown(item)}, is not text; write each origin in quotes."
            )
    if problems:
        more = len(problems) - MAX_LISTED_PROBLEMS
        shown = problems[:MAX_LISTED_PROBLEMS] + ([f"… and {more} more."] if more > 0 else [])
        raise ValidationError(shown, code="invalid")


def server_origin_of(scope: dict[str, Any]) -> str:
    """The server's own origin as this handshake reached it: ``CHAT_PUBLIC_ORIGIN`` if set,
    else the scope's scheme and the ``Host`` header."""
    if settings.CHAT_PUBLIC_ORIGIN:
        return settings.CHAT_PUBLIC_ORIGIN.rstrip("/")
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return f"{scheme}://{scope_header(scope, b'host') or ''}"


def same_origin(scope: dict[str, Any]) -> bool:
    """Whether the handshake's ``Origin`` is the server's own origin (scheme, host and port)
    or one listed exactly in ``CSRF_TRUSTED_ORIGINS`` (wildcard entries are not honoured)."""
    origin = scope_header(scope, b"origin")
    theirs = origin_tuple(origin) if origin else None
    if theirs is None:
        return False
    trusted = [server_origin_of(scope)] + [
        item for item in settings.CSRF_TRUSTED_ORIGINS if "*" not in item
    ]
    return any(origin_tuple(item) == theirs for item in trusted)


class AllowedHostsValidator:
    """ASGI middleware for WebSockets: refuses a handshake whose ``Host`` is not allowed
    (HTTP 403 before it is accepted), as Django answers 400 to such an HTTP request."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and not host_allowed(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)
