"""A webhook receiver on a loopback port, for the tests and the benchmark.

It checks every request's ``SupportDesk-Signature`` with the endpoint's secret (set it once
the endpoint is created), records what it got, and answers as told: a queue of status codes
(then 200), a delay, a redirect, or a hold until the test releases it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from webhooks.signing import SIGNATURE_HEADER, verify_signature


@dataclass
class Received:
    event_id: str
    event: str
    body: dict
    signature_ok: bool
    answered: int


@dataclass
class Receiver:
    secret: str = ""
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    redirect_to: str = ""
    hold: threading.Event | None = None
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def event_ids(self, *, ok_only: bool = False) -> list[str]:
        return [r.event_id for r in self.received if not ok_only or 200 <= r.answered < 300]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keeps the connection open, as receivers do
            disable_nagle_algorithm = True  # the body is written apart from the headers

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    if receiver.redirect_to:
                        status = 302
                    receiver.received.append(Received(
                        event_id=self.headers.get("SupportDesk-Event-Id", ""),
                        event=self.headers.get("SupportDesk-Event", ""),
                        body=json.loads(body),
                        signature_ok=verify_signature(
                            receiver.secret, self.headers.get(SIGNATURE_HEADER, ""), body
                        ),
                        answered=status,
                    ))
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", receiver.redirect_to)
                answer = b'{"ok": true}' if status < 300 else b"boom: the receiver failed"
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
