"""Typed async Graph API calls over one httpx client per process.

Only this package speaks HTTP to Instagram; the base URL and version are settings so the sandbox
(`instasched.sandbox`) can stand in for the host. `GraphClient` builds the wire and holds the
identity and token calls; one call's plumbing is `calls.py`, publishing calls are in `media.py`
and Facebook Login's in `facebook.py` (mixins).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from instasched.integrations.instagram import login_kinds
from instasched.integrations.instagram.errors import GraphError
from instasched.integrations.instagram.facebook import FacebookCalls
from instasched.integrations.instagram.media import MediaCalls
from instasched.integrations.instagram.transport import AiohttpTransport


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
