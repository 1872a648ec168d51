"""Pure ASGI middleware: request id, latency histogram, one JSON log line per request."""

from __future__ import annotations

import contextvars
import logging
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from instasched.observability.metrics import HTTP_LATENCY

log = logging.getLogger("instasched.http")
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
# A mutable holder: dependencies may run in a copied context, so they fill it in place.
_request_info: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "request_info", default=None
)


def set_user_id(user_id: str) -> None:
    """Record the authenticated user for this request's log line."""
    info = _request_info.get()
    if info is not None:
        info["user_id"] = user_id


def add_response_headers(headers: dict[str, str]) -> None:
    """Headers for this request's answer, whatever the endpoint returns (an API key's
    `RateLimit-*`): a dependency cannot reach a `Response` the endpoint builds itself."""
    info = _request_info.get()
    if info is not None:
        info.setdefault("headers", {}).update(headers)


_QUIET = {"/health", "/metrics"}


class RequestMetricsMiddleware:
    """`passthrough`: a path prefix served as is, with no metrics, log line or request id (the
    mounted Instagram sandbox: it stands in for Meta's servers, it is not the API)."""

    def __init__(self, app: ASGIApp, passthrough: str | None = None) -> None:
        self.app = app
        self.passthrough = passthrough

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            self.passthrough is not None and scope["path"].startswith(self.passthrough)
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 128 else secrets.token_hex(8)
        token = request_id_var.set(request_id)
        info: dict[str, Any] = {"user_id": None}
        info_token = _request_info.set(info)
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                    *(
                        (name.lower().encode("latin-1"), value.encode("latin-1"))
                        for name, value in info.get("headers", {}).items()
                        if name.lower().encode("latin-1") not in {k for k, _ in message["headers"]}
                    ),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = str(scope.get("method", ""))
            HTTP_LATENCY.labels(route=route, method=method, status=str(status)).observe(elapsed)
            if route not in _QUIET:
                extra: dict[str, Any] = {
                    "request_id": request_id,
                    "user_id": info["user_id"],
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                }
                log.info("request", extra=extra)
            request_id_var.reset(token)
            _request_info.reset(info_token)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    raw = str(scope.get("path", ""))
    if isinstance(path, str):
        # Routes of routers included under /api keep their own path ("/auth/me").
        if raw.startswith("/api/") and not path.startswith("/api/"):
            return "/api" + path
        if raw.startswith("/sandbox"):  # a sandbox on a separate port: not passed through
            return "/sandbox" + path
        return path
    if raw.startswith("/sandbox"):
        return "/sandbox/*"
    if raw.startswith("/api"):
        return "unmatched"
    return "static" if raw not in _QUIET else raw
