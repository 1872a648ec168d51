"""The sandbox ASGI app: identity, tokens and OAuth here; media endpoints in `media.py`."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from instasched.config import Settings
from instasched.exceptions import Forbidden
from instasched.integrations.instagram import versions
from instasched.kit.surrogates import LoneSurrogateGuard
from instasched.sandbox.state import (
    GRAPH_HOST,
    SQLITE_FILE,
    GraphFault,
    SandboxState,
    invalid_token,
    route_path,
    sandbox,
)

CONTROL_SECRET_HEADER = "X-Sandbox-Control-Secret"

router = APIRouter()


class CreateUser(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    username: str = Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9._]+$")
    timezone: str = "UTC"
    followers: int = Field(1000, ge=0)


@router.post("/_control/users", status_code=201, tags=["Sandbox control"])
async def create_user(body: CreateUser, request: Request) -> dict[str, Any]:
    """Create a sandbox Instagram account and a long-lived token for it."""
    state = sandbox(request)
    user = state.create_user(body.username, body.timezone, body.followers)
    token = state.issue_token(user.ig_user_id, long_lived=True)
    return {
        "igUserId": user.ig_user_id,
        "username": user.username,
        "accessToken": token.token,
        "expiresIn": int(token.expires_at - time.time()),
    }


class AppUsage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    call_count: int | None = Field(None, alias="callCount", ge=0, le=100)


@router.put("/_control/usage", tags=["Sandbox control"])
async def set_app_usage(body: AppUsage, request: Request) -> dict[str, Any]:
    """Report this percentage of the app's rate budget in `X-App-Usage` (null: no header)."""
    sandbox(request).app_usage = body.call_count
    return {"callCount": body.call_count}


@router.post("/_control/users/{ig_user_id}/revoke", tags=["Sandbox control"])
async def revoke_tokens(ig_user_id: str, request: Request) -> dict[str, Any]:
    """Invalidate every token of a user (the next Graph call answers error 190)."""
    return {"revoked": sandbox(request).revoke_user_tokens(ig_user_id)}


class AgeToken(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    access_token: str = Field(alias="accessToken", min_length=1)
    seconds: int = Field(ge=0, le=10 * 365 * 86400)


@router.post("/_control/tokens/age", tags=["Sandbox control"])
async def age_token(body: AgeToken, request: Request) -> dict[str, Any]:
    """Make a token older: moves its issue and expiry times back by `seconds`.

    Lets tests exercise the >= 24 h refresh rule and expiry for real, without waiting.
    """
    tokens = sandbox(request).tokens
    record = tokens.get(body.access_token)
    if record is None:
        raise invalid_token()
    record.issued_at -= body.seconds
    record.expires_at -= body.seconds
    tokens[record.token] = record
    return {
        "accessToken": record.token,
        "ageSeconds": int(time.time() - record.issued_at),
        "expiresIn": int(record.expires_at - time.time()),
    }


@router.post("/_control/tokens/short-lived", tags=["Sandbox control"])
async def short_lived_token(request: Request, body: dict[str, str]) -> dict[str, Any]:
    """A short-lived (1 h) token for an existing sandbox user, to test the exchange."""
    state = sandbox(request)
    ig_user_id = body.get("igUserId", "")
    if ig_user_id not in state.users:
        raise GraphFault("Unknown igUserId", code=100)
    token = state.issue_token(ig_user_id, long_lived=False)
    return {"accessToken": token.token, "expiresIn": int(token.expires_at - time.time())}


def _me(request: Request, access_token: str | None, fields: str | None) -> dict[str, Any]:
    if GRAPH_HOST.get() == "facebook":
        from instasched.sandbox.facebook import facebook_me

        return facebook_me(sandbox(request), access_token, fields)
    user, _ = sandbox(request).user_for_token(access_token)
    wanted = set((fields or "user_id,username").split(","))
    body: dict[str, Any] = {"id": user.ig_user_id}
    if "user_id" in wanted:
        body["user_id"] = user.ig_user_id
    if "username" in wanted:
        body["username"] = user.username
    if "followers_count" in wanted:
        body["followers_count"] = user.followers
    if "account_type" in wanted:
        body["account_type"] = "BUSINESS"
    return body


@router.get("/me", tags=["Graph API"])
async def me(
    request: Request, access_token: str | None = None, fields: str | None = None
) -> dict[str, Any]:
    return _me(request, access_token, fields)


@router.get("/{version}/me", tags=["Graph API"])
async def me_versioned(
    version: str, request: Request, access_token: str | None = None, fields: str | None = None
) -> dict[str, Any]:
    return _me(request, access_token, fields)


@router.get("/access_token", tags=["Graph API"])
async def exchange_token(
    request: Request,
    grant_type: str = "",
    access_token: str | None = None,
    client_secret: str | None = None,
) -> dict[str, Any]:
    """Short-lived → long-lived token (`grant_type=ig_exchange_token`)."""
    instagram_only()
    if grant_type != "ig_exchange_token":
        raise GraphFault("Unsupported grant_type", code=100)
    if not client_secret:
        raise GraphFault("Missing client_secret", code=101)
    state = sandbox(request)
    user, _record = state.user_for_token(access_token)
    return _long_lived(state, user.ig_user_id)


@router.get("/refresh_access_token", tags=["Graph API"])
async def refresh_token(
    request: Request, grant_type: str = "", access_token: str | None = None
) -> dict[str, Any]:
    """Refresh a long-lived token (it must be at least 24 h old and unexpired)."""
    instagram_only()
    if grant_type != "ig_refresh_token":
        raise GraphFault("Unsupported grant_type", code=100)
    state = sandbox(request)
    user, record = state.user_for_token(access_token)
    if not record.long_lived:
        raise GraphFault("Only long-lived tokens can be refreshed", code=100)
    if time.time() - record.issued_at < 86400 and not state.extras.get("allow_young_refresh"):
        raise GraphFault("The token is less than 24 hours old and cannot be refreshed", code=100)
    return _long_lived(state, user.ig_user_id)


def _long_lived(state: SandboxState, ig_user_id: str) -> dict[str, Any]:
    """A new long-lived token of the account, as the exchange and the refresh answer it."""
    token = state.issue_token(ig_user_id, long_lived=True)
    return {
        "access_token": token.token,
        "token_type": "bearer",
        "expires_in": int(token.expires_at - time.time()),
    }


class ConsentQuery:
    """The query of a consent screen: Instagram's (`/oauth/authorize`) or Facebook's dialog
    (facebook.py). `username` is the sandbox's own: who "logs in"."""

    def __init__(
        self,
        client_id: str = "",
        redirect_uri: str = "",
        state: str = "",
        response_type: str = "code",
        scope: str = "",
        username: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._]{1,30}$")] = None,
    ) -> None:
        self.client_id, self.redirect_uri, self.state = client_id, redirect_uri, state
        self.response_type, self.scope, self.username = response_type, scope, username


@router.get("/oauth/authorize", tags=["Graph API"])
async def authorize(
    request: Request, query: Annotated[ConsentQuery, Depends()]
) -> RedirectResponse:
    """Instagram's consent screen, approved at once: redirects back with a code.

    `username` picks (or creates) the sandbox account that "logs in". Outside development and
    test only the operator may pick an existing one (no one signs in to another's account).
    """
    instagram_only()
    if not query.redirect_uri:
        raise GraphFault("redirect_uri is required", code=100)
    sb = sandbox(request)
    name = query.username or f"sandbox_{secrets.token_hex(3)}"
    user = sb.user_named(name)
    may_sign_in(request, exists=user is not None, who=f"The sandbox account {name}")
    user = user or sb.create_user(name)
    if not query.client_id:
        raise GraphFault("Invalid platform app", code=100)
    return RedirectResponse(
        sb.redirect_with_code(user.ig_user_id, query.redirect_uri, query.state), status_code=302
    )


def may_sign_in(request: Request, *, exists: bool, who: str) -> None:
    """Outside development and test only the operator may sign in to an existing sandbox user
    on a consent screen (no one signs in to another's account)."""
    if exists and not is_operator(request.app.state.settings, request.headers):
        raise GraphFault(
            f"{who} exists and only the sandbox's operator may sign in to it here: pick another "
            "username",
            code=100,
            status=403,
        )


@router.post("/oauth/access_token", tags=["Graph API"])
async def oauth_access_token(
    request: Request,
    code: Annotated[str, Form()] = "",
    client_id: Annotated[str, Form()] = "",
    client_secret: Annotated[str, Form()] = "",
    grant_type: Annotated[str, Form()] = "",
    redirect_uri: Annotated[str, Form()] = "",
) -> dict[str, Any]:
    """OAuth code → short-lived token (single use, 10 minutes)."""
    instagram_only()
    sb = sandbox(request)
    if grant_type != "authorization_code":
        raise GraphFault("Unsupported grant_type", code=100)
    if not client_id or not client_secret:
        raise GraphFault("Missing client_id or client_secret", code=101)
    ig_user_id = sb.redeem_code(code, redirect_uri, facebook=False)
    token = sb.issue_token(ig_user_id, long_lived=False)
    return {
        "data": [{"access_token": token.token, "user_id": ig_user_id, "permissions": scope_list()}]
    }


def instagram_only() -> None:
    """Paths of graph.instagram.com (and its OAuth) that graph.facebook.com does not have."""
    if GRAPH_HOST.get() != "instagram":
        raise GraphFault("Unknown path components", code=2500)


def scope_list() -> str:
    return "instagram_business_basic,instagram_business_content_publish"


def create_sandbox_app(settings: Settings | None = None) -> FastAPI:
    """The sandbox on its state in INSTASCHED_DATA_DIR (without settings: in memory, open)."""
    state = SandboxState(settings.data_dir / SQLITE_FILE if settings is not None else None)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Runs when served alone (`instasched sandbox`); mounted, the main app's lifespan does it.
        await state.startup()
        try:
            yield
        finally:
            await state.shutdown()

    app = FastAPI(
        lifespan=lifespan,
        title="instasched Instagram sandbox",
        description="A fake Instagram Graph API that enforces Meta's rules.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        # No OpenTelemetry for a test double: saves the provider look-ups on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.sandbox = state
    app.state.settings = settings

    @app.exception_handler(GraphFault)
    async def _fault(_: Request, exc: GraphFault) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    app.add_middleware(UsageHeaders, state=state)
    app.add_middleware(GraphVersionGate)
    # A lone UTF-16 surrogate in a JSON body: 422 naming the field, in Meta's error format.
    app.add_middleware(
        LoneSurrogateGuard,
        error_body=lambda name, problem: GraphFault(
            f"(#100) Param {name} {problem}", code=100
        ).body(),
    )
    # The Graph publishing routes (media.py) first: routes are matched in order, and those are
    # the calls a publication makes. No path here matches a route of the other router.
    _include_optional(app)
    app.include_router(router)
    if settings is not None and not settings.sandbox_control_open:
        app.add_middleware(ControlSecret, settings=settings)
    # Last added, so it runs first: `/facebook/...` is graph.facebook.com (sandbox/facebook.py).
    from instasched.sandbox.facebook import FacebookHost

    app.add_middleware(FacebookHost)
    return app


def is_operator(settings: Settings | None, headers: Headers) -> bool:
    """The caller may act as the sandbox's operator: in development and test anyone, elsewhere
    whoever sends SANDBOX_CONTROL_SECRET in `X-Sandbox-Control-Secret` (unset: no one)."""
    if settings is None or settings.sandbox_control_open:
        return True
    secret = settings.sandbox_control_secret
    given = headers.get(CONTROL_SECRET_HEADER, "")
    return bool(secret) and secrets.compare_digest(given.encode(), str(secret).encode())


class ControlSecret:
    """The control routes (`/_control/...`: minting tokens, faults, reading every caption) answer
    only the operator (`is_operator`) outside development and test. The Graph API surface stays
    as Meta's: token-checked."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and route_path(scope).startswith("/_control")
            and not is_operator(self.settings, Headers(scope=scope))
        ):
            message = (
                f"The sandbox's control routes need the operator's secret in the "
                f"{CONTROL_SECRET_HEADER} header"
                if self.settings.sandbox_control_secret
                else "The sandbox's control routes are closed: set SANDBOX_CONTROL_SECRET "
                f"on the server and send it in the {CONTROL_SECRET_HEADER} header"
            )
            response = JSONResponse(Forbidden(message).to_dict(), status_code=403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


_VERSION_SEGMENT = re.compile(r"^/(v[0-9]+(?:\.[0-9]+)?)(/.*)?$")


def version_fault(name: str, rest: str, *, today: datetime) -> GraphFault | None:
    """The answer to a call of Graph API version `name`, or None when Meta serves it today.

    Meta answers an unknown version with "Unknown path components" (OAuthException, code 2500).
    A retired one it serves silently with the oldest version still available; the sandbox
    refuses it in the same form instead, so a stale INSTAGRAM_API_VERSION fails a test rather
    than changing a customer's post. The versions and their end dates: `versions.VERSIONS`."""
    day = today.date()
    if versions.available(name, today=day):
        return None
    known = versions.find(name)
    if known is None or known.released > day:
        return GraphFault(f"Unknown path components: /{name}{rest}", code=2500)
    return GraphFault(
        f"(#2500) Graph API {name} was retired by Meta on {known.available_until}: Meta answers "
        f"its calls with another version. Set INSTAGRAM_API_VERSION to a current version "
        f"(default {versions.DEFAULT_VERSION}; see {versions.CHANGELOG_URL})",
        code=2500,
    )


class GraphVersionGate:
    """Refuses Graph calls (`/vNN.N/...`) to a version Meta does not serve today."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _VERSION_SEGMENT.match(route_path(scope)) if scope["type"] == "http" else None
        fault = version_fault(match[1], match[2] or "", today=datetime.now(UTC)) if match else None
        if fault is None:
            await self.app(scope, receive, send)
            return
        response = JSONResponse(fault.body(), status_code=fault.status)
        await response(scope, receive, send)


class UsageHeaders:
    """Meta reports rate-limit use in X-App-Usage (percent of the budget); a test sets it.

    Pure ASGI (a `BaseHTTPMiddleware` runs every request in an extra task group)."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope).startswith("/_control"):
            await self.app(scope, receive, send)
            return
        usage = self.state.app_usage
        if usage is None:
            await self.app(scope, receive, send)
            return
        header = json.dumps(
            {"call_count": usage, "total_cputime": usage // 2, "total_time": usage // 2}
        ).encode("latin-1")

        async def send_with_usage(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-app-usage"
                ]
                message = {**message, "headers": [*headers, (b"x-app-usage", header)]}
            await send(message)

        await self.app(scope, receive, send_with_usage)


def _include_optional(app: FastAPI) -> None:
    """Each optional module has `install(app)`: media publishing, insights."""
    import importlib

    for name in ("media", "insights", "facebook"):
        try:
            module = importlib.import_module(f"instasched.sandbox.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"instasched.sandbox.{name}":
                raise
            continue
        module.install(app)
