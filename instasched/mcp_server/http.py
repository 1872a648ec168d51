"""The MCP server over streamable HTTP at /api/mcp, inside the API process.

Stateless (every request stands alone, so any API worker can answer any request) with JSON
answers. Each request must carry `Authorization: Bearer <API key>`: a missing, wrong, revoked
or expired key answers 401 with the API's message before the MCP layer sees the request. The
tools call the API in process (httpx's ASGI transport: the same routes, middleware and rules as
a request from outside) with that key.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from mcp.server.mcpserver import Context
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Receive, Scope, Send

from instasched.auth import api_keys
from instasched.config import Settings
from instasched.exceptions import InstaschedError, Unauthorized
from instasched.mcp_server.tools import Api, build_server
from instasched.workspaces.access import WORKSPACE_HEADER

PATH = "/api/mcp"
_NO_KEY = (
    "Missing API key: send Authorization: Bearer <API key> (create one with POST "
    "/api/auth/api-keys)"
)


def _key(authorization: str | None) -> str | None:
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    value = authorization[7:].strip()
    return value if api_keys.is_api_key(value) else None


def _key_of(ctx: Context | None) -> str | None:
    headers = ctx.headers if ctx is not None else None
    return _key(headers.get("authorization") if headers is not None else None)


def _workspace_of(ctx: Context | None) -> str | None:
    """The MCP request's own X-Workspace-Id, passed on to the API."""
    headers = ctx.headers if ctx is not None else None
    return headers.get(WORKSPACE_HEADER.lower()) if headers is not None else None


class McpHttp:
    """The ASGI endpoint of /api/mcp; `running()` belongs in the app's lifespan."""

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://instasched", timeout=300
        )
        api = Api(
            self.client,
            _key_of,
            allow_private_urls=settings.webhook_allow_private_targets,
            workspace_of=_workspace_of,
        )
        server = build_server(api)
        # Keys authenticate each request; the Host check (DNS rebinding against a local server
        # without auth) has nothing to add, and would refuse the PUBLIC_URL's host.
        self.manager = StreamableHTTPSessionManager(
            app=server._lowlevel_server,
            json_response=True,
            stateless=True,
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        try:
            async with self.manager.run():
                yield
        finally:
            await self.client.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = _key(headers.get("authorization"))
        try:
            if key is None:
                raise Unauthorized(_NO_KEY)
            await self._check(key)
        except InstaschedError as exc:
            await _send_error(send, exc)
            return
        await self.manager.handle_request(scope, receive, send)

    async def _check(self, key: str) -> None:
        state = self.app.state.instasched
        async with state.session_factory() as session:
            await api_keys.resolve(session, key)
            await session.commit()


async def _send_error(send: Send, exc: InstaschedError) -> None:
    body = json.dumps(exc.to_dict()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    for name, value in (exc.headers or {}).items():
        headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
