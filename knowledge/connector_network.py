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
import socket
import ssl
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


def is_public(address: str) -> bool:
    """Whether the IP literal ``address`` is a public (globally routed) address; an
    IPv4-mapped IPv6 address is judged by its IPv4 address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


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
            raise httpcore2.ConnectError(f"{host} does not resolve: {error}") from None
        if not addresses:
            raise httpcore2.ConnectError(f"{host} does not resolve")
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
