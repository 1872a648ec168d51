"""An httpx transport over aiohttp's connection pool, for the Graph client.

Why: with 50 publications in flight, httpcore's pool re-scans every pooled connection (a poll()
per idle connection, and an O(n^2) idle count) on each request and each response close; with
anyio's socket wrappers that was about a third of the worker's CPU per publication
(bench/run --profile). aiohttp's connector hands out a keep-alive connection in O(1).
Re-measured on 2026-12-06 (bench/graph_wire_bench.py: 50 calls in flight against the sandbox
served alone, 50 ms per call, 2 CPUs, load average 8-11): the client's CPU per Graph call is
176-181 µs here against 3,576-3,838 µs through httpx's own pool (1,074-1,620 against 110-125
calls/s). tests/integrations/test_graph_transport.py sends the same calls through this transport
(directly and under httpx) and through plain httpx, and compares what the client makes of them.

GraphClient keeps speaking httpx's exceptions; with this default transport it calls `send`
directly (httpx's client, request and response objects cost ~10 % of the worker's CPU per
publication), with any other transport (tests) it goes through httpx.
Errors are mapped to the httpx exceptions the client already handles: timeouts to
`httpx.ConnectTimeout` / `httpx.ReadTimeout`, refused connections to `httpx.ConnectError`,
anything else on the wire (reset, server closed mid-answer) to `httpx.ReadError`. Bodies are read
whole (Graph answers are small JSON) and handed to httpx undecoded, so content-encoding is decoded
by httpx exactly as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
import yarl


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_connections: int = 200, keepalive_expiry: float = 2.0) -> None:
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running event loop (aiohttp requires one).
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=self._keepalive_expiry,
                # A fresh DNS answer per connection is not needed for one Graph host.
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str],
        form: dict[str, str] | None,
        timeouts: httpx.Timeout,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One request without httpx's client (the Graph client's fast path): the query and the
        form are encoded as httpx does for these plain string values, the answer is read whole.
        Failures raise the same httpx exceptions as `handle_async_request`."""
        if params:
            url = f"{url}?{urlencode(params)}"
        headers: dict[str, str] = {}
        body: bytes | None = None
        if form is not None:
            body = urlencode(form).encode("ascii")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        client_timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=timeouts.connect,
            sock_read=timeouts.read,
            connect=timeouts.pool,
        )
        response, content = await self._exchange(
            method, yarl.URL(url, encoded=True), body, headers, client_timeout
        )
        return response.status, response.headers, content

    async def _exchange(
        self,
        method: str,
        url: str | yarl.URL,
        body: bytes | None,
        headers: Any,
        limits: aiohttp.ClientTimeout,
        request: httpx.Request | None = None,
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        """One round trip, the answer read whole; wire failures as httpx's exceptions."""
        session = self._get_session()
        try:
            async with session.request(
                method,
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=limits,
                compress=None,
            ) as response:
                return response, await response.read()
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connect timeout", request=request) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "read timeout", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=timeouts.get("connect"),
            sock_read=timeouts.get("read"),
            connect=timeouts.get("pool"),
        )
        body = await request.aread()
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw
            if name.lower() not in (b"host", b"content-length", b"transfer-encoding")
        ]
        response, content = await self._exchange(
            request.method, str(request.url), body or None, headers, timeout, request
        )
        status, raw_headers = response.status, list(response.raw_headers)
        return httpx.Response(
            status_code=status,
            headers=raw_headers,
            stream=httpx.ByteStream(content),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
