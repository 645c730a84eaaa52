"""Data connectors: checking an admin's connector, calling the company's API, rendering the reply.

A connector is a URL template with ``{order_number}``, ``{email}`` or ``{customer_id}``
placeholders (values percent-encoded), write-only headers, an allow-list of hosts and a reply
template in a sandbox of Django's template language: variables, ``{% if %}``, ``{% for %}``
and a short list of filters (``knowledge.connector_library``); no tag that loads, includes,
extends or reaches settings, and no value but the API's JSON answer in its context.

The call (``connector_call``) is one HTTP request with httpx: the connector's timeout, a
256 kB cap on the answer, a redirect followed only to the same host, the host on the
allow-list and, unless ``CONNECTOR_ALLOW_PRIVATE_NETWORKS`` is on, a public address: the
name is resolved once per connection, every address checked, and the socket opened to a
checked address (``knowledge.connector_network``), on every redirect hop, so a DNS answer
that changes between check and connection (DNS rebinding) reaches nothing private. Nothing
here writes to the database.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpcore2
import httpx2
from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError

from .connector_network import (
    AddressRefused,
    CheckedBackend,
    CheckedTransport,
    Resolver,
    is_public,
    system_resolve,
)

MAX_RESPONSE_BYTES = 256 * 1024
MAX_REDIRECTS = 3
MAX_TIMEOUT_SECONDS = 30.0
DETAILS = ("order_number", "email", "customer_id")
MISSING = "\x00missing\x00"
MASK = "••••"
PLACEHOLDER_RE = re.compile(r"\{([a-z_]+)\}")
SECRET_PARAM_RE = re.compile(r"key|token|secret|pass|auth|sig", re.I)
# Context names a reply template may not read, so that no template looks for them there.
FORBIDDEN_NAMES = frozenset({"settings", "request", "headers", "connector", "secret"})


class SandboxEngine(Engine):
    """Django's template engine with no built-in library: only ``connector_library``."""

    default_builtins: list[str] = []


_engine = SandboxEngine(
    builtins=["knowledge.connector_library"],
    libraries={},
    debug=True,
    autoescape=False,
    string_if_invalid=MISSING,
)


class ConnectorInvalid(ValueError):
    """A connector's field that cannot be saved; ``field`` names it, the message says why."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(message)


def check_reply_template(source: str) -> None:
    """Raises ``ConnectorInvalid("reply_template", ...)`` naming the line of a template that
    does not compile in the sandbox (a forbidden or unknown tag, an unknown filter) or that
    reads a forbidden name (``settings``, ``request``...)."""
    if not source.strip():
        raise ConnectorInvalid("reply_template", "The reply template is empty.")
    try:
        template = _engine.from_string(source)
    except TemplateSyntaxError as error:
        line = getattr(error, "template_debug", {}).get("line")
        where = f"Line {line}: " if line else ""
        message = re.sub(r" on line \d+", "", str(error)).replace(
            " Did you forget to register or load this tag?", " (not allowed in a reply)"
        )
        raise ConnectorInvalid("reply_template", f"{where}{message}") from None
    for number, text in enumerate(source.splitlines(), start=1):
        for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(
            re.findall(r"\{[{%](.*?)[}%]\}", text)
        )):
            if name in FORBIDDEN_NAMES:
                raise ConnectorInvalid(
                    "reply_template", f'Line {number}: "{name}" is not available to a reply.'
                )
    del template


def check_hosts(hosts: Any) -> list[str]:
    """The allow-list as lower-case host names (``"shop.example"`` or ``"host:8000"``);
    ``ConnectorInvalid`` for anything else."""
    if not isinstance(hosts, list) or not hosts:
        raise ConnectorInvalid("allowed_hosts", "List at least one host the connector may call.")
    cleaned = []
    for host in hosts:
        if not isinstance(host, str) or not re.fullmatch(r"[A-Za-z0-9.\-]+(:\d{1,5})?", host):
            raise ConnectorInvalid("allowed_hosts", f"Not a host name: {str(host)[:60]!r}.")
        cleaned.append(host.lower())
    return cleaned


def check_url_template(url: str, *, hosts: list[str], needs: list[str]) -> None:
    """Refuses a URL template that is not http(s), whose host is not on ``hosts``, that puts a
    placeholder in the host, or that uses a placeholder not in ``needs``."""
    names = PLACEHOLDER_RE.findall(url)
    for name in names:
        if name not in DETAILS:
            raise ConnectorInvalid("url_template", f'Unknown placeholder "{{{name}}}".')
        if name not in needs:
            raise ConnectorInvalid("url_template", f'"{{{name}}}" is not among the details.')
    parts = urlsplit(PLACEHOLDER_RE.sub("x", url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectorInvalid("url_template", "The URL must start with http:// or https://.")
    if PLACEHOLDER_RE.search(urlsplit(url).netloc) or parts.username or parts.password:
        raise ConnectorInvalid("url_template", "The host must be written out, without details.")
    if _host_key(parts) not in hosts and parts.hostname.lower() not in hosts:
        raise ConnectorInvalid(
            "url_template", f'The host "{parts.hostname}" is not on the allow-list.'
        )


def _host_key(parts: Any) -> str:
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


@dataclass(frozen=True)
class ConnectorSpec:
    """A connector as the bot uses it (``headers`` holds the secret values: never trace it)."""

    id: int
    name: str
    description: str
    intents: tuple[str, ...]
    needs: tuple[str, ...]
    method: str
    url_template: str
    allowed_hosts: tuple[str, ...]
    headers: tuple[tuple[str, str], ...] = field(repr=False)
    timeout_seconds: float
    verified_only: bool
    reply_template: str
    fallback_text: str


@dataclass
class CallOutcome:
    """One call: ``ok`` with the ``reply``, or ``reason`` (``timeout``, ``http_500``...).

    ``url`` has the secret parameters masked; ``fields`` are the top-level fields read.
    ``not_found`` marks a 404 or a missing field, answered with the connector's fallback text.
    """

    connector: str
    method: str
    url: str
    ok: bool = False
    status: int | None = None
    ms: float = 0.0
    reason: str = ""
    reply: str = ""
    not_found: bool = False
    data: Any = None
    fields: list[str] = field(default_factory=list)

    def to_trace(self) -> dict[str, Any]:
        """What a trace keeps of the call: no header, no response body."""
        return {
            "connector": self.connector, "method": self.method, "url": self.url,
            "status": self.status, "ms": self.ms, "ok": self.ok, "reason": self.reason,
            "fields": self.fields,
        }


def build_url(spec: ConnectorSpec, values: dict[str, str]) -> str:
    """The URL template with each placeholder replaced by its value, percent-encoded."""
    return PLACEHOLDER_RE.sub(lambda m: quote(str(values.get(m.group(1), "")), safe=""),
                              spec.url_template)


def mask_url(url: str) -> str:
    """``url`` with the values of secret-looking query parameters (key, token...) masked."""
    def one(match: re.Match[str]) -> str:
        value = MASK if SECRET_PARAM_RE.search(match.group(2)) else match.group(3)
        return f"{match.group(1)}{match.group(2)}={value}"

    return re.sub(r"([?&])([^=&#]+)=([^&#]*)", one, url)


def masked_headers(spec: ConnectorSpec) -> list[tuple[str, str]]:
    """The header names with their values masked, for the Test button's request."""
    return [(name, MASK) for name, _ in spec.headers]


def address_exempt(host: str, port: int) -> bool:
    """Whether ``host`` may be called at any address: private addresses are allowed
    (``CONNECTOR_ALLOW_PRIVATE_NETWORKS``), or, outside production, it is the demo orders
    API's own host (``DEMO_API_BASE_URL``). In production (``SUPPORTDESK_ENV=production``)
    the demo's host gets no exception: the desk's own server is no connector target there."""
    if settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS:
        return True
    demo = urlsplit(settings.DEMO_API_BASE_URL)
    return not settings.PRODUCTION and (demo.hostname or "").lower() == host.lower() and (
        demo.port or (443 if demo.scheme == "https" else 80)
    ) == port


def checked_transport(
    resolve: Resolver = system_resolve, inner: httpcore2.NetworkBackend | None = None
) -> httpx2.BaseTransport:
    """The transport of a real call: each connection to a checked address of its host
    (``CheckedBackend`` with ``address_exempt``). Tests replace the DNS (``resolve``) or the
    sockets under the check (``inner``)."""
    return CheckedTransport(CheckedBackend(exempt=address_exempt, resolve=resolve, inner=inner))


def host_is_public(host: str, port: int) -> bool:
    """Whether every address ``host`` resolves to (for TCP on ``port``) is a public one.

    The one check of private, loopback, link-local and reserved addresses (IPv4 and IPv6) that
    the connectors and the webhooks share (``connector_network.is_public`` on each address of
    ``connector_network.system_resolve``), for a check on save; the calls themselves connect
    only to a checked address (``CheckedBackend``). A literal address is checked as it is; a
    name that does not resolve counts as public (the call then reports that it does not).
    """
    try:
        return all(is_public(address) for address in system_resolve(host, port))
    except OSError:
        return True


def render_reply(spec: ConnectorSpec, data: Any, values: dict[str, str]) -> tuple[str, bool]:
    """The reply template over ``data`` (the JSON answer; a list is ``items``): the text and
    whether a field it reads was missing. Raises ``TemplateSyntaxError`` or any error of a
    filter (a template error)."""
    context = dict(data) if isinstance(data, dict) else {"items": data}
    context.setdefault("details", {k: v for k, v in values.items() if k != "customer_id"})
    text = _engine.from_string(spec.reply_template).render(Context(context, autoescape=False))
    return text.strip(), MISSING in text


def connector_call(
    spec: ConnectorSpec,
    values: dict[str, str],
    *,
    transport: httpx2.BaseTransport | None = None,
) -> CallOutcome:
    """Calls ``spec`` with the details ``values`` and renders its reply; never raises for
    what the remote API does. ``transport`` replaces the network (tests, benchmarks); by
    default ``checked_transport()``, which refuses non-public addresses."""
    url = build_url(spec, values)
    outcome = CallOutcome(connector=spec.name, method=spec.method, url=mask_url(url))
    started = time.perf_counter()
    try:
        data = _fetch(spec, url, values, outcome, transport)
    finally:
        outcome.ms = round((time.perf_counter() - started) * 1000, 2)
    if outcome.reason:
        return outcome
    outcome.data = data
    outcome.fields = sorted(data)[:30] if isinstance(data, dict) else ["items"]
    try:
        text, missing = render_reply(spec, data, values)
    except Exception as error:  # a filter that failed on the data, a template that broke
        outcome.reason = f"template_error: {type(error).__name__}"
        return outcome
    if missing or not text:
        outcome.reason, outcome.not_found = "missing_field", True
        return outcome
    outcome.ok, outcome.reply = True, text
    return outcome


def _fetch(
    spec: ConnectorSpec, url: str, values: dict[str, str], outcome: CallOutcome,
    transport: httpx2.BaseTransport | None,
) -> Any:
    timeout = max(0.1, min(spec.timeout_seconds, MAX_TIMEOUT_SECONDS))
    headers = dict(spec.headers)
    headers.setdefault("Accept", "application/json")
    body = {k: values.get(k, "") for k in spec.needs} if spec.method == "POST" else None
    transport = transport or checked_transport()
    # Nothing from the environment: a proxy there must not carry a call around the checked
    # transport (httpx2 already ignores it when a transport is given) and no ~/.netrc login.
    with httpx2.Client(timeout=timeout, follow_redirects=False, transport=transport,
                       trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if _host_key(parts) not in spec.allowed_hosts and (
                (parts.hostname or "").lower() not in spec.allowed_hosts
            ):
                outcome.reason = "host_not_allowed"
                return None
            try:
                with client.stream(spec.method, url, headers=headers, json=body) as response:
                    outcome.status = response.status_code
                    if response.is_redirect:
                        target = urljoin(url, response.headers.get("location", ""))
                        if _host_key(urlsplit(target)) != _host_key(parts):
                            outcome.reason = "redirect_other_host"
                            return None
                        url = target
                        continue
                    if response.status_code == 404:
                        outcome.reason, outcome.not_found = "http_404", True
                        return None
                    if response.status_code >= 400:
                        outcome.reason = f"http_{response.status_code}"
                        return None
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
                        outcome.reason = "oversize"
                        return None
                    chunks, size = [], 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > MAX_RESPONSE_BYTES:
                            outcome.reason = "oversize"
                            return None
                        chunks.append(chunk)
            except AddressRefused:
                outcome.reason = "private_address"
                return None
            except httpx2.TimeoutException:
                outcome.reason = "timeout"
                return None
            except httpx2.HTTPError as error:
                outcome.reason = f"connect_error: {type(error).__name__}"
                return None
            try:
                return json.loads(b"".join(chunks))
            except ValueError:
                outcome.reason = "bad_json"
                return None
    outcome.reason = "too_many_redirects"
    return None
