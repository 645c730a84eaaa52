"""A small fake of the Anthropic Messages API on a loopback port, for the Claude backend tests.

A test scripts the answers (``server.script(...)``); each request takes the next one. It
speaks the Messages API's JSON and its server-sent-events streaming format, so the real
``anthropic`` SDK talks to it unchanged through its ``base_url``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def message(content: list[dict[str, Any]], stop_reason: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_test", "type": "message", "role": "assistant", "model": "claude-test",
        "content": content, "stop_reason": stop_reason, "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 10},
    }


def tool_answer(data: Any, name: str = "record_classification") -> dict[str, Any]:
    return {"status": 200, "json": message(
        [{"type": "tool_use", "id": "toolu_test", "name": name, "input": data}], "tool_use"
    )}


def text_answer(text: str) -> dict[str, Any]:
    return {"status": 200, "json": message([{"type": "text", "text": text}])}


def error_answer(status: int, kind: str = "api_error", headers: dict | None = None) -> dict:
    return {"status": status, "headers": headers or {},
            "json": {"type": "error", "error": {"type": kind, "message": f"fake {status}"}}}


def stream_answer(chunks: list[str], fail_after: int | None = None) -> dict[str, Any]:
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": {
            **message([]), "stop_reason": None}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
    ]
    for chunk in chunks:
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "text_delta", "text": chunk}}))
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": len(chunks)}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return {"status": 200, "sse": events}


class FakeAnthropic:
    def __init__(self) -> None:
        self.answers: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake.lock:
                    fake.requests.append({"path": self.path, "body": body,
                                          "headers": dict(self.headers)})
                    answer = fake.answers.pop(0) if fake.answers else error_answer(500)
                if answer.get("delay"):
                    time.sleep(answer["delay"])
                if "sse" in answer:
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("cache-control", "no-cache")
                    self.end_headers()
                    for event, data in answer["sse"]:
                        self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                        self.wfile.flush()
                    return
                payload = json.dumps(answer["json"]).encode()
                self.send_response(answer["status"])
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for key, value in answer.get("headers", {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *answers: dict[str, Any]) -> None:
        with self.lock:
            self.answers.extend(answers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
