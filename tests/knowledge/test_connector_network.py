"""knowledge.connector_network: a connector's connection goes to the address that was checked
(DNS rebinding: a name that answers a public address, then a loopback one), on every hop."""

from __future__ import annotations

import httpcore2
import pytest

from knowledge.connector_network import AddressRefused, CheckedBackend, is_public
from knowledge.connectors import ConnectorSpec, checked_transport, connector_call
from tests.fake_company_api import FakeCompanyApi

PUBLIC = "93.184.216.34"  # a globally routed address; no test connects to it for real


class RebindingResolver:
    """A DNS that answers ``answers`` in turn (the last one again once they run out), and
    counts its look-ups."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        return [answer]


class RecordingBackend(httpcore2.NetworkBackend):
    """Records the host each connection is opened to and answers a canned HTTP response
    instead of reaching the network; a redirect hop gets ``responses`` in turn."""

    def __init__(self, *responses: bytes) -> None:
        self.responses = list(responses)
        self.connected: list[tuple[str, int]] = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.connected.append((host, port))
        body = self.responses[min(len(self.connected), len(self.responses)) - 1]
        return httpcore2.MockStream([body])


def response(status: int, body: bytes = b"", location: str = "") -> bytes:
    extra = f"Location: {location}\r\n" if location else ""
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


@pytest.fixture(autouse=True)
def private_refused(settings):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = False
    settings.PRODUCTION = True


def spec(base: str, host: str, path: str = "/orders/7") -> ConnectorSpec:
    return ConnectorSpec(
        id=1, name="Orders", description="", intents=("order_status",), needs=(),
        method="GET", url_template=base + path, allowed_hosts=(host,),
        headers=(("Authorization", "Bearer zz"),), timeout_seconds=1.0, verified_only=False,
        reply_template="{{ status }}", fallback_text="",
    )


def test_the_connection_goes_to_the_checked_address_not_a_second_answer():
    dns = RebindingResolver(PUBLIC, "127.0.0.1")
    inner = RecordingBackend(response(200, b'{"status": "Shipped"}'))
    backend = CheckedBackend(exempt=lambda host, port: False, resolve=dns, inner=inner)
    stream = backend.connect_tcp("shop.example", 80)
    assert inner.connected == [(PUBLIC, 80)]  # the IP that was checked, not the name
    assert dns.calls == ["shop.example"]  # resolved once: nothing asks the DNS again
    stream.close()


def test_a_name_answering_loopback_is_refused_before_any_connection():
    inner = RecordingBackend(response(200, b"{}"))
    backend = CheckedBackend(exempt=lambda host, port: False,
                             resolve=lambda host, port: [PUBLIC, "127.0.0.1"], inner=inner)
    with pytest.raises(AddressRefused):
        backend.connect_tcp("shop.example", 80)
    assert inner.connected == []


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.0.0.8", "192.168.1.1", "169.254.169.254", "::1", "fc00::1",
    "::ffff:127.0.0.1", "0.0.0.0", "100.64.0.1", "224.0.0.1",
])
def test_non_public_addresses(address):
    assert not is_public(address)


def test_rebinding_a_real_loopback_api_reaches_nothing():
    """The name answers a public address to the check and 127.0.0.1 afterwards, while a real
    API listens on loopback: it receives no request, each hop resolves its own connection."""
    api = FakeCompanyApi()
    try:
        dns = RebindingResolver(PUBLIC, "127.0.0.1")
        inner = RecordingBackend(response(302, location=f"http://rebind.example:{api.port}/x"),
                                 response(200, b'{"status": "Shipped"}'))
        transport = checked_transport(resolve=dns, inner=inner)
        base = f"http://rebind.example:{api.port}"
        outcome = connector_call(spec(base, f"rebind.example:{api.port}"), {},
                                 transport=transport)
        # First hop: checked public address; the redirect's hop resolves again, gets
        # 127.0.0.1 and is refused before connecting.
        assert inner.connected == [(PUBLIC, api.port)]
        assert outcome.reason == "private_address" and not outcome.ok
        assert api.requests == []
    finally:
        api.close()


def test_a_name_answering_loopback_is_refused_with_real_sockets():
    """With the real sockets under the check: a name answering loopback is refused before
    the loopback API is reached."""
    api = FakeCompanyApi()
    try:
        dns = RebindingResolver("127.0.0.1")
        outcome = connector_call(
            spec(f"http://shop.example:{api.port}", f"shop.example:{api.port}"), {},
            transport=checked_transport(resolve=dns),
        )
        assert outcome.reason == "private_address"
        assert dns.calls == ["shop.example"] and api.requests == []
    finally:
        api.close()


def test_an_exempt_host_connects_to_its_resolved_address(settings):
    """Private networks allowed: the name still resolves once, and the call arrives."""
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = True
    api = FakeCompanyApi()
    try:
        dns = RebindingResolver("127.0.0.1")
        transport = checked_transport(resolve=dns)
        outcome = connector_call(
            spec(f"http://orders.internal:{api.port}", f"orders.internal:{api.port}",
                 path="/list"),
            {}, transport=transport,
        )
        assert outcome.status == 200 and dns.calls == ["orders.internal"]
        assert api.requests and api.requests[0][1]["Host"] == f"orders.internal:{api.port}"
    finally:
        api.close()



@pytest.mark.parametrize("private_ok", [True, False])
def test_a_name_that_does_not_resolve_fails_the_call_saying_so(settings, private_ok):
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = private_ok

    def no_such_name(host: str, port: int) -> list[str]:
        raise OSError("[Errno -2] Name or service not known")

    for dns in (no_such_name, lambda host, port: []):
        outcome = connector_call(spec("https://orders.erp.internal", "orders.erp.internal"), {},
                                 transport=checked_transport(resolve=dns))
        assert outcome.reason == "host_unresolved" and outcome.status is None
    # A name that resolves to an address nothing answers at keeps the reason it had.
    class Refusing(httpcore2.NetworkBackend):
        def connect_tcp(self, host, port, timeout=None, local_address=None,
                        socket_options=None):
            raise httpcore2.ConnectError("[Errno 111] Connection refused")

    outcome = connector_call(spec("https://shop.example", "shop.example"), {},
                             transport=checked_transport(resolve=lambda h, p: [PUBLIC],
                                                         inner=Refusing()))
    assert outcome.reason == "connect_error: ConnectError"


def test_resolve_within_gives_addresses_or_says_the_name_does_not_resolve():
    from knowledge.connector_network import HostUnresolved, resolve_within

    assert resolve_within("2001:db8::1", 443) == ["2001:db8::1"]  # a literal is not looked up
    assert resolve_within("hooks.example", 443, resolve=lambda h, p: [PUBLIC]) == [PUBLIC]
    assert "127.0.0.1" in resolve_within("localhost", 80) or "::1" in resolve_within(
        "localhost", 80)
    with pytest.raises(HostUnresolved, match=r'"no-such-host\.invalid" does not resolve'):
        resolve_within("no-such-host.invalid", 443)
    with pytest.raises(HostUnresolved, match="does not resolve"):
        resolve_within("empty.example", 443, resolve=lambda h, p: [])


def test_resolve_within_stops_waiting_for_a_resolver_that_hangs():
    import threading

    from knowledge.connector_network import HostUnresolved, resolve_within

    released = threading.Event()

    def hanging(host: str, port: int) -> list[str]:
        released.wait(10)
        return [PUBLIC]

    try:
        with pytest.raises(HostUnresolved) as raised:
            resolve_within("slow.example", 443, seconds=0.05, resolve=hanging)
    finally:
        released.set()
    assert raised.value.timed_out and "did not resolve within" in str(raised.value)
