"""Limits on how long and how much one HTTP client may hold or send before the app sees its
request. `uvicorn_options(settings)` is what `instasched api` (and the tests' server) run with.

uvicorn 0.54's httptools protocol has only a keep-alive timeout (armed after a response): a
connection that never finishes its headers was held forever (2,000 trickling connections for
60 s, 20,000 reached the descriptor limit) and headers of any size were read (a 64 MB
Authorization header). Its h11 protocol caps headers (`h11_max_incomplete_event_size`) but has no
header deadline either, and costs more CPU per request. So `GuardedHttpToolsProtocol` adds, with
one timer per connection (re-armed, never one per chunk):
- a header deadline: the request line and headers must be complete within
  HTTP_HEADER_TIMEOUT_SECONDS of the connection (or of a kept-alive request's first byte);
  else 408 and the connection is closed;
- a header size cap: more than HTTP_MAX_HEADER_SIZE bytes before the end of the headers
  answers 431 and closes;
- a body idle timeout: no body byte for HTTP_BODY_TIMEOUT_SECONDS closes the connection (the
  app sees a disconnect). Time while the server itself stopped reading (the app has not
  consumed the buffered body yet) does not count.
`BodyLimitMiddleware` caps request bodies at MAX_JSON_BODY_SIZE with a JSON 413, except the media
upload, which streams to disk under its own MAX_FILE_SIZE / MAX_VIDEO_FILE_SIZE rules. (FastAPI's
own `max_body_size` answers a plain-text "Content Too Large" in place of the app's JSON whenever
Content-Length is over, and its per-route override is fixed at import, before the settings.)
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any, Literal

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from instasched.config import Settings
from instasched.exceptions import PayloadTooLarge

# Streamed to disk under their own limits (instasched/media/receive.py).
UPLOAD_PATHS = frozenset({"/api/instagram/scheduling/media/upload"})


@dataclass(frozen=True)
class HttpLimits:
    header_timeout: float
    body_timeout: float
    max_header_bytes: int

    @classmethod
    def for_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            header_timeout=settings.http_header_timeout_seconds,
            body_timeout=settings.http_body_timeout_seconds,
            max_header_bytes=settings.http_max_header_size,
        )


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run / uvicorn.Config keywords: the guarded protocol (a picklable partial, so
    API_WORKERS > 1 works) and the keep-alive timeout."""
    return {
        "http": functools.partial(
            GuardedHttpToolsProtocol, limits=HttpLimits.for_settings(settings)
        ),
        "timeout_keep_alive": settings.http_keep_alive_timeout_seconds,
    }


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: HttpLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._phase: Literal["headers", "body", "idle", "refused"] = "headers"
        self._header_bytes = 0
        self._last_data = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def _arm(self, delay: float, callback: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # --- connection ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout, self._header_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_data = self.loop.time()
        super().data_received(data)
        if self._phase == "headers" and not self.transport.is_closing():
            self._header_bytes += len(data)
            if self._header_bytes > self.limits.max_header_bytes:
                self._refuse(431, f"Request headers over {self.limits.max_header_bytes} bytes")

    # --- parser callbacks ----------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase != "headers":  # a kept-alive connection's next request
            self._phase = "headers"
            self._header_bytes = 0
            self._arm(self.limits.header_timeout, self._header_deadline)

    def on_headers_complete(self) -> None:
        # Exact size (a chunk that ends the headers was not counted in data_received).
        size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
        if size > self.limits.max_header_bytes:
            self._refuse(431, f"Request headers over {self.limits.max_header_bytes} bytes")
            return
        self._phase = "body"
        self._arm(self.limits.body_timeout, self._body_idle)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._phase != "refused":
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._phase == "refused":
            return
        self._phase = "idle"
        self._disarm()
        super().on_message_complete()

    # --- timers --------------------------------------------------------------------------
    def _header_deadline(self) -> None:
        self._timer = None
        if self._phase != "headers" or self.transport.is_closing():
            return
        if self._header_bytes == 0:
            self.transport.close()  # nothing sent (an idle pre-connection): no answer needed
        else:
            self._refuse(408, "Request headers not received in time")

    def _body_idle(self) -> None:
        self._timer = None
        if self._phase != "body" or self.transport.is_closing():
            return
        if self.transport.get_protocol() is not self:  # upgraded to a WebSocket
            return
        now = self.loop.time()
        if self.flow.read_paused:  # the app has not consumed the buffered body: not the client
            self._last_data = now
        idle = now - self._last_data
        if idle >= self.limits.body_timeout:
            self.transport.close()
        else:
            self._arm(self.limits.body_timeout - idle, self._body_idle)

    def _refuse(self, status: int, message: str) -> None:
        """Answer before the app saw the request, and close (the parser's later callbacks for
        this request are ignored)."""
        self._phase = "refused"
        self._disarm()
        body = message.encode()
        self.transport.write(
            STATUS_LINE[status]
            + b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            + b"content-length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        self.transport.close()


DRAIN_FACTOR = 16


async def _drain(receive: Receive, limit: int) -> None:
    """Read and drop the rest of a request body, at most `limit` bytes."""
    dropped = 0
    while dropped <= limit:
        message = await receive()
        dropped += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


class BodyLimitMiddleware:
    """413 for a body over `max_body` bytes: at once from Content-Length (the body is not read,
    the connection closed), else as the streamed body crosses it (an HTTPException, so FastAPI's
    body reading passes it on and the app's handler renders it)."""

    def __init__(self, app: ASGIApp, *, max_body: int) -> None:
        self.app = app
        self.max_body = max_body
        # A body up to this size is read to its end (and dropped) before the 413: closing a
        # socket with unread bytes sends a reset, and the client may lose the answer to it (seen
        # in CI). Larger ones are cut at once.
        self.drain_limit = DRAIN_FACTOR * max_body
        self.message = (
            f"The request body is over the {max_body}-byte limit (MAX_JSON_BODY_SIZE); "
            "media go to POST /api/instagram/scheduling/media/upload"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UPLOAD_PATHS:
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = int(value)  # the server already refused non-numbers
                if declared > self.max_body:
                    if declared <= self.drain_limit:
                        await _drain(receive, self.drain_limit)
                    body = PayloadTooLarge(self.message).to_dict()
                    response = JSONResponse(body, 413, headers={"Connection": "close"})
                    await response(scope, receive, send)
                    return
                break
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                if message.get("more_body", False):
                    await _drain(receive, self.drain_limit - received)
                raise HTTPException(413, self.message, headers={"Connection": "close"})
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        except HTTPException as exc:
            # A middleware that reads the body itself (the lone-surrogate guard) is outside
            # FastAPI's handlers: the 413 is rendered here.
            if exc.status_code != 413 or started:
                raise
            body = PayloadTooLarge(self.message).to_dict()
            await JSONResponse(body, 413, headers={"Connection": "close"})(scope, receive, send)
