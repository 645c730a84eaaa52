"""The network under a connector's calls: every connection goes to an address that was checked.

A check that resolves a host name and lets the HTTP client resolve it again can be beaten by
DNS rebinding: the name answers a public address to the check and a loopback or private one
to the connection. Here the name is resolved once per connection, inside httpcore2's network
backend (its public ``NetworkBackend`` interface, as httpcore documents custom backends), each
address is checked, and the socket is opened to one of those very addresses. TLS still names
the host (httpcore2 passes the host name to ``start_tls`` for SNI and certificate checks).
Every redirect hop opens its connection through the same backend, so each hop is checked.

``CheckedTransport`` puts that backend under an ``httpx2.Client`` (an ``httpx2.BaseTransport``,
httpx's public interface for custom transports).
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpcore2
import httpx2

# (host, port) -> the addresses (IP literals) the name resolves to, in the order to try.
Resolver = Callable[[str, int], list[str]]
# (host, port) -> whether this host may be reached at any address (private networks allowed,
# or the demo API's own host outside production).
Exemption = Callable[[str, int], bool]


class AddressRefused(Exception):
    """The host resolved to an address that is not public (loopback, private, link-local...).
    ``host`` is the name asked for and ``address`` the refused address."""

    def __init__(self, host: str, address: str) -> None:
        self.host, self.address = host, address
        super().__init__(f"{host} resolves to a non-public address")


def system_resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to for a TCP connection to ``port`` (the system
    resolver, ``socket.getaddrinfo``), without duplicates. Raises ``OSError`` when the name
    does not resolve."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%")[0]
        if address not in addresses:
            addresses.append(address)
    return addresses


# How long a check on save waits for the system resolver (which has no timeout of its own: a
# nameserver that does not answer holds ``getaddrinfo`` through all its retries).
RESOLVE_SECONDS = 3.0


class HostUnresolved(Exception):
    """``host`` gave no address: the name does not exist, or (``timed_out``) the resolver did not
    answer within ``seconds``. The message names the host, for an admin."""

    def __init__(self, host: str, *, timed_out_after: float | None = None) -> None:
        self.host, self.timed_out = host, timed_out_after is not None
        self.seconds = timed_out_after
        if timed_out_after is not None:
            message = (f'"{shown(host)}" did not resolve within {timed_out_after:g} seconds; '
                       "check the host name or try again.")
        else:
            message = f'"{shown(host)}" does not resolve; check the host name.'
        super().__init__(message)


def resolve_within(
    host: str, port: int, *, seconds: float | None = None, resolve: Resolver | None = None
) -> list[str]:
    """The addresses ``host`` resolves to (``resolve``, ``system_resolve`` by default), waiting
    at most ``seconds`` (``RESOLVE_SECONDS`` by default); an IP literal is its own address.
    Raises ``HostUnresolved`` when the name gives no address or the resolver takes longer (its
    thread is left to finish alone).

    For checks on save (a form answers in seconds); a connection resolves again and checks each
    address itself (``CheckedBackend``), so this is never the guard against DNS rebinding.
    """
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    resolver = resolve or system_resolve
    seconds = RESOLVE_SECONDS if seconds is None else seconds
    found: list[list[str]] = []
    done = threading.Event()

    def run() -> None:
        try:
            found.append(resolver(host, port))
        except (OSError, UnicodeError):
            pass
        finally:
            done.set()

    threading.Thread(target=run, name=f"resolve {host[:40]}", daemon=True).start()
    if not done.wait(seconds):
        raise HostUnresolved(host, timed_out_after=seconds)
    if not found or not found[0]:
        raise HostUnresolved(host)
    return found[0]


# IPv6 ranges that carry an IPv4 address in their last 32 bits: NAT64's well-known prefix
# (RFC 6052), IPv4-compatible addresses (RFC 4291, deprecated) and IPv4-translated ones
# (RFC 2765). IPv4-mapped (``::ffff:0:0/96``), 6to4 and Teredo have ``ipaddress`` properties.
_IPV4_IN_LAST_32_BITS = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
)
# NAT64's local-use prefix (RFC 8215): where the IPv4 address sits depends on the prefix
# length the local operator chose, and the range is never globally routed: not public.
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses the IPv6 address ``ip`` carries and that a connection to it may
    reach: IPv4-mapped (``::ffff:a.b.c.d``), NAT64 (``64:ff9b::a.b.c.d``), IPv4-compatible
    (``::a.b.c.d``), IPv4-translated (``::ffff:0:a.b.c.d``), 6to4 (``2002:AABB:CCDD::/48``)
    and Teredo (``2001::/32``: its server and its client). Empty for any other address."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if any(ip in network for network in _IPV4_IN_LAST_32_BITS):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return found


def is_public(address: str) -> bool:
    """Whether the IP literal ``address`` is a public (globally routed) address.

    An IPv6 address that carries an IPv4 address (``embedded_ipv4``: IPv4-mapped, NAT64,
    IPv4-compatible or -translated, 6to4, Teredo) is public only when every IPv4 address it
    carries is: ``64:ff9b::7f00:1`` reaches 127.0.0.1 through a NAT64 gateway and
    ``2002:7f00:1::1`` through a 6to4 relay. An IPv4-mapped address is judged by its IPv4
    address alone; NAT64's local-use prefix ``64:ff9b:1::/48`` is never public. Raises
    ``ValueError`` for a value that is not an IP address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL_USE:
            return False
        carried = embedded_ipv4(ip)
        if not all(_is_public_ip(inner) for inner in carried):
            return False
        if ip.ipv4_mapped is not None:
            return True
    return _is_public_ip(ip)


def _is_public_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


class HostInvalid(ValueError):
    """A host a URL may not name: a number the system resolver would read as an IP address
    though ``ipaddress`` does not (``0177.0.0.1``, ``2130706433``, ``0x7f.1``, ``127.1``,
    leading zeros), or no valid host name at all. The message says why, for an admin."""


# The longest part between dots of a DNS name, and the longest name (RFC 1035, without the
# final dot), in characters of its ASCII form.
LABEL_MAX = 63
NAME_MAX = 253
# A label of a DNS name: letters, digits and inner hyphens, 1 to 63 characters.
_LABEL_RE = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# The last label of a host the URL standard and the system resolver read as a number (decimal,
# octal with a leading 0, or hexadecimal with 0x): such a host is an IPv4 address, not a name.
_NUMERIC_LABEL_RE = re.compile(r"[0-9]+|0x[0-9a-f]*")


def shown(text: str, limit: int = 40) -> str:
    """``text`` as a message quotes it: whole when it is short, else its start and its end
    around an ellipsis (a long host name or label stays recognisable), invisible characters
    as escapes."""
    if len(text) > limit:
        text = f"{text[:limit - 14]}…{text[-12:]}"
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _character_named(char: str) -> str:
    if char == "_":
        return "an underscore (_)"
    if char == " ":
        return "a space"
    if not char.isprintable():
        return f"the invisible character {shown(char)}"
    return f'"{char}"'


def _name_problem(name: str) -> str:
    """What makes ``name`` (not an IP address) no DNS host name, for an admin, or ``""``.

    Each part between dots has 1 to ``LABEL_MAX`` letters, digits and inner hyphens; a part of an
    international name (letters outside ASCII) is measured in its ASCII form (``xn--...``),
    which ``_ascii_form_wanted`` asks for once nothing else is wrong."""
    prefix = f'"{shown(name)}" is not a host name: '
    if name.endswith("."):
        return prefix + "it ends with a dot; write it without the final dot."
    for label in name.split("."):
        if not label:
            return prefix + "it has an empty part (a dot at its start, or two dots together)."
        its_part = f'{prefix}its part "{shown(label)}"'
        wrong = [c for c in label if c.isascii() and not (c.isalnum() or c == "-")]
        if wrong:
            return (f"{its_part} has {_character_named(wrong[0])}; a host name has only "
                    "letters, digits, hyphens (-) and dots.")
        if label.startswith("-") or label.endswith("-"):
            end = "starts" if label.startswith("-") else "ends"
            return (f"{its_part} {end} with a hyphen; a hyphen goes only between letters or "
                    "digits.")
        if label.isascii():
            length = len(label)
        else:  # the length of its ASCII form (RFC 3492's Punycode after "xn--")
            length = len("xn--") + len(label.lower().encode("punycode"))
            try:
                label.encode("idna")
            except UnicodeError:
                if length <= LABEL_MAX:
                    return f"{its_part} has a character that no host name may have."
        if length > LABEL_MAX:
            shown_length = f"{length} characters long" + (
                "" if label.isascii() else " in its ASCII form (xn--...)")
            return (f"{its_part} is {shown_length}; a part between dots has at most "
                    f"{LABEL_MAX} characters.")
    return ""


def _ascii_form_wanted(host: str) -> str:
    """The refusal of an international domain name, with its ASCII spelling when Python's
    ``idna`` codec (IDNA 2003, RFC 3490) can give one: the name is accepted written so."""
    try:
        ascii_form = host.encode("idna").decode("ascii")
    except UnicodeError:
        return f'"{shown(host)}" is not a host name: it has no ASCII form.'
    if len(ascii_form) > NAME_MAX:
        return (f'"{shown(host)}" is not a host name: its ASCII form is {len(ascii_form)} '
                f"characters long; a host name has at most {NAME_MAX}.")
    return (f'Write the host name "{shown(host, 60)}" in its ASCII form, "{ascii_form[:80]}": '
            "international domain names are accepted in that spelling.")


def canonical_host(host: str) -> str:
    """``host`` as a URL names it (an IPv6 address without its brackets), checked and in one
    spelling: lower case, an IPv6 address compressed. Raises ``HostInvalid`` for a numeric host
    that is not four decimal numbers of 0 to 255 without leading zeros, an IPv6 address with a
    zone (``%eth0``), or anything that is neither an IP address nor a valid DNS name (the
    message says what is wrong: a part over 63 characters, a name over 253, an underscore...).

    The one check of a host's syntax that connectors (on save and at every call) and webhooks
    share: a value the system resolver reads one way and ``ipaddress`` or the HTTP client
    another never reaches either.
    """
    if not isinstance(host, str) or not host:
        raise HostInvalid("No host name.")
    if len(host) > NAME_MAX:
        raise HostInvalid(f'"{shown(host)}" is not a host name: it is {len(host)} characters '
                          f"long; a host name has at most {NAME_MAX}.")
    name = host.lower()
    if ":" in name:
        try:
            address = ipaddress.IPv6Address(name)
        except ValueError:
            raise HostInvalid(f"Not an IPv6 address: {host[:60]!r}.") from None
        if address.scope_id:
            raise HostInvalid(f"An IPv6 address with a zone is not accepted: {host[:60]!r}.")
        return address.compressed
    if _NUMERIC_LABEL_RE.fullmatch(name.rstrip(".").rsplit(".", 1)[-1]):
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise HostInvalid(
                f'"{shown(host)}" is not an IP address as written: write the address as four '
                "decimal numbers from 0 to 255, without leading zeros (like 192.0.2.10)."
            ) from None
    if not all(_LABEL_RE.fullmatch(label) for label in name.split(".")):
        problem = _name_problem(host)
        if problem:
            raise HostInvalid(problem)
        if not name.isascii():
            raise HostInvalid(_ascii_form_wanted(host))
        raise HostInvalid(f'"{shown(host)}" is not a host name.')
    return name


def host_is_public(host: str, port: int, *, resolve: bool = True) -> bool:
    """Whether ``host`` (checked by ``canonical_host``) is a public destination.

    The one check of private, loopback, link-local and reserved addresses (IPv4 and IPv6) that
    the connectors and the webhooks share: an IP literal is judged as it is (``is_public``);
    ``localhost`` and names under ``.localhost`` are loopback; with ``resolve``, a name counts
    as public when every address ``system_resolve`` gives is, or when it does not resolve (the
    call then reports that it does not). Calls connect only to a checked address
    (``CheckedBackend``), so this is the check on save, not the guard of a call.
    """
    try:
        is_literal = ipaddress.ip_address(host) is not None
    except ValueError:
        is_literal = False
    if is_literal:
        return is_public(host)
    if host == "localhost" or host.endswith(".localhost"):
        return False
    if not resolve:
        return True
    try:
        return all(is_public(address) for address in system_resolve(host, port))
    except OSError:
        return True


class NameNotResolved(httpcore2.ConnectError):
    """A connection's host name gave no address (``CheckedBackend``): an ``httpcore2``
    connection error, told apart so that a connector call can say why it failed. ``httpx2``'s
    error raised in its place (``CheckedTransport``) has it as its ``__cause__``."""


class CheckedBackend(httpcore2.NetworkBackend):
    """httpcore2's synchronous network backend with each host resolved once and checked.

    ``resolve`` gives the addresses (``system_resolve`` by default); unless ``exempt`` says
    the host may be reached anywhere, all of them must be public, or ``AddressRefused`` is
    raised before any connection is opened. The connection then goes to the first of those
    addresses that answers (``inner``, httpcore2's ``SyncBackend`` by default, is given the IP
    literal, so nothing resolves the name a second time).
    """

    def __init__(
        self,
        *,
        exempt: Exemption,
        resolve: Resolver = system_resolve,
        inner: httpcore2.NetworkBackend | None = None,
    ) -> None:
        self.exempt = exempt
        self.resolve = resolve
        self.inner = inner or httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        """Opens a TCP connection to a checked address of ``host`` (see the class)."""
        try:
            addresses = self.resolve(host, port)
        except OSError as error:
            raise NameNotResolved(f"{host} does not resolve: {error}") from None
        if not addresses:
            raise NameNotResolved(f"{host} does not resolve")
        if not self.exempt(host, port):
            for address in addresses:
                if not is_public(address):
                    raise AddressRefused(host, address)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore2.ConnectError as error:
                last_error = error
        raise last_error or httpcore2.ConnectError(f"{host}: no address answered")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        """Refused: a connector reaches hosts over TCP only."""
        raise httpcore2.ConnectError("Unix sockets are not connector targets")


# httpcore2's exceptions and the httpx2 ones a client's caller catches, by their public names.
_EXCEPTIONS = [
    (getattr(httpcore2, name), getattr(httpx2, name))
    for name in (
        "ConnectTimeout", "ReadTimeout", "WriteTimeout", "PoolTimeout", "ConnectError",
        "ReadError", "WriteError", "RemoteProtocolError", "LocalProtocolError",
        "UnsupportedProtocol", "ProxyError", "ProtocolError", "NetworkError",
        "TimeoutException",
    )
]


def _as_httpx_error(error: Exception, request: httpx2.Request) -> Exception:
    for core_type, httpx_type in _EXCEPTIONS:
        if isinstance(error, core_type):
            return httpx_type(str(error) or type(error).__name__, request=request)
    return error


class _ResponseStream(httpx2.SyncByteStream):
    def __init__(self, stream: Iterable[bytes], request: httpx2.Request) -> None:
        self.stream, self.request = stream, request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.stream
        except httpcore2.TimeoutException as error:
            raise _as_httpx_error(error, self.request) from error
        except (httpcore2.NetworkError, httpcore2.ProtocolError) as error:
            raise _as_httpx_error(error, self.request) from error

    def close(self) -> None:
        close = getattr(self.stream, "close", None)
        if close is not None:
            close()


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx2's default TLS context (certificates verified), made once per process: making
    one loads the trusted certificates, about 47 ms of CPU, which a connector call made per
    call before (measured in ``bench/bench_connectors.py``). A context is safe to share
    between threads."""
    return httpx2.create_ssl_context()


class CheckedTransport(httpx2.BaseTransport):
    """An ``httpx2`` transport over an ``httpcore2.ConnectionPool`` whose network backend is
    ``backend`` (a ``CheckedBackend``); TLS verified with ``tls_context()``. Errors come out
    as httpx2's exceptions, and ``AddressRefused`` as itself."""

    def __init__(self, backend: httpcore2.NetworkBackend) -> None:
        self.pool = httpcore2.ConnectionPool(
            ssl_context=tls_context(), network_backend=backend, max_connections=10,
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Sends ``request`` through the pool (httpx2's transport interface)."""
        core_request = httpcore2.Request(
            method=request.method,
            url=httpcore2.URL(
                scheme=request.url.raw_scheme, host=request.url.raw_host,
                port=request.url.port, target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,  # type: ignore[arg-type]
            extensions=request.extensions,
        )
        try:
            response = self.pool.handle_request(core_request)
        except (httpcore2.TimeoutException, httpcore2.NetworkError,
                httpcore2.ProtocolError, httpcore2.UnsupportedProtocol) as error:
            raise _as_httpx_error(error, request) from error
        return httpx2.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream, request),  # type: ignore[arg-type]
            extensions=response.extensions,
        )

    def close(self) -> None:
        """Closes the pool's connections."""
        self.pool.close()
