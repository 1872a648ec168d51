"""The MCP server (issue 21), driven by the SDK's own client against the real server: streamable
HTTP at /api/mcp with an API key, and `instasched mcp` over stdio. Tool inputs are the API's
schemas; tool errors are the API's messages."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from instasched.mcp_server import tools
from tests.automation.conftest import bearer, new_key
from tests.factories import Api, User
from tests.media.files import jpeg_bytes

TOOLS = {
    "list_accounts",
    "upload_media_from_url",
    "create_post",
    "update_post",
    "cancel_post",
    "list_posts",
    "fill_template",
    "best_times",
    "next_free_slot",
    "post_history",
}


@asynccontextmanager
async def mcp_client(base_url: str, key: str) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers=bearer(key), timeout=60)
    async with http, Client(streamable_http_client(f"{base_url}/api/mcp", http_client=http)) as c:
        yield c


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    content = result.structured_content
    if isinstance(content, dict) and set(content) == {"result"}:
        return content["result"]
    return content


async def error_of(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result
    return str(result.content[0].text)  # type: ignore[union-attr]


class FileServer:
    """A real local HTTP server serving one file (upload_media_from_url's source)."""

    def __init__(self, data: bytes, mime: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", mime)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/photos/aurora.jpg"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


async def _template(http: httpx.AsyncClient, user: User) -> str:
    r = await http.post(
        "/api/instagram/scheduling/templates",
        json={"name": "Launch", "captionTemplate": "Introducing {{product}}! #launch"},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_mcp_needs_an_api_key(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({}, user.headers, bearer("isk_" + "0" * 32 + "_nope")):
        r = await http.post("/api/mcp", json=body, headers=headers)
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "unauthorized"
    revoked = await new_key(http, user, ["read"])
    await http.delete(f"/api/auth/api-keys/{revoked['id']}", headers=user.headers)
    r = await http.post("/api/mcp", json=body, headers=bearer(revoked["key"]))
    assert r.status_code == 401 and "revoked" in r.json()["message"]


async def test_the_tools_over_streamable_http(
    api: Api, http: httpx.AsyncClient, live_server: Any
) -> None:
    user = await api.user()
    account = await api.account(user, timezone="Europe/Paris")
    key = (await new_key(http, user, ["read", "write", "publish"]))["key"]
    template_id = await _template(http, user)
    r = await http.post(
        f"/api/instagram/scheduling/schedules/{account.id}",
        json={"dayOfWeek": 3, "timeSlots": ["09:00"], "timezone": "Europe/Paris"},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text

    async with mcp_client(live_server.url, key) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS

        [listed] = await call(client, "list_accounts")
        assert listed["id"] == str(account.id) and listed["username"] == account.username
        assert listed["publishedLast24h"] == 0
        assert listed["quotaLeft"] == listed["quota"] and listed["quota"] > 0
        assert "Instagram Login" in listed["loginKindAllows"]

        with FileServer(jpeg_bytes(1080, 1080), "image/jpeg") as source:
            media = await call(
                client, "upload_media_from_url", url=source.url, account_id=str(account.id)
            )
        assert media["mimeType"] == "image/jpeg" and media["originalFilename"] == "aurora.jpg"

        filled = await call(
            client, "fill_template", template_id=template_id, variables={"product": "Aurora"}
        )
        assert filled["caption"] == "Introducing Aurora! #launch"

        slot = await call(client, "next_free_slot", account_id=str(account.id))
        when = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
        post = await call(
            client,
            "create_post",
            post={
                "instagramAccountId": str(account.id),
                "mediaType": "IMAGE",
                "mediaIds": [media["id"]],
                "templateId": template_id,
                "templateVariables": {"product": "the Aurora lamp"},
                "scheduledFor": when.isoformat(),
            },
        )
        assert post["caption"] == "Introducing the Aurora lamp! #launch"
        assert post["status"] == "scheduled"
        assert slot["scheduledFor"] is not None and "09:00" in slot["localTime"], slot

        updated = await call(
            client, "update_post", post_id=post["id"], changes={"caption": "Aurora #launch"}
        )
        assert updated["caption"] == "Aurora #launch"
        page = await call(client, "list_posts", account_id=str(account.id), status="scheduled")
        assert [p["id"] for p in page["posts"]] == [post["id"]]
        times = await call(client, "best_times", account_id=str(account.id))
        assert times
        await call(client, "cancel_post", post_id=post["id"])
        history = await call(client, "post_history", account_id=str(account.id), post_id=post["id"])
        assert history["status"] == "cancelled" and history["cancelledAt"] is not None
        assert [e["kind"] for e in history["events"]][-1] == "cancelled"
        assert history["events"][0]["kind"] == "created"

        # Errors are the API's messages.
        message = await error_of(
            client,
            "create_post",
            post={
                "instagramAccountId": str(account.id),
                "mediaType": "IMAGE",
                "mediaIds": [media["id"]],
                "caption": "too soon",
                "scheduledFor": datetime.now(UTC).isoformat(),
            },
        )
        assert "scheduledFor must be at least 5 minutes" in message and "HTTP 422" in message
        message = await error_of(client, "cancel_post", post_id=post["id"])
        assert "Only scheduled" in message and "(it was cancelled) (HTTP 409)" in message
        message = await error_of(client, "upload_media_from_url", url="http://127.0.0.1:9/a.jpg")
        assert "Downloading http://127.0.0.1:9/a.jpg failed (ConnectError" in message


async def test_upload_from_url_refuses_private_addresses() -> None:
    """The SSRF guard of webhooks guards the downloads too (private targets allowed only when
    configured, as in these tests' server)."""
    async with httpx.AsyncClient() as unused:
        server = tools.build_server(
            tools.Api(unused, lambda _ctx: "isk_unused", allow_private_urls=False)
        )
        async with Client(server) as client:
            for url in ("http://127.0.0.1:9/a.jpg", "http://169.254.169.254/latest/meta-data"):
                message = await error_of(client, "upload_media_from_url", url=url)
                assert "a private, loopback or link-local address" in message, message


async def test_a_read_only_key_cannot_write_through_mcp(
    api: Api, http: httpx.AsyncClient, live_server: Any
) -> None:
    user = await api.user()
    account = await api.account(user)
    key = (await new_key(http, user, ["read"]))["key"]
    async with mcp_client(live_server.url, key) as client:
        assert len(await call(client, "list_accounts")) == 1
        message = await error_of(
            client,
            "create_post",
            post={
                "instagramAccountId": str(account.id),
                "mediaType": "IMAGE",
                "mediaIds": [],
                "caption": "x",
                "useNextSlot": True,
            },
        )
        # The SDK names the tool; the rest is the API's answer.
        assert message.startswith(
            "Error executing tool create_post: this API key lacks the 'write' scope (HTTP 403)"
        ), message


async def test_instasched_mcp_over_stdio(
    api: Api, http: httpx.AsyncClient, live_server: Any
) -> None:
    user = await api.user()
    account = await api.account(user)
    key = (await new_key(http, user, ["read"]))["key"]
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PYTHONPATH")},
        "INSTASCHED_URL": live_server.url,
        "INSTASCHED_API_KEY": key,
        "INSTASCHED_ENV": "test",
        "LOG_LEVEL": "WARNING",
    }
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "instasched", "mcp"], env=env, cwd=os.getcwd()
    )
    async with Client(params) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        [listed] = await call(client, "list_accounts")
        assert listed["id"] == str(account.id)
        message = await error_of(client, "post_history", account_id=str(account.id),
                                 post_id="00000000-0000-0000-0000-000000000000")  # fmt: skip
        assert message.endswith(": Scheduled post not found (HTTP 404)"), message
    assert json.dumps(listed)


async def test_mcp_acts_in_the_workspace_named(
    api: Api, http: httpx.AsyncClient, live_server: Any
) -> None:
    """`/api/mcp` passes on the request's X-Workspace-Id; `instasched mcp` sends
    INSTASCHED_WORKSPACE_ID (docs/workspaces.md)."""
    user = await api.user()
    personal = await api.account(user)
    r = await http.post("/api/workspaces", json={"name": "MCP team"}, headers=user.headers)
    assert r.status_code == 201, r.text
    team = r.json()["id"]
    sb = await api.sandbox_user()
    r = await http.post(
        "/api/instagram/accounts",
        json={"accessToken": sb["accessToken"]},
        headers={**user.headers, "X-Workspace-Id": team},
    )
    assert r.status_code == 201, r.text
    shared = r.json()["id"]
    key = (await new_key(http, user, ["read"]))["key"]

    async with mcp_client(live_server.url, key) as client:
        [listed] = await call(client, "list_accounts")
        assert listed["id"] == str(personal.id)
    headers = {**bearer(key), "X-Workspace-Id": team}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as h,
        Client(streamable_http_client(f"{live_server.url}/api/mcp", http_client=h)) as client,
    ):
        [listed] = await call(client, "list_accounts")
        assert listed["id"] == shared

    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PYTHONPATH")},
        "INSTASCHED_URL": live_server.url,
        "INSTASCHED_API_KEY": key,
        "INSTASCHED_WORKSPACE_ID": team,
        "INSTASCHED_ENV": "test",
        "LOG_LEVEL": "WARNING",
    }
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "instasched", "mcp"], env=env, cwd=os.getcwd()
    )
    async with Client(params) as client:
        [listed] = await call(client, "list_accounts")
        assert listed["id"] == shared
