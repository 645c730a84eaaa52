"""Who may open a WebSocket: the ``Host`` header and the staff sockets' ``Origin``.

Daphne checks neither. Django checks ``Host`` against ``ALLOWED_HOSTS`` for HTTP requests only
(``HttpRequest.get_host``); ``AllowedHostsValidator`` does the same for every WebSocket
handshake with Django's own ``validate_host``. Channels' ``AllowedHostsOriginValidator`` is not
enough for the staff console: it compares the Origin's host name with ``ALLOWED_HOSTS`` and
ignores scheme and port, so a page served from another port of the same host passed.
``same_origin`` compares all three, as the browser's same-origin policy does (RFC 6454).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


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
