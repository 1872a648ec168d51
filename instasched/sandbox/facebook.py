"""The sandbox's graph.facebook.com: Facebook Login for Business, Pages, Page tokens.

The sandbox app serves both Graph hosts. Everything under `/facebook` is graph.facebook.com (and
the www.facebook.com consent dialog): `FacebookHost` strips the prefix, as a mount would, and
marks the request's host (`state.GRAPH_HOST`), so the same publishing routes answer on both hosts
while a token only works on the host that issued it (Meta answers error 190 otherwise), and
publishing parameters Meta allows only with Facebook Login (`login_kinds.FEATURES`) are refused
on graph.instagram.com (media.py).

Routes here (after the prefix): the consent dialog `GET /{version}/dialog/oauth`, the code and
long-lived exchanges `GET /{version}/oauth/access_token`, `GET /{version}/me/accounts` (Pages with
Page tokens and linked IG accounts), `GET /{version}/{ig-user-id}` (the account's fields, both
hosts), and the control route `POST /_control/facebook/users` (a Facebook user with Pages).
Deviation: Meta also accepts a Facebook *user* token on the IG user's publishing endpoints; the
sandbox accepts Page tokens there (what instasched stores).
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.convertors import register_url_convertor
from starlette.types import ASGIApp, Receive, Scope, Send

from instasched.sandbox.app import ConsentQuery, may_sign_in
from instasched.sandbox.media_state import ObjectId
from instasched.sandbox.state import (
    FACEBOOK_SUBJECT,
    GRAPH_HOST,
    GraphFault,
    SandboxState,
    SandboxToken,
    owner_check,
    route_path,
    sandbox,
)

PREFIX = "/facebook"
FACEBOOK = "facebook"
INSTAGRAM = "instagram"
SCOPES_GRANTED = (
    "instagram_basic,instagram_content_publish,pages_read_engagement,pages_show_list,"
    "instagram_manage_insights,instagram_manage_comments"
)

router = APIRouter()


class IgUserId(ObjectId):
    """Instagram user ids (178414…), apart from container and media ids (18…)."""

    regex = r"1784[0-9]{13}"


register_url_convertor("iguser", IgUserId())


class FacebookHost:
    """`/facebook/...` is graph.facebook.com: strip the prefix (into `root_path`, like a mount)
    and mark the host for the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if path == PREFIX or path.startswith(PREFIX + "/"):
            scope = {**scope, "root_path": scope.get("root_path", "") + PREFIX}
            token = GRAPH_HOST.set(FACEBOOK)
        else:
            token = GRAPH_HOST.set(INSTAGRAM)
        try:
            await self.app(scope, receive, send)
        finally:
            GRAPH_HOST.reset(token)


def only_on(host: str) -> None:
    """Meta's answer to a path its other host does not have."""
    if GRAPH_HOST.get() != host:
        raise GraphFault("Unknown path components", code=2500)


# --- control ----------------------------------------------------------------------------------
class PageIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    # The Instagram professional account linked to the Page (created when new); None: no link.
    ig_username: str | None = Field(
        None, alias="igUsername", min_length=1, max_length=30, pattern=r"^[A-Za-z0-9._]+$"
    )
    followers: int = Field(1000, ge=0)
    timezone: str = "UTC"


class FacebookUserIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    name: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9._]+$")
    pages: list[PageIn] = Field(default_factory=list, max_length=50)


@router.post("/_control/facebook/users", status_code=201, tags=["Sandbox control"])
async def create_facebook_user(body: FacebookUserIn, request: Request) -> dict[str, Any]:
    """A Facebook user with Pages (each linked to a new Instagram account, or none), a
    long-lived user token and each Page's token (no expiry): for tests of the picker and of
    graph.facebook.com."""
    sb = sandbox(request)
    user = sb.create_facebook_user(body.name)
    user_token = sb.issue_token(FACEBOOK_SUBJECT + user.fb_user_id, long_lived=True, host=FACEBOOK)
    pages = []
    for item in body.pages:
        ig = None
        if item.ig_username:
            ig = sb.create_user(item.ig_username, item.timezone, item.followers)
        page = sb.add_page(user.fb_user_id, item.name, ig.ig_user_id if ig else None)
        pages.append(
            {
                "pageId": page.page_id,
                "name": page.name,
                "igUserId": page.ig_user_id,
                "igUsername": ig.username if ig else None,
                "accessToken": sb.page_token(page, user_token).token,
            }
        )
    return {
        "fbUserId": user.fb_user_id,
        "name": user.name,
        "accessToken": user_token.token,
        "pages": pages,
    }


# --- the consent dialog (www.facebook.com/{version}/dialog/oauth) ---------------------------------
@router.get("/{version:graphver}/dialog/oauth", tags=["Graph API"])
async def dialog(
    version: str, request: Request, query: Annotated[ConsentQuery, Depends()]
) -> RedirectResponse:
    """Facebook Login for Business, approved at once: redirects back with a code.

    `username` picks the sandbox's Facebook user who "logs in" (created when new, with one Page
    linked to a new Instagram account of that name). Outside development and test only the
    operator may pick an existing one.
    """
    only_on(FACEBOOK)
    if not query.redirect_uri:
        raise GraphFault("redirect_uri is required", code=100)
    if not query.client_id:
        raise GraphFault("Invalid App ID", code=101)
    sb = sandbox(request)
    name = query.username or f"fb_{secrets.token_hex(3)}"
    user = sb.facebook_user_named(name)
    may_sign_in(request, exists=user is not None, who=f"The sandbox's Facebook user {name}")
    if user is None:
        user = sb.create_facebook_user(name)
        ig = sb.create_user(name)
        sb.add_page(user.fb_user_id, f"{name} Page", ig.ig_user_id)
    subject = FACEBOOK_SUBJECT + user.fb_user_id
    return RedirectResponse(
        sb.redirect_with_code(subject, query.redirect_uri, query.state), status_code=302
    )


# --- tokens -------------------------------------------------------------------------------------
@router.get("/{version:graphver}/oauth/access_token", tags=["Graph API"])
async def access_token(
    version: str,
    request: Request,
    client_id: str = "",
    client_secret: str = "",
    redirect_uri: str | None = None,
    code: str | None = None,
    grant_type: str | None = None,
    fb_exchange_token: str | None = None,
) -> dict[str, Any]:
    """The code → a short-lived user token; or `grant_type=fb_exchange_token` → a long-lived
    one (about 60 days)."""
    only_on(FACEBOOK)
    sb = sandbox(request)
    if not client_id or not client_secret:
        raise GraphFault("Missing client_id or client_secret", code=101)
    if grant_type == "fb_exchange_token":
        record = sb.token_record(fb_exchange_token)
        if record.page_id is not None or not record.ig_user_id.startswith(FACEBOOK_SUBJECT):
            raise GraphFault("(#100) fb_exchange_token must be a user access token", code=100)
        token = sb.issue_token(record.ig_user_id, long_lived=True, host=FACEBOOK)
    elif grant_type is not None:
        raise GraphFault("Unsupported grant_type", code=100)
    else:
        subject = sb.redeem_code(code or "", redirect_uri, facebook=True)
        token = sb.issue_token(subject, long_lived=False, host=FACEBOOK)
    return {
        "access_token": token.token,
        "token_type": "bearer",
        "expires_in": int(token.expires_at - time.time()),
    }


def _facebook_user_token(sb: SandboxState, token: str | None) -> SandboxToken:
    record = sb.token_record(token)
    if record.page_id is not None:
        raise GraphFault(
            "(#100) Tried accessing nonexisting field (accounts) on node type (Page)", code=100
        )
    return record


@router.get("/{version:graphver}/me/accounts", tags=["Graph API"])
async def me_accounts(
    version: str,
    request: Request,
    access_token: str | None = None,
    fields: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    after: str | None = None,
) -> dict[str, Any]:
    """The user's Pages; with `fields` asking for them, each Page's token and its
    `instagram_business_account{id,username}`. Cursor paging as Meta's."""
    only_on(FACEBOOK)
    sb = sandbox(request)
    record = _facebook_user_token(sb, access_token)
    fb_user_id = record.ig_user_id.removeprefix(FACEBOOK_SUBJECT)
    wanted = fields or "id,name"
    pages = sorted(sb.pages.of(fb_user_id), key=lambda p: int(p.page_id))
    start = int(after) if after and after.isdigit() else 0
    chunk = pages[start : start + limit]
    data = []
    for page in chunk:
        item: dict[str, Any] = {"id": page.page_id}
        if "name" in wanted:
            item["name"] = page.name
        if "access_token" in wanted:
            item["access_token"] = sb.page_token(page, record).token
        if "instagram_business_account" in wanted and page.ig_user_id:
            ig = sb.users.get(page.ig_user_id)
            account: dict[str, Any] = {"id": page.ig_user_id}
            if ig is not None and "username" in wanted:
                account["username"] = ig.username
            item["instagram_business_account"] = account
        data.append(item)
    body: dict[str, Any] = {"data": data}
    if data:
        end = start + len(chunk)
        body["paging"] = {"cursors": {"before": str(start), "after": str(end)}}
        if end < len(pages):
            body["paging"]["next"] = str(request.url.include_query_params(after=str(end)))
    return body


def facebook_me(sb: SandboxState, token: str | None, fields: str | None) -> dict[str, Any]:
    """`/me` on graph.facebook.com: the Facebook user (user token) or the Page (Page token)."""
    record = sb.token_record(token)
    if record.page_id is not None:
        page = sb.pages.get(record.page_id)
        if page is None:
            raise GraphFault("Invalid OAuth access token - Cannot parse access token", code=190)
        wanted = fields or "name"
        body: dict[str, Any] = {"id": page.page_id}
        if "name" in wanted:
            body["name"] = page.name
        if "instagram_business_account" in wanted and page.ig_user_id:
            ig = sb.users.get(page.ig_user_id)
            body["instagram_business_account"] = {"id": page.ig_user_id}
            if ig is not None and "username" in wanted:
                body["instagram_business_account"]["username"] = ig.username
        return body
    user = sb.fb_users.get(record.ig_user_id.removeprefix(FACEBOOK_SUBJECT))
    if user is None:
        raise GraphFault("Invalid OAuth access token - Cannot parse access token", code=190)
    if fields and "instagram_business_account" in fields:
        raise GraphFault(
            "(#100) Tried accessing nonexisting field (instagram_business_account) on node type "
            "(User)",
            code=100,
        )
    return {"id": user.fb_user_id, "name": user.name}


@router.get("/{version:graphver}/{ig_user_id:iguser}", tags=["Graph API"])
async def ig_user(
    version: str,
    ig_user_id: str,
    request: Request,
    access_token: str | None = None,
    fields: str | None = None,
) -> dict[str, Any]:
    """An Instagram professional account's fields (either host; its own token only)."""
    sb = sandbox(request)
    user = owner_check(sb, access_token, ig_user_id, get=True)
    wanted = {f.strip() for f in (fields or "id").split(",")}
    body: dict[str, Any] = {"id": user.ig_user_id}
    if "username" in wanted:
        body["username"] = user.username
    if "followers_count" in wanted:
        body["followers_count"] = user.followers
    if "user_id" in wanted and GRAPH_HOST.get() == INSTAGRAM:
        body["user_id"] = user.ig_user_id
    return body


def install(app: FastAPI) -> None:
    """Called by `create_sandbox_app` (the `FacebookHost` middleware is added there, last, so
    that it runs first)."""
    app.include_router(router)
