"""Factories that go through the public API, as a client would."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.media.files import jpeg_bytes, png_bytes

__all__ = ["Account", "Api", "User", "jpeg_bytes", "png_bytes"]


@dataclass
class User:
    id: uuid.UUID
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Account:
    id: uuid.UUID
    ig_user_id: str
    username: str
    access_token: str
    timezone: str
    raw: dict[str, Any] = field(default_factory=dict)


class Api:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def user(self, *, email: str | None = None, password: str | None = None) -> User:
        email = email or f"user-{secrets.token_hex(6)}@example.com"
        password = password or "pw-" + secrets.token_urlsafe(16)
        r = await self.http.post("/api/auth/register", json={"email": email, "password": password})
        assert r.status_code == 201, r.text
        user_id = uuid.UUID(r.json()["id"])
        r = await self.http.post("/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return User(id=user_id, email=email, password=password, token=r.json()["accessToken"])

    async def sandbox_user(
        self, *, username: str | None = None, timezone: str = "UTC", followers: int = 1000
    ) -> dict[str, Any]:
        username = username or f"ig_{secrets.token_hex(4)}"
        r = await self.http.post(
            "/sandbox/_control/users",
            json={"username": username, "timezone": timezone, "followers": followers},
        )
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    async def facebook_user(self, pages: list[dict[str, Any]]) -> dict[str, Any]:
        """A sandbox Facebook user with these Pages (`{"name", "igUsername"?}`), its tokens."""
        name = f"fb_{secrets.token_hex(5)}"
        r = await self.http.post(
            "/sandbox/_control/facebook/users", json={"name": name, "pages": pages}
        )
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    async def facebook_consent(
        self, user: User, *, username: str, timezone: str | None = None
    ) -> dict[str, str]:
        """Start Facebook Login as `user` and approve on the sandbox's dialog as the Facebook
        user `username`: the callback's query (code, state)."""
        params = {"timezone": timezone} if timezone else {}
        r = await self.http.get(
            "/api/instagram/oauth/facebook/authorize-url", params=params, headers=user.headers
        )
        assert r.status_code == 200, r.text
        consent = await self.http.get(r.json()["url"] + f"&username={username}")
        assert consent.status_code == 302, consent.text
        query = parse_qs(urlsplit(consent.headers["location"]).query)
        return {k: v[0] for k, v in query.items()}

    async def account(
        self, user: User, *, timezone: str = "UTC", login_kind: str = "instagram"
    ) -> Account:
        """A sandbox Instagram account connected to `user`: through the accounts API
        (Instagram Login), or through Facebook Login's OAuth flow (`login_kind="facebook"`, a
        Page linked to the account; `access_token` is a token of that Page)."""
        if login_kind == "facebook":
            return await self._facebook_account(user, timezone=timezone)
        sb = await self.sandbox_user(timezone=timezone)
        r = await self.http.post(
            "/api/instagram/accounts",
            json={"accessToken": sb["accessToken"], "timezone": timezone},
            headers=user.headers,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        return Account(
            id=uuid.UUID(body["id"]),
            ig_user_id=sb["igUserId"],
            username=sb["username"],
            access_token=sb["accessToken"],
            timezone=timezone,
            raw=body,
        )

    async def _facebook_account(self, user: User, *, timezone: str) -> Account:
        ig_name = f"ig_{secrets.token_hex(4)}"
        fb = await self.facebook_user([{"name": f"{ig_name} Page", "igUsername": ig_name}])
        query = await self.facebook_consent(user, username=fb["name"], timezone=timezone)
        r = await self.http.get(
            "/api/instagram/oauth/facebook/callback", params=query, headers=user.headers
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["loginKind"] == "facebook", body
        page = fb["pages"][0]
        return Account(
            id=uuid.UUID(body["id"]),
            ig_user_id=page["igUserId"],
            username=ig_name,
            access_token=page["accessToken"],
            timezone=timezone,
            raw=body,
        )
