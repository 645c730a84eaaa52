"""A company API on a loopback port for the data connector tests: one path per behaviour."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ORDERS = {
    "70001": {"email": "kit@example.org", "status": "Delivered", "carrier": "DHL",
              "tracking_number": "JD0002233445566"},
    "70002": {"email": "lee@example.net", "status": "Processing", "carrier": "",
              "tracking_number": ""},
}


class FakeCompanyApi:
    """Serves ``/orders/<n>?email=`` (200 or 404), ``/500``, ``/slow``, ``/big``, ``/chunked``,
    ``/away`` (a redirect to another host), ``/here`` (a redirect to the same host),
    ``/badjson`` and ``/list``; records each request's path and headers."""

    def __init__(self, slow_seconds: float = 2.0) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def send_json(self, status: int, body: bytes, length: bool = True) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                owner.requests.append((self.path, dict(self.headers)))
                parts = urlsplit(self.path)
                path = parts.path
                if path.startswith("/orders/"):
                    number = path.rsplit("/", 1)[-1]
                    email = parse_qs(parts.query).get("email", [""])[0]
                    order = ORDERS.get(number)
                    if order is None or order["email"] != email.lower():
                        self.send_json(404, b'{"error": "not found"}')
                    else:
                        self.send_json(200, json.dumps({"order": {"number": number, **order}})
                                       .encode())
                elif path == "/500":
                    self.send_json(500, b'{"error": "boom"}')
                elif path == "/slow":
                    time.sleep(owner.slow_seconds)
                    self.send_json(200, b'{"order": {"status": "late"}}')
                elif path == "/big":
                    self.send_json(200, b'{"pad": "' + b"x" * 300_000 + b'"}')
                elif path == "/chunked":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"pad": "' + b"y" * 300_000 + b'"}')
                    self.close_connection = True
                elif path == "/away":
                    self.send_response(302)
                    self.send_header("Location", f"http://localhost:{owner.port}/orders/70001")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif path == "/here":
                    self.send_response(302)
                    self.send_header("Location", "/orders/70001?email=kit@example.org")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif path == "/badjson":
                    self.send_json(200, b"<html>not json</html>")
                elif path == "/list":
                    self.send_json(200, b'[{"id": 1}, {"id": 2}]')
                else:
                    self.send_json(404, b"{}")

        self.slow_seconds = slow_seconds
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.base_url = f"http://{self.host}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
