"""The sandbox's in-memory state: users, tokens, OAuth codes (media: see `media.py`)."""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from starlette.types import Scope

SHORT_LIVED_SECONDS = 3600
LONG_LIVED_SECONDS = 60 * 86400


@dataclass
class SandboxUser:
    ig_user_id: str
    username: str
    timezone: str = "UTC"
    followers: int = 1000


@dataclass
class SandboxToken:
    token: str
    ig_user_id: str
    issued_at: float
    expires_at: float
    long_lived: bool


class GraphFault(Exception):
    """An error answer in the Graph API's format."""

    def __init__(
        self,
        message: str,
        *,
        code: int,
        subcode: int | None = None,
        status: int = 400,
        kind: str = "OAuthException",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.status = status
        self.kind = kind

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.kind,
            "code": self.code,
            "fbtrace_id": "sandbox" + secrets.token_hex(6),
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}


def invalid_token() -> GraphFault:
    return GraphFault("Invalid OAuth access token - Cannot parse access token", code=190)


@dataclass
class SandboxState:
    users: dict[str, SandboxUser] = field(default_factory=dict)
    tokens: dict[str, SandboxToken] = field(default_factory=dict)
    codes: dict[str, tuple[str, float]] = field(default_factory=dict)
    code_redirects: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    # Downloads image_url / video_url like Meta does. aiohttp rather than httpx: one fetch per
    # container, and httpx's client and pool cost ~1 ms of CPU per request here.
    http: aiohttp.ClientSession | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(17841400000000001))

    async def startup(self) -> None:
        if self.http is None or self.http.closed:
            self.http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=30.0, sock_connect=5.0),
                connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=2.0),
                cookie_jar=aiohttp.DummyCookieJar(),
                # The URL is fetched as given (a presigned URL's signature covers its encoding).
                requote_redirect_url=False,
            )

    async def shutdown(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None

    def next_id(self) -> str:
        return str(next(self._ids))

    def create_user(
        self, username: str, timezone: str = "UTC", followers: int = 1000
    ) -> SandboxUser:
        user = SandboxUser(
            ig_user_id=self.next_id(), username=username, timezone=timezone, followers=followers
        )
        self.users[user.ig_user_id] = user
        return user

    def issue_token(self, ig_user_id: str, *, long_lived: bool) -> SandboxToken:
        now = time.time()
        prefix = "IGSL" if long_lived else "IGSS"
        lifetime = LONG_LIVED_SECONDS if long_lived else SHORT_LIVED_SECONDS
        token = SandboxToken(
            token=prefix + secrets.token_urlsafe(32),
            ig_user_id=ig_user_id,
            issued_at=now,
            expires_at=now + lifetime,
            long_lived=long_lived,
        )
        self.tokens[token.token] = token
        return token

    def user_for_token(self, token: str | None) -> tuple[SandboxUser, SandboxToken]:
        if not token:
            raise GraphFault("An active access token must be used", code=104)
        record = self.tokens.get(token)
        if record is None:
            raise invalid_token()
        if record.expires_at <= time.time():
            raise GraphFault(
                "Error validating access token: Session has expired", code=190, subcode=463
            )
        user = self.users.get(record.ig_user_id)
        if user is None:
            raise invalid_token()
        return user, record

    def revoke_user_tokens(self, ig_user_id: str) -> int:
        doomed = [t for t, r in self.tokens.items() if r.ig_user_id == ig_user_id]
        for t in doomed:
            del self.tokens[t]
        return len(doomed)


def route_path(scope: Scope) -> str:
    """The path inside the sandbox app (without the mount prefix, e.g. `/sandbox`)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :]
    return path
