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

import functools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urljoin, urlsplit

import httpcore2
import httpx2
from django.conf import settings
from django.template import Context, Engine, Template, TemplateSyntaxError

from .connector_network import (
    AddressRefused,
    CheckedBackend,
    CheckedTransport,
    HostInvalid,
    HostUnresolved,
    NameNotResolved,
    Resolver,
    canonical_host,
    host_is_public,
    is_public,
    resolve_within,
    system_resolve,
)

MAX_RESPONSE_BYTES = 256 * 1024
MAX_REDIRECTS = 3
MAX_TIMEOUT_SECONDS = 30.0
DETAILS = ("order_number", "email", "customer_id")
# What a variable the context does not hold renders as (Django puts the variable's name in
# place of "%s"): ``render_reply`` finds the names in the text.
MISSING = "\x00missing:%s\x00"
MISSING_RE = re.compile(r"\x00missing:([^\x00]*)\x00")
MASK = "••••"
PLACEHOLDER_RE = re.compile(r"\{([a-z_]+)\}")
# The words of a query parameter's name that make it a secret (``api_key``, ``apiKey``,
# ``X-Amz-Signature``, ``access_token``...), and whole names written without a separator.
SECRET_WORDS = frozenset({
    "key", "token", "secret", "pass", "password", "passwd", "pwd", "passphrase", "auth",
    "authorization", "sig", "signature", "credential", "credentials", "hmac", "jwt", "bearer",
})
SECRET_NAMES = frozenset({
    "apikey", "apitoken", "apisecret", "accesstoken", "authtoken", "authkey", "clientsecret",
    "secretkey", "privatekey", "sessiontoken", "refreshtoken", "idtoken", "xapikey",
})
SECRET_IN_URL = "Put secrets in a header (its value is write-only)"
FRAGMENT_IN_URL = "A URL's #fragment is never sent; remove it."
# Context names a reply template may not read, so that no template looks for them there.
FORBIDDEN_NAMES = frozenset({"settings", "request", "headers", "connector", "secret"})


class SandboxEngine(Engine):
    """Django's template engine with no built-in library: only ``connector_library``."""

    default_builtins: list[str] = []


# The tokens of Django's template language, as its lexer finds them (a tag, a variable, a
# comment, each on one line): a variable's output is rewritten to pass a last filter.
_TOKEN_RE = re.compile(r"({%.*?%}|{{.*?}}|{#.*?#})")
OUTPUT_FILTER = "markdown_literal"


def literal_outputs(source: str) -> str:
    """``source`` with every variable output (``{{ ... }}``) passed last through the
    ``markdown_literal`` filter, so that what the company API answered (and the details a
    customer gave) is shown as literal text, never as Markdown; the template's own text,
    written by the admin, keeps its Markdown. Lines and everything else stay as written."""

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if not token.startswith("{{"):
            return token
        inner = token[2:-2].strip()
        return f"{{{{ {inner}|{OUTPUT_FILTER} }}}}" if inner else token

    return _TOKEN_RE.sub(one, source)


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


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    """The reply template ``source`` compiled in the sandbox, with every output literal
    (``literal_outputs``): once per distinct template, as Django's cached loader keeps file
    templates (a compiled ``Template`` renders any number of contexts, from any thread).
    Raises ``TemplateSyntaxError``."""
    return _engine.from_string(literal_outputs(source))


def check_reply_template(source: str) -> None:
    """Raises ``ConnectorInvalid("reply_template", ...)`` naming the line of a template that
    does not compile in the sandbox (a forbidden or unknown tag, an unknown filter) or that
    reads a forbidden name (``settings``, ``request``...)."""
    if not source.strip():
        raise ConnectorInvalid("reply_template", "The reply template is empty.")
    try:
        template = _compiled(source)
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


# A header's name is an RFC 7230 token; its value visible ASCII, spaces and tabs (httpx sends
# nothing else: a character outside ASCII fails the request, CR or LF would split it).
HEADER_NAME_RE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")
HEADER_VALUE_RE = re.compile(r"[\t\x20-\x7e]{0,4000}")


def header_problem(name: Any, value: Any) -> str:
    """Why the header ``name: value`` cannot be sent, for an admin (it names the header, never
    shows its value, which is write-only), or ``""`` when it can."""
    if not isinstance(name, str) or not HEADER_NAME_RE.fullmatch(name):
        # As typed, accented letters included; only invisible characters as escapes.
        shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in str(name)[:40])
        return (f'Header "{shown}": a name may hold only letters A-Z, digits and '
                "! # $ % & ' * + - . ^ _ ` | ~ (no space or colon), 100 characters at most.")
    if not isinstance(value, str) or not HEADER_VALUE_RE.fullmatch(value):
        return (f'Header "{name}": a value may hold only visible ASCII characters, spaces and '
                "tabs (no accented letter, emoji or line break: encode such a value, e.g. "
                "percent- or base64-encoded), 4,000 characters at most.")
    return ""


def check_headers(headers: Any) -> dict[str, str]:
    """``headers`` (a dict of name to value) when every header can be sent (``header_problem``);
    else ``ConnectorInvalid("headers", ...)`` naming the first that cannot."""
    if not isinstance(headers, dict):
        raise ConnectorInvalid("headers", 'Write the headers as "Name: value" lines.')
    for name, value in headers.items():
        problem = header_problem(name, value)
        if problem:
            raise ConnectorInvalid("headers", problem)
    return dict(headers)


def is_secret_param(name: str) -> bool:
    """Whether a query parameter named ``name`` carries a secret: one of its words (split at
    ``_``, ``-``, ``.`` and camelCase) is ``key``, ``token``, ``secret``, ``password``,
    ``auth``, ``signature``... or the whole name is one such as ``apikey``. ``author``,
    ``monkey`` or ``page`` are not."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    words = re.split(r"[^a-z0-9]+", spaced.lower())
    return any(word in SECRET_WORDS for word in words) or "".join(words) in SECRET_NAMES


def url_parameters(url: str) -> list[tuple[str, str]]:
    """Every ``name=value`` parameter of ``url`` a server may read, names and values
    percent-decoded: the query's, separated by ``&`` or ``;`` (``?x=1;api_key=...``), the
    path segments' own (``/orders;token=...``) and, for a URL stored before fragments were
    refused, the fragment's (``#token=...``)."""
    parts = urlsplit(url)
    pieces = re.split(r"[&;]", parts.query) + re.split(r"[&;]", parts.fragment)
    for segment in parts.path.split("/"):
        pieces.extend(segment.split(";")[1:])
    found = []
    for piece in pieces:
        found.extend(parse_qsl(piece, keep_blank_values=True))
    return found


def _split_host_entry(entry: str) -> tuple[str, int | None]:
    """An allow-list entry (``host``, ``host:port``, ``[v6]`` or ``[v6]:port``) as its host
    and port; ``ValueError`` when it is none of these, its message what the admin reads when
    the port is what is wrong (``Port out of range (1-65535) in 'shop.example:70000'.``)."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::([^:]*))?|([^:\[\]]+)(?::([^:]*))?", entry)
    if not match:
        raise ValueError("")
    host = match.group(1) or match.group(3)
    port = match.group(2) if match.group(1) else match.group(4)
    if port is None:
        return host, None
    shown = repr(entry[:60])
    if not re.fullmatch(r"\d{1,5}", port):
        raise ValueError(f"Not a port number: {port[:20]!r} in {shown}.")
    if not 0 < int(port) < 65536:
        raise ValueError(f"Port out of range (1-65535) in {shown}.")
    return host, int(port)


def host_key(host: str, port: int | None) -> str:
    """How the allow-list writes a host (canonical, see ``canonical_host``): ``shop.example``,
    ``shop.example:8443``, ``[2001:db8::1]`` or ``[2001:db8::1]:8443``."""
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


def check_hosts(hosts: Any) -> list[str]:
    """The allow-list in canonical form (``"shop.example"``, ``"host:8000"``,
    ``"[2001:db8::1]:8443"``: lower case, IPv6 compressed); ``ConnectorInvalid`` for anything
    else, a numeric host not written as four decimal numbers included."""
    if not isinstance(hosts, list) or not hosts:
        raise ConnectorInvalid("allowed_hosts", "List at least one host the connector may call.")
    cleaned = []
    for entry in hosts:
        try:
            if not isinstance(entry, str):
                raise ValueError("")
            host, port = _split_host_entry(entry)
        except ValueError as error:
            raise ConnectorInvalid(
                "allowed_hosts", str(error) or f"Not a host name: {str(entry)[:60]!r}."
            ) from None
        try:
            cleaned.append(host_key(canonical_host(host), port))
        except HostInvalid as error:
            raise ConnectorInvalid("allowed_hosts", str(error)) from None
    return cleaned


def url_host(url: str) -> tuple[str, int, str]:
    """The host of ``url`` (canonical), its port (the scheme's by default) and its allow-list
    key (``host_key``). Raises ``HostInvalid`` for a host ``canonical_host`` refuses, and
    ``ValueError`` for a URL with no host or a port out of range."""
    parts = urlsplit(url)
    port = parts.port  # ValueError when out of range
    if not parts.hostname:
        raise ValueError("no host")
    host = canonical_host(parts.hostname)
    default = 443 if parts.scheme == "https" else 80
    return host, port or default, host_key(host, port)


def _allowed(key: str, host: str, hosts: Any) -> bool:
    return key in hosts or host_key(host, None) in hosts


def check_url_template(
    url: str, *, hosts: list[str], needs: list[str]
) -> HostUnresolved | None:
    """Refuses (``ConnectorInvalid("url_template", ...)``) a URL template that is not http(s),
    whose host is not on ``hosts`` or not one ``canonical_host`` accepts (an IPv4 address must
    be four decimal numbers), that puts a placeholder in the host, that uses a placeholder not
    in ``needs``, that gives a secret-looking query parameter (``is_secret_param``) a literal
    value, or whose host is not public (a private literal, ``localhost``, or a name whose
    addresses are not all public) unless ``address_exempt`` allows it
    (``CONNECTOR_ALLOW_PRIVATE_NETWORKS``).

    The host is resolved once (``resolve_within``, waiting at most ``RESOLVE_SECONDS``, as
    webhooks do). A name that gives no address is not refused, unlike a webhook's: a
    connector may call an internal name that resolves only where and when the desk runs. It
    is returned (``HostUnresolved``) for the admin to be told; ``None`` otherwise."""
    names = PLACEHOLDER_RE.findall(url)
    for name in names:
        if name not in DETAILS:
            raise ConnectorInvalid("url_template", f'Unknown placeholder "{{{name}}}".')
        if name not in needs:
            raise ConnectorInvalid("url_template", f'"{{{name}}}" is not among the details.')
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ConnectorInvalid("url_template", "The URL may not contain spaces.")
    filled = PLACEHOLDER_RE.sub("x", url)
    try:
        parts = urlsplit(filled)
        parts.port  # noqa: B018 -- ValueError when out of range
    except ValueError:
        raise ConnectorInvalid("url_template", "Not a URL (check the host and port).") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectorInvalid("url_template", "The URL must start with http:// or https://.")
    if parts.username or parts.password:
        raise ConnectorInvalid(
            "url_template", "No user name or password in the URL: put credentials in a header "
            "(e.g. Authorization), whose value is write-only.")
    if PLACEHOLDER_RE.search(urlsplit(url).netloc):
        raise ConnectorInvalid("url_template", "The host must be written out, without details.")
    try:
        host, port, key = url_host(filled)
    except HostInvalid as error:
        raise ConnectorInvalid("url_template", str(error)) from None
    if not _allowed(key, host, hosts):
        raise ConnectorInvalid(
            "url_template", f'The host "{host_key(host, None)}" is not on the allow-list.'
        )
    if "#" in url:
        raise ConnectorInvalid("url_template", FRAGMENT_IN_URL)
    for name, value in url_parameters(url):
        if is_secret_param(name) and value and not PLACEHOLDER_RE.fullmatch(value):
            raise ConnectorInvalid(
                "url_template", f'{SECRET_IN_URL}: the URL gives "{name[:40]}" a value.'
            )
    private = ConnectorInvalid(
        "url_template",
        f'"{host_key(host, None)}" is a private or loopback address; connectors call '
        "public addresses only (CONNECTOR_ALLOW_PRIVATE_NETWORKS allows others).",
    )
    checked = not address_exempt(host, port)
    if checked and not host_is_public(host, port, resolve=False):  # a literal, localhost
        raise private
    try:
        addresses = resolve_within(host, port)
    except HostUnresolved as unresolved:
        return unresolved
    if checked and not all(map(is_public, addresses)):
        raise private
    return None


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
    ``not_found`` marks a 404 or a missing field, answered with the connector's fallback text;
    ``missing`` names the variables the reply template read and the answer lacked (the
    reason stays ``missing_field``, a code analytics and the bot compare).
    ``connector_id`` is the connector's stable identity (its name may change or be long).
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
    connector_id: int | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def reason_text(self) -> str:
        """The reason as the Test output and the traces show it: with ``missing_field``,
        the variables the reply template read and the answer lacked
        (``missing_field: email, order.status``); ``reason`` itself stays the stable code."""
        if self.missing:
            return f"{self.reason}: {', '.join(self.missing)}"
        return self.reason

    def to_trace(self) -> dict[str, Any]:
        """What a trace keeps of the call: no header, no response body."""
        return {
            "connector": self.connector, "method": self.method, "url": self.url,
            "status": self.status, "ms": self.ms, "ok": self.ok, "reason": self.reason,
            "fields": self.fields, "connector_id": self.connector_id,
            "not_found": self.not_found, "missing": self.missing,
        }


def build_url(spec: ConnectorSpec, values: dict[str, str]) -> str:
    """The URL template with each placeholder replaced by its value, percent-encoded."""
    return PLACEHOLDER_RE.sub(lambda m: quote(str(values.get(m.group(1), "")), safe=""),
                              spec.url_template)


def mask_url(url: str) -> str:
    """``url`` with the values of secret-looking parameters (key, token...) masked: in the
    query (separated by ``&`` or ``;``), after a ``;`` in the path, and in the fragment."""
    def one(match: re.Match[str]) -> str:
        value = MASK if is_secret_param(unquote(match.group(2))) else match.group(3)
        return f"{match.group(1)}{match.group(2)}={value}"

    split = min((url.find(mark) for mark in "?#" if mark in url), default=len(url))
    path, rest = url[:split], url[split:]
    return (re.sub(r"(;)([^=;/]+)=([^;/]*)", one, path)
            + re.sub(r"([?&;#])([^=&;#]+)=([^&;#]*)", one, rest))


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


def render_reply(spec: ConnectorSpec, data: Any, values: dict[str, str]) -> tuple[str, bool]:
    """The reply template over ``data`` (the JSON answer; a list is ``items``): the text and
    whether a field it reads was missing (``missing_variables`` names them). Every variable's
    output is literal text in the Markdown of the reply (``literal_outputs``). Raises
    ``TemplateSyntaxError`` or any error of a filter (a template error)."""
    text, missing = render_reply_checked(spec, data, values)
    return text, bool(missing)


def render_reply_checked(
    spec: ConnectorSpec, data: Any, values: dict[str, str]
) -> tuple[str, list[str]]:
    """``render_reply`` with the names of the variables the template read and the context
    lacked (``["email", "order.status"]``, in the order met, at most 5), empty when none.

    The context: the JSON answer's top-level fields by name (a JSON list is ``items``),
    ``data`` for the whole answer and ``details`` for the customer's details
    (``details.order_number``, ``details.email``), unless the answer has fields of
    those names itself."""
    context = dict(data) if isinstance(data, dict) else {"items": data}
    context.setdefault("details", {k: v for k, v in values.items() if k != "customer_id"})
    context.setdefault("data", data)
    text = _compiled(spec.reply_template).render(Context(context, autoescape=False))
    missing: list[str] = []
    for name in MISSING_RE.findall(text):
        if name[:60] not in missing and len(missing) < 5:
            missing.append(name[:60])
    return text.strip(), missing


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
    outcome = CallOutcome(connector=spec.name, method=spec.method, url=mask_url(url),
                          connector_id=spec.id)
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
        text, missing = render_reply_checked(spec, data, values)
    except Exception as error:  # a filter that failed on the data, a template that broke
        outcome.reason = f"template_error: {type(error).__name__}"
        return outcome
    if missing or not text:
        outcome.reason, outcome.not_found = "missing_field", True
        outcome.missing = missing
        return outcome
    outcome.ok, outcome.reply = True, text
    return outcome


def _fetch(
    spec: ConnectorSpec, url: str, values: dict[str, str], outcome: CallOutcome,
    transport: httpx2.BaseTransport | None,
) -> Any:
    if any(header_problem(name, value) for name, value in spec.headers):
        # A header stored before the check: httpx could not send it. Said as it is.
        outcome.reason = "bad_header"
        return None
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
            try:
                host, _port, key = url_host(url)
            except HostInvalid:
                outcome.reason = "bad_host"
                return None
            except ValueError:
                outcome.reason = "bad_url"
                return None
            if not _allowed(key, host, spec.allowed_hosts):
                outcome.reason = "host_not_allowed"
                return None
            try:
                with client.stream(spec.method, url, headers=headers, json=body) as response:
                    outcome.status = response.status_code
                    if response.is_redirect:
                        target = urljoin(url, response.headers.get("location", ""))
                        try:
                            same = url_host(target)[2] == key
                        except ValueError:  # HostInvalid too: no host a call may name
                            same = False
                        if not same:
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
                if isinstance(error.__cause__, NameNotResolved):
                    outcome.reason = "host_unresolved"
                else:
                    outcome.reason = f"connect_error: {type(error).__name__}"
                return None
            except (httpx2.InvalidURL, ValueError):
                # A URL the HTTP client will not send (its own reading of the host, a value
                # that does not encode): refused like any other call, never an exception.
                outcome.reason = "bad_url"
                return None
            try:
                return json.loads(b"".join(chunks))
            except ValueError:
                outcome.reason = "bad_json"
                return None
    outcome.reason = "too_many_redirects"
    return None
