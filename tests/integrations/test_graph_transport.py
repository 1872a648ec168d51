"""The Graph client's own wire (transport.py: aiohttp's pool, called directly or under httpx)
answers as plain httpx does: the same Graph calls through each, against the sandbox over HTTP,
return the same status and parsed body, or raise the same error (class, Graph code and sub-code,
HTTP status, and the httpx exception it came from), and read the same usage headers."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from instasched.config import Settings
from instasched.integrations.instagram import GraphClient, GraphError
from instasched.integrations.instagram.transport import AiohttpTransport
from instasched.integrations.instagram.versions import DEFAULT_VERSION as GRAPH_VERSION
from instasched.integrations.storage.s3 import Storage
from tests.conftest import LiveServer
from tests.factories import Api
from tests.media.files import jpeg_bytes

WIRES = ("aiohttp", "aiohttp under httpx", "httpx")


def _client(base_url: str, wire: str, *, timeout: float = 10) -> GraphClient:
    transport: httpx.AsyncBaseTransport | None = {
        "aiohttp": None,  # the default: AiohttpTransport.send, without httpx's client
        "aiohttp under httpx": AiohttpTransport(),  # handle_async_request
        "httpx": httpx.AsyncHTTPTransport(),  # httpcore's pool: the library
    }[wire]
    return GraphClient(
        base_url=base_url, version=GRAPH_VERSION, timeout=timeout, transport=transport
    )


@pytest.fixture
async def clients(live_server: LiveServer) -> AsyncIterator[dict[str, GraphClient]]:
    made = {wire: _client(f"{live_server.url}/sandbox", wire) for wire in WIRES}
    try:
        yield made
    finally:
        for client in made.values():
            await client.close()


async def _outcome(client: GraphClient, method: str, path: str, **kw: Any) -> tuple[Any, ...]:
    """What the client makes of one call: ("ok", status, body) or the error it raises."""
    try:
        body, status, _headers = await client._request(
            method,
            path,
            kw.get("token"),
            kw.get("params"),
            kw.get("data"),
            kw.get("versioned", True),
            kw.get("url"),
        )
    except GraphError as exc:
        cause = exc.__cause__
        return (
            "error",
            type(exc).__name__,
            exc.code,
            exc.subcode,
            exc.status_code,
            exc.retryable,
            type(cause).__name__ if cause is not None else None,
        )
    return ("ok", status, body)


async def _same(clients: dict[str, GraphClient], method: str, path: str, **kw: Any) -> Any:
    outcomes = {
        wire: await _outcome(client, method, path, **kw) for wire, client in clients.items()
    }
    assert outcomes["aiohttp"] == outcomes["httpx"], outcomes
    assert outcomes["aiohttp under httpx"] == outcomes["httpx"], outcomes
    return outcomes["httpx"]


async def test_reads_writes_and_graph_errors_are_the_same_on_every_wire(
    api: Api, clients: dict[str, GraphClient], app_settings: Settings
) -> None:
    sb = await api.sandbox_user()
    token, ig = sb["accessToken"], sb["igUserId"]
    # Reads: query parameters (a list as JSON), the body parsed alike.
    me = await _same(clients, "GET", "me", token=token, params={"fields": "user_id,username"})
    assert me[0] == "ok" and me[2]["user_id"] == ig
    limit = await _same(
        clients,
        "GET",
        f"{ig}/content_publishing_limit",
        token=token,
        params={"fields": ["quota_usage", "config"]},
    )
    assert limit[:2] == ("ok", 200)
    # Graph errors: a bad token (190), an object that does not exist, a route the host lacks
    # (HTTP 404 without Meta's error body), a form refused for a missing parameter.
    assert (await _same(clients, "GET", "me", token="IGSLnot-a-token-000000000000"))[:3] == (
        "error",
        "GraphAuthError",
        190,
    )
    assert (await _same(clients, "GET", "99999999999999999", token=token))[0] == "error"
    assert (await _same(clients, "GET", "no/such/route", token=token, versioned=False))[4] == 404
    refused = await _same(
        clients, "POST", f"{ig}/media", token=token, data={"caption": "é & ü = ?#%", "x": True}
    )
    assert refused[0] == "error" and refused[4] == 400
    # A form that succeeds: one container per wire, each answering the same status and fields.
    storage = Storage.for_settings(app_settings)
    await storage.start()
    key = f"transport-test/{secrets.token_hex(4)}/photo.jpg"
    try:
        await storage.ensure_bucket()
        await storage.put_bytes(key, jpeg_bytes(), "image/jpeg")
        url = await storage.presign_get(key, 600)
        made = {
            wire: await _outcome(
                client,
                "POST",
                f"{ig}/media",
                token=token,
                data={"image_url": url, "caption": "Café ☕ #one @two & more"},
            )
            for wire, client in clients.items()
        }
        assert {(o[0], o[1], tuple(o[2])) for o in made.values()} == {("ok", 200, ("id",))}
        statuses = [
            await _outcome(
                clients[wire], "GET", o[2]["id"], token=token, params={"fields": "status_code"}
            )
            for wire, o in made.items()
        ]
        assert {(s[0], s[1], s[2]["status_code"]) for s in statuses} == {("ok", 200, "FINISHED")}
    finally:
        await storage.delete(key)
        await storage.close()


async def test_server_errors_timeouts_and_usage_headers_are_the_same(
    api: Api, http: httpx.AsyncClient, live_server: LiveServer, clients: dict[str, GraphClient]
) -> None:
    sb = await api.sandbox_user()
    token, ig = sb["accessToken"], sb["igUserId"]
    # Meta's code 2 (HTTP 500): retryable on every wire.
    r = await http.post(
        "/sandbox/_control/faults",
        json={
            "igUserId": ig,
            "endpoint": "media_publish",
            "count": len(WIRES),
            "error": {"code": 2, "subcode": None, "message": "Service temporarily unavailable"},
        },
    )
    assert r.status_code in (200, 201), r.text
    failed = await _same(
        clients, "POST", f"{ig}/media_publish", token=token, data={"creation_id": "1"}
    )
    assert failed[:6] == ("error", "GraphRetryableError", 2, None, 500, True)
    # Usage headers read alike.
    try:
        assert (
            await http.put("/sandbox/_control/usage", json={"callCount": 60})
        ).status_code == 200
        await _same(clients, "GET", "me", token=token, params={"fields": "user_id"})
        assert {c.usage_percent for c in clients.values()} == {60.0}
    finally:
        await http.put("/sandbox/_control/usage", json={"callCount": None})
    # A call slower than the client's read timeout: ReadTimeout under a retryable error.
    slow = {wire: _client(f"{live_server.url}/sandbox", wire, timeout=0.3) for wire in WIRES}
    try:
        r = await http.post(
            "/sandbox/_control/faults",
            json={"igUserId": ig, "endpoint": "media", "count": len(WIRES), "latencyMs": 1500},
        )
        assert r.status_code in (200, 201), r.text
        timed_out = await _same(slow, "POST", f"{ig}/media", token=token, data={"caption": "x"})
        assert timed_out == ("error", "GraphRetryableError", None, None, None, True, "ReadTimeout")
    finally:
        await http.delete("/sandbox/_control/faults", params={"igUserId": ig})
        for client in slow.values():
            await client.close()


async def test_an_unreachable_host_is_the_same_error_on_every_wire() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = {wire: _client(f"http://127.0.0.1:{port}", wire) for wire in WIRES}
    try:
        outcome = await _same(closed, "GET", "me", token="t")
        assert outcome == ("error", "GraphRetryableError", None, None, None, True, "ConnectError")
    finally:
        for client in closed.values():
            await client.close()
