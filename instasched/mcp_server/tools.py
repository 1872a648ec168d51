"""The MCP tools: each is one or two calls of the API with the caller's key."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from instasched import __version__
from instasched.exceptions import Invalid
from instasched.kit.ssrf import check_public_url
from instasched.posts.schemas import PostCreate, PostUpdate, StatusName
from instasched.workspaces.access import WORKSPACE_HEADER

POSTS = "/api/instagram/scheduling/posts"
SCHEDULING = "/api/instagram/scheduling"
API_KEY_ENV = "INSTASCHED_API_KEY"

# What each login kind lets an account do (Meta's two Instagram APIs; /work docs:
# instagram-graph-api.md, "Two logins, two hosts").
LOGIN_KIND_ALLOWS = {
    "instagram": "Instagram Login (no Facebook Page): publish images, reels, carousels and "
    "stories, first comments, collaborators, alt text; insights. No product tags.",
    "facebook": "Facebook Login for Business (through the linked Facebook Page): the same "
    "publishing and insights, and product tags from the Page's catalog.",
}


class Api:
    """The API as the tools call it: `client` reaches the API (in process or over HTTP),
    `key_of(ctx)` is the caller's API key and `workspace_of(ctx)` the workspace to act in (sent
    as X-Workspace-Id; None: the key's user's personal workspace)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        key_of: Callable[[Context | None], str | None],
        *,
        allow_private_urls: bool = False,
        max_download_bytes: int = 100 * 1024 * 1024,
        workspace_of: Callable[[Context | None], str | None] = lambda _ctx: None,
    ) -> None:
        self.client = client
        self.key_of = key_of
        self.workspace_of = workspace_of
        self.allow_private_urls = allow_private_urls
        self.max_download_bytes = max_download_bytes

    async def call(self, ctx: Context | None, method: str, path: str, **kwargs: Any) -> Any:
        key = self.key_of(ctx)
        if not key:
            raise ToolError(
                "Missing API key: send Authorization: Bearer <API key> (or set "
                f"{API_KEY_ENV} for `instasched mcp`); create one with POST /api/auth/api-keys"
            )
        headers = {"Authorization": f"Bearer {key}"}
        workspace = self.workspace_of(ctx)
        if workspace:
            headers[WORKSPACE_HEADER] = workspace
        response = await self.client.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 400:
            raise ToolError(_api_error(response))
        if response.status_code == 204 or not response.content:
            return None
        return response.json()


def _api_error(response: httpx.Response) -> str:
    """The API's own error: its message, then its `detail` (which field, what limit)."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:500]}"
    message = body.get("message") or body.get("error") or response.reason_phrase
    text = f"{message} (HTTP {response.status_code})"
    if body.get("detail") is not None:
        text += f"; detail: {json.dumps(body['detail'], ensure_ascii=False)}"
    return str(text)


def build_server(api: Api) -> MCPServer:
    server = MCPServer(
        name="instasched",
        version=__version__,
        instructions="Schedule and publish Instagram posts with instasched. Times are ISO 8601; "
        "without an offset they are read in the account's timezone. Upload media first "
        "(upload_media_from_url), then create posts with its id.",
    )

    @server.tool()
    async def list_accounts(ctx: Context) -> list[dict[str, Any]]:
        """Your connected Instagram accounts, each with its publishing quota left in the last
        24 h (`quotaLeft`; `quota` is Instagram's limit as last read) and what its login kind
        allows (`loginKindAllows`)."""
        accounts: list[dict[str, Any]] = await api.call(ctx, "GET", "/api/instagram/accounts")
        since = (datetime.now(UTC) - timedelta(hours=24)).isoformat()
        for account in accounts:
            published = await api.call(
                ctx,
                "GET",
                f"{POSTS}/{account['id']}",
                params={"status": "published", "scheduledAfter": since, "limit": 100},
            )
            used = int(published.get("total", len(published.get("posts", []))))
            quota = account.get("publishingQuota")
            account["quota"] = quota
            account["publishedLast24h"] = used
            account["quotaLeft"] = None if quota is None else max(0, int(quota) - used)
            account["loginKindAllows"] = LOGIN_KIND_ALLOWS.get(str(account.get("loginKind")), "")
        return accounts

    @server.tool()
    async def upload_media_from_url(
        url: str, ctx: Context, account_id: uuid.UUID | None = None, tags: str | None = None
    ) -> dict[str, Any]:
        """Download an image or video from a public http(s) URL and add it to your media
        library (as POST /api/instagram/scheduling/media/upload). Returns the media asset; use
        its `id` in `mediaIds` of create_post."""
        try:
            await check_public_url(url, api.allow_private_urls)
        except Invalid as exc:
            raise ToolError(exc.message) from None
        data, mime = await _download(url, api.max_download_bytes)
        name = os.path.basename(urlsplit(url).path) or "media"
        files = {"file": (name, data, mime)}
        params = {"accountId": str(account_id)} if account_id else None
        form = {"tags": tags} if tags else None
        result: dict[str, Any] = await api.call(
            ctx, "POST", f"{SCHEDULING}/media/upload", files=files, data=form, params=params
        )
        return result

    @server.tool()
    async def create_post(post: PostCreate, ctx: Context) -> dict[str, Any]:
        """Schedule a post (the body of POST /api/instagram/scheduling/posts: scheduledFor or
        useNextSlot, mediaIds, caption or templateId + templateVariables, ...)."""
        result: dict[str, Any] = await api.call(ctx, "POST", POSTS, json=_body(post))
        return result

    @server.tool()
    async def update_post(post_id: uuid.UUID, changes: PostUpdate, ctx: Context) -> dict[str, Any]:
        """Change a scheduled post (PUT /api/instagram/scheduling/posts/{postId})."""
        result: dict[str, Any] = await api.call(
            ctx, "PUT", f"{POSTS}/{post_id}", json=_body(changes)
        )
        return result

    @server.tool()
    async def cancel_post(post_id: uuid.UUID, ctx: Context) -> dict[str, Any]:
        """Cancel a scheduled post (DELETE /api/instagram/scheduling/posts/{postId})."""
        result: dict[str, Any] = await api.call(ctx, "DELETE", f"{POSTS}/{post_id}")
        return result

    @server.tool()
    async def list_posts(
        account_id: uuid.UUID,
        ctx: Context,
        status: StatusName | None = None,
        scheduled_after: str | None = None,
        scheduled_before: str | None = None,
        page: int = 1,
        limit: int = 20,
    ) -> dict[str, Any]:
        """An account's posts in scheduled order, optionally by status and time range."""
        params: dict[str, Any] = {"page": page, "limit": limit}
        for name, value in (
            ("status", status),
            ("scheduledAfter", scheduled_after),
            ("scheduledBefore", scheduled_before),
        ):
            if value is not None:
                params[name] = value
        result: dict[str, Any] = await api.call(ctx, "GET", f"{POSTS}/{account_id}", params=params)
        return result

    @server.tool()
    async def fill_template(
        template_id: uuid.UUID, variables: dict[str, str], ctx: Context
    ) -> dict[str, Any]:
        """Render a caption template with variables; the answer lists missing variables."""
        result: dict[str, Any] = await api.call(
            ctx,
            "POST",
            f"{SCHEDULING}/templates/{template_id}/render",
            json={"variables": variables},
        )
        return result

    @server.tool()
    async def best_times(account_id: uuid.UUID, ctx: Context) -> dict[str, Any]:
        """The account's best times to post, by day of week and hour."""
        result: dict[str, Any] = await api.call(
            ctx, "GET", f"{SCHEDULING}/optimal-times/{account_id}"
        )
        return result

    @server.tool()
    async def next_free_slot(account_id: uuid.UUID, ctx: Context) -> dict[str, Any]:
        """The next free slot of the account's posting schedule."""
        result: dict[str, Any] = await api.call(
            ctx, "GET", f"{SCHEDULING}/schedules/{account_id}/next-slot"
        )
        return result

    @server.tool()
    async def post_history(
        account_id: uuid.UUID, post_id: uuid.UUID, ctx: Context
    ) -> dict[str, Any]:
        """What happened to a post: its status, times, the permalink once published, and its
        timeline (created, edited, staged, each Graph call with Meta's error code and
        fbtrace_id, retries, published, metrics read)."""
        post: dict[str, Any] = await api.call(ctx, "GET", f"{POSTS}/{account_id}/{post_id}")
        history: dict[str, Any] = await api.call(ctx, "GET", f"{POSTS}/{post_id}/history")
        meta = post.get("metadata") or {}
        return {
            "postId": post["id"],
            "status": post["status"],
            "createdAt": post["createdAt"],
            "scheduledFor": post["scheduledFor"],
            "originalScheduledFor": meta.get("originalScheduledFor"),
            "publishedAt": post.get("publishedAt"),
            "cancelledAt": post.get("cancelledAt"),
            "permalink": post.get("permalink"),
            "publishAttempts": post.get("publishAttempts"),
            "attempts": meta.get("attempts", []),
            "lastPublishError": post.get("lastPublishError"),
            "events": history["events"],
        }

    return server


def _body(model: PostCreate | PostUpdate) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


async def _download(url: str, limit: int) -> tuple[bytes, str]:
    """The body and type of `url` (no redirects: each hop would need its own SSRF check)."""
    try:
        async with (
            httpx.AsyncClient(timeout=30, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise ToolError(f"Downloading {url} answered HTTP {response.status_code}")
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise ToolError(f"{url} is over {limit} bytes; upload it directly instead")
                chunks.append(chunk)
            mime = response.headers.get("content-type", "application/octet-stream")
    except httpx.HTTPError as exc:
        raise ToolError(f"Downloading {url} failed ({type(exc).__name__}: {exc})") from None
    return b"".join(chunks), mime.split(";")[0]
