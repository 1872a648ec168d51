"""Typed async Graph API calls over one httpx client per process.

Only this module speaks HTTP to Instagram; the base URL and version are settings so the sandbox
(`instasched.sandbox`) can stand in for the host. Publishing calls live in `media.py` (mixin).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from instasched.integrations.instagram import call_log, login_kinds
from instasched.integrations.instagram.errors import (
    GraphError,
    GraphRetryableError,
    classify_error,
)
from instasched.integrations.instagram.facebook import FacebookCalls
from instasched.integrations.instagram.media import MediaCalls
from instasched.integrations.instagram.transport import AiohttpTransport

log = logging.getLogger(__name__)

USAGE_HEADERS = ("x-app-usage", "x-business-use-case-usage", "x-ad-account-usage")
BACKOFF_THRESHOLD = 90.0


@dataclass(frozen=True)
class TokenInfo:
    access_token: str
    expires_in: int | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class Me:
    user_id: str
    username: str
    followers_count: int | None = None


class GraphClient(MediaCalls, FacebookCalls):
    """One Graph host: graph.instagram.com (`login_kind="instagram"`, Instagram Login) or
    graph.facebook.com (`login_kind="facebook"`, Facebook Login; `facebook.py`)."""

    def __init__(
        self,
        *,
        base_url: str,
        version: str,
        app_id: str | None = None,
        app_secret: str | None = None,
        token_url: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        login_kind: str = login_kinds.INSTAGRAM,
        max_connections: int = 200,
    ) -> None:
        self.login_kind = login_kind
        # Makes the client of the other login kind (`for_kind`); state.graph_client_for sets it.
        self.sibling_factory: Callable[[str], GraphClient] | None = None
        self._siblings: dict[str, GraphClient] = {}
        self.base_url = base_url.rstrip("/")
        self.version = version
        self.app_id = app_id
        self.app_secret = app_secret
        self.token_url = token_url or f"{self.base_url}/oauth/access_token"
        self.timeout = httpx.Timeout(timeout, connect=10.0)
        # The default wire, used directly by `request` (see transport.py).
        self._wire = (
            AiohttpTransport(max_connections=max_connections, keepalive_expiry=2.0)
            if transport is None
            else None
        )
        self.http = httpx.AsyncClient(
            timeout=self.timeout,
            # Idle connections are dropped before a server's usual 5 s keep-alive ends, so a
            # request is never written to a connection the server is closing (a ReadError on a
            # POST could not be retried safely).
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=50,
                keepalive_expiry=2.0,
            ),
            # aiohttp's pool under httpx's API: httpcore's pool cost ~1/3 of the worker's CPU
            # per publication (transport.py).
            transport=transport or self._wire,
        )
        self.usage_percent: float = 0.0
        self.backoff_until: float = 0.0
        # Seconds of pause per percent above the threshold (5 s at 90 %, up to 60 s).
        self.backoff_unit: float = 5.0

    async def close(self) -> None:
        await self.http.aclose()
        for sibling in self._siblings.values():
            await sibling.close()
        self._siblings.clear()

    def for_kind(self, login_kind: str) -> GraphClient:
        """The client of an account's login kind: this one, or its sibling for the other Graph
        host (made once by `sibling_factory`, closed with this one)."""
        if login_kind == self.login_kind:
            return self
        sibling = self._siblings.get(login_kind)
        if sibling is None:
            if self.sibling_factory is None:
                raise GraphError(f"No Graph API client for {login_kind} login is configured")
            sibling = self._siblings[login_kind] = self.sibling_factory(login_kind)
        return sibling

    # --- plumbing ------------------------------------------------------------------------
    def url(self, path: str, *, versioned: bool = True) -> str:
        path = path.lstrip("/")
        if versioned:
            return f"{self.base_url}/{self.version}/{path}"
        return f"{self.base_url}/{path}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        versioned: bool = True,
        url: str | None = None,
    ) -> dict[str, Any]:
        if not call_log.recording():
            return (await self._request(method, path, token, params, data, versioned, url))[0]
        # A post's history (call_log.py): the call, its duration and outcome, never the token.
        started, clock = call_log.now(), time.perf_counter()
        try:
            body, status_code, headers = await self._request(
                method, path, token, params, data, versioned, url
            )
        except GraphError as exc:
            call_log.note(
                started=started,
                method=method,
                path=path or "oauth/access_token",
                duration_ms=(time.perf_counter() - clock) * 1000,
                http_status=exc.status_code,
                error=exc,
            )
            raise
        call_log.note(
            started=started,
            method=method,
            path=path or "oauth/access_token",
            duration_ms=(time.perf_counter() - clock) * 1000,
            http_status=status_code,
            headers=headers,
            body=body,
        )
        return body

    async def _request(
        self,
        method: str,
        path: str,
        token: str | None,
        params: dict[str, Any] | None,
        data: dict[str, Any] | None,
        versioned: bool,
        url: str | None,
    ) -> tuple[dict[str, Any], int, Mapping[str, str]]:
        await self._respect_backoff()
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        form = {k: _param(v) for k, v in (data or {}).items() if v is not None} or None
        if token:
            query["access_token"] = token
        target = url or self.url(path, versioned=versioned)
        try:
            if self._wire is not None:
                status_code, headers, content = await self._wire.send(
                    method, target, params=query, form=form, timeouts=self.timeout
                )
            else:
                response = await self.http.request(method, target, params=query, data=form)
                status_code, headers, content = (
                    response.status_code,
                    response.headers,
                    response.content,
                )
        except httpx.TimeoutException as exc:
            raise GraphRetryableError(
                f"Instagram did not answer in time ({type(exc).__name__})",
                explanation="Instagram did not answer in time; the outcome is checked before "
                "any retry.",
            ) from exc
        except httpx.TransportError as exc:
            raise GraphRetryableError(
                f"Could not reach Instagram ({type(exc).__name__}: {exc})",
                explanation="Instagram could not be reached; we will try again.",
            ) from exc
        self._read_usage(headers)
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if status_code >= 400 or (isinstance(body, dict) and "error" in body):
            raise classify_error(body if isinstance(body, dict) else None, status_code=status_code)
        if not isinstance(body, dict):
            raise GraphError(
                f"Unexpected answer from Instagram (HTTP {status_code})",
                status_code=status_code,
            )
        return body, status_code, headers

    def _read_usage(self, headers: Mapping[str, str]) -> None:
        highest = 0.0
        for name in USAGE_HEADERS:
            raw = headers.get(name)
            if raw:
                highest = max(highest, _max_percent(raw))
        if highest:
            self.usage_percent = highest
            if highest >= BACKOFF_THRESHOLD:
                # Above 90 % of a rate budget: pause new calls; the budget frees over minutes.
                pause = min(
                    60.0 * self.backoff_unit / 5.0,
                    self.backoff_unit * (highest - BACKOFF_THRESHOLD + 1),
                )
                self.backoff_until = max(self.backoff_until, time.monotonic() + pause)
                log.warning("graph api usage at %.0f%%: backing off %.1fs", highest, pause)

    async def _respect_backoff(self) -> None:
        wait = self.backoff_until - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    # --- identity and tokens -------------------------------------------------------------
    async def get_me(self, token: str) -> Me:
        body = await self.request(
            "GET", "me", token=token, params={"fields": "user_id,username,followers_count"}
        )
        user_id = str(body.get("user_id") or body.get("id") or "")
        if not user_id:
            raise GraphError("Instagram did not return a user id for this token")
        followers = body.get("followers_count")
        return Me(
            user_id=user_id,
            username=str(body.get("username") or ""),
            followers_count=int(followers) if isinstance(followers, int) else None,
        )

    async def exchange_code(self, code: str, redirect_uri: str) -> TokenInfo:
        """OAuth code → short-lived token (Instagram Login)."""
        body = await self.request(
            "POST",
            "",
            url=self.token_url,
            data={
                "client_id": self.app_id,
                "client_secret": self.app_secret,
                "grant_type": "authorization_code",
                "redirect_uri": redirect_uri,
                "code": code,
            },
        )
        payload = body["data"][0] if isinstance(body.get("data"), list) and body["data"] else body
        return TokenInfo(
            access_token=str(payload["access_token"]),
            user_id=str(payload.get("user_id")) if payload.get("user_id") else None,
        )

    async def exchange_long_lived(self, short_token: str) -> TokenInfo:
        body = await self.request(
            "GET",
            "access_token",
            versioned=False,
            params={"grant_type": "ig_exchange_token", "client_secret": self.app_secret},
            token=short_token,
        )
        return _token_info(body)

    async def refresh_long_lived(self, token: str) -> TokenInfo:
        body = await self.request(
            "GET",
            "refresh_access_token",
            versioned=False,
            params={"grant_type": "ig_refresh_token"},
            token=token,
        )
        return _token_info(body)


def _token_info(body: dict[str, Any]) -> TokenInfo:
    expires = body.get("expires_in")
    return TokenInfo(
        access_token=str(body["access_token"]),
        expires_in=int(expires) if expires is not None else None,
    )


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _max_percent(raw: str) -> float:
    try:
        data = json.loads(raw)
    except ValueError:
        return 0.0
    best = 0.0

    def walk(node: Any) -> None:
        nonlocal best
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, int | float) and key in (
                    "call_count",
                    "total_cputime",
                    "total_time",
                    "acc_id_util_pct",
                ):
                    best = max(best, float(value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return best
