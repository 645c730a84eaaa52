"""In Chromium: a page on another port of the desk's own host cannot open the agent's socket.

Cookies are not kept per port, so such a page's WebSocket carries the signed-in agent's session
cookie; only the Origin check stands between it and the live queue (issue 15, item 1).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = [pytest.mark.services, pytest.mark.browser]

PASSWORD = "pw-123456789"  # tests.chat.conftest.make_user

# Opens the console socket and reports what happened: "open", the frames, the close code.
PROBE = """
(url) => new Promise((resolve) => {
  const seen = [];
  const ws = new WebSocket(url);
  ws.onopen = () => seen.push("open");
  ws.onmessage = (event) => { seen.push(JSON.parse(event.data).type); ws.close(); };
  ws.onclose = (event) => resolve({ seen, code: event.code });
})
"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>Another site on the same host</title><p>Hello"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def other_port_site() -> Iterator[str]:
    """A plain page served from another port of 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_port_cannot_open_the_console_socket(
    daphne_server, other_port_site, browser_context_factory, browser_login
):
    from tests.chat.conftest import make_user

    agent = make_user("alex", "agents")  # committed: Daphne reads it
    page = browser_context_factory().new_page()
    browser_login(page, daphne_server, agent.username, PASSWORD)
    socket_url = daphne_server.replace("http", "ws", 1) + "/ws/console/"

    # From the desk's own origin the agent's socket opens (the control).
    page.goto(f"{daphne_server}/healthz")
    own = page.evaluate(PROBE, socket_url)
    assert own["seen"][:2] == ["open", "ready"], own

    # From another port of the same host, with the same cookie: refused at the handshake.
    page.goto(other_port_site)
    foreign = page.evaluate(PROBE, socket_url)
    assert foreign["seen"] == [] and foreign["code"] == 1006, foreign
