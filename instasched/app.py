"""create_app(): the FastAPI application. The lifespan opens every client once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from instasched import __version__
from instasched.api import API_ROUTERS
from instasched.config import Settings, get_settings
from instasched.db import is_connection_error
from instasched.exceptions import InstaschedError
from instasched.kit.http_limits import BodyLimitMiddleware
from instasched.kit.memory import freeze_startup_objects
from instasched.kit.openapi import example_200
from instasched.kit.openapi import install as document_errors
from instasched.kit.surrogates import LoneSurrogateGuard
from instasched.mcp_server.http import PATH as MCP_PATH
from instasched.mcp_server.http import McpHttp
from instasched.observability.middleware import RequestMetricsMiddleware
from instasched.ops.endpoints import metrics_router
from instasched.state import AppState

log = logging.getLogger(__name__)

DESCRIPTION = """
Schedule and auto-publish Instagram posts (images, reels, carousels, stories) through the
Instagram Graph API, exactly once.

Authenticate with `POST /api/auth/login` and send `Authorization: Bearer <accessToken>`.
Errors are JSON: `{"error": "<kind>", "message": "<what to do>", "detail": ...}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await AppState.create(settings)
        app.state.instasched = state
        try:
            await state.storage.ensure_bucket()
        except Exception:  # /ready reports it; the API still serves what it can
            log.exception("could not ensure the S3 bucket %s", settings.s3_bucket)
        sandbox = app.state.sandbox if hasattr(app.state, "sandbox") else None
        if sandbox is not None:
            await sandbox.startup()
        freeze_startup_objects()
        try:
            async with mcp_http.running():
                yield
        finally:
            if sandbox is not None:
                await sandbox.shutdown()
            await state.close()

    app = FastAPI(
        title="instasched",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "Auth", "description": "Users and bearer tokens"},
            {"name": "Instagram accounts", "description": "Connected Instagram accounts"},
            {"name": "Media", "description": "Media library (uploads to S3)"},
            {"name": "Posts", "description": "Scheduled posts"},
            {"name": "Approvals", "description": "Drafts submitted, approved or sent back"},
            {"name": "Templates", "description": "Caption templates"},
            {"name": "Schedules", "description": "Posting schedules and the queue"},
            {"name": "Optimal times", "description": "Best times to post"},
            {"name": "Operations", "description": "Health, readiness, metrics"},
            {"name": "API keys", "description": "Keys with scopes for scripts and integrations"},
            {"name": "Webhooks", "description": "Signed event deliveries to your URLs"},
        ],
        # The endpoint function's name ("create_post"), not FastAPI's name + path + method
        # ("create_post_api_instagram_scheduling_posts_post"): what a generated client calls.
        generate_unique_id_function=lambda route: route.name,
    )
    install_error_handlers(app)
    mount_sandbox = settings.sandbox_enabled and not settings.sandbox_url
    # Inside the metrics middleware, so its 422s are counted.
    app.add_middleware(LoneSurrogateGuard)
    # Outside the guard: a body over the limit is refused before anything reads it.
    app.add_middleware(BodyLimitMiddleware, max_body=settings.max_json_body_size)
    app.add_middleware(RequestMetricsMiddleware, passthrough="/sandbox/" if mount_sandbox else None)
    if mount_sandbox:
        from instasched.sandbox.app import create_sandbox_app

        sandbox_app = create_sandbox_app(settings)
        app.state.sandbox = sandbox_app.state.sandbox
        # The first route: a Graph call (3 per published image) is not matched against every
        # API route first (~75 µs each with FastAPI's nested routers).
        app.mount("/sandbox", sandbox_app)
    app.include_router(metrics_router)
    for router in API_ROUTERS:
        app.include_router(router, prefix="/api")
    # The MCP server for assistants (docs/mcp.md): an ASGI endpoint, outside the OpenAPI.
    mcp_http = McpHttp(app, settings)
    app.router.routes.append(Route(MCP_PATH, endpoint=mcp_http, methods=["GET", "POST", "DELETE"]))
    _ops_routes(app)
    _mount_web(app)
    document_errors(app)
    return app


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for X-Forwarded-For/-Proto: applied only from `FORWARDED_ALLOW_IPS`.

    uvicorn alone trusts 127.0.0.1, so any local process could pick its client address with the
    header and escape the login rate limit (issue 24).
    """
    allowed = settings.forwarded_allow_ips.strip()
    return {"proxy_headers": bool(allowed), "forwarded_allow_ips": allowed or None}


def _mount_web(app: FastAPI) -> None:
    try:
        from instasched.web import mount_web
    except ImportError:  # pragma: no cover - the web app is optional
        return
    mount_web(app)


def _ops_routes(app: FastAPI) -> None:
    @app.get("/health", tags=["Operations"], responses=example_200({"status": "ok"}))
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get(
        "/ready",
        tags=["Operations"],
        responses={
            **example_200(
                {"status": "ok", "checks": {"database": "ok", "redis": "ok", "s3": "ok"}}
            ),
            503: {
                "description": "A dependency does not answer: `checks` names it",
                "content": {
                    "application/json": {
                        "example": {
                            "status": "unavailable",
                            "error": "service_unavailable",
                            "message": "Not ready: redis unavailable",
                            "checks": {
                                "database": "ok",
                                "redis": "failed: ConnectionError",
                                "s3": "ok",
                            },
                        }
                    }
                },
            },
        },
    )
    async def ready(request: Request) -> JSONResponse:
        """Readiness: PostgreSQL, Redis and S3 answer (503 names the failing ones)."""
        state: AppState = request.app.state.instasched
        checks: dict[str, str] = {}

        async def check(name: str, probe: Any) -> None:
            try:
                await asyncio.wait_for(probe(), timeout=3)
                checks[name] = "ok"
            except Exception as exc:
                checks[name] = f"failed: {type(exc).__name__}"

        async def db() -> None:
            async with state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        await asyncio.gather(
            check("database", db), check("redis", state.redis.ping), check("s3", state.storage.ping)
        )
        failing = [k for k, v in checks.items() if v != "ok"]
        if failing:
            return JSONResponse(
                status_code=503,
                content={
                    "status": "unavailable",
                    "error": "service_unavailable",
                    "message": "Not ready: " + ", ".join(failing) + " unavailable",
                    "checks": checks,
                },
            )
        return JSONResponse({"status": "ok", "checks": checks})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InstaschedError)
    async def _domain(_: Request, exc: InstaschedError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_describe(err) for err in exc.errors()]
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
        return JSONResponse(
            {
                "error": "validation_error",
                "message": message or "Invalid request",
                "detail": problems,
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {
            400: "bad_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
        }
        message = str(exc.detail)
        if message == "There was an error parsing the body":  # FastAPI's, for undecodable bodies
            message = "The request body could not be parsed: send valid JSON encoded in UTF-8"
        return JSONResponse(
            {"error": kinds.get(exc.status_code, "http_error"), "message": message},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    # Database errors get handlers of their own: a handler for `Exception` runs in Starlette's
    # ServerErrorMiddleware, which re-raises after answering, so uvicorn logged every 503 of an
    # outage as "Exception in ASGI application" with a stack trace and closed the connection.
    @app.exception_handler(DBAPIError)
    @app.exception_handler(OSError)
    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        if is_connection_error(exc):
            log.warning("database unavailable: %s", type(exc).__name__)
            return JSONResponse(
                {
                    "error": "service_unavailable",
                    "message": "The database is unavailable; try again in a moment",
                },
                status_code=503,
                headers={"Retry-After": "5"},
            )
        if isinstance(exc, DBAPIError) and _is_unstorable_text(exc):
            # A NUL (or a \u0000 escape in JSON) that no schema refused (a query string, a form
            # field): PostgreSQL cannot store it. The transaction was rolled back.
            return JSONResponse(
                {
                    "error": "validation_error",
                    "message": "Text must not contain NUL (\\u0000) characters",
                    "detail": [{"field": "body", "message": "contains a NUL character"}],
                },
                status_code=422,
            )
        log.exception("unexpected error")
        return JSONResponse(
            {"error": "internal_error", "message": "Something went wrong on our side"},
            status_code=500,
        )


def _describe(err: Any) -> dict[str, str]:
    loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(loc) or "body"
    message = str(err.get("msg", "invalid value"))
    if err.get("type") == "extra_forbidden":
        message = "unknown field"
    elif err.get("type") == "missing":
        message = "is required"
    return {"field": field, "message": message}


def _is_unstorable_text(exc: DBAPIError) -> bool:
    """PostgreSQL refused a NUL in text (22021) or a \\u0000 it cannot convert (22P05)."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code in ("22021", "22P05")
