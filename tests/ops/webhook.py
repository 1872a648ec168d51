"""A real local HTTP server that records the JSON bodies POSTed to it (alert webhook tests), and
each request's headers and raw body (`requests`: user webhooks, tests/automation)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookReceiver:
    def __init__(self, *, fail_first: int = 0, status: int = 204, hold: bool = False) -> None:
        """`hold`: each request waits for `release` to be set before it is answered (a target
        that hangs)."""
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.events: list[dict[str, Any]] = []
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.attempts = 0
        self.fail_first = fail_first
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.attempts += 1
                    failing = receiver.attempts <= receiver.fail_first
                    if not failing:
                        receiver.events.append(json.loads(body))
                        receiver.requests.append(
                            ({k.lower(): v for k, v in self.headers.items()}, body)
                        )
                receiver.release.wait(60)
                self.send_response(503 if failing else status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
