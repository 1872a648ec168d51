"""Factories that go through the public API, as a client would."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

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

    async def account(self, user: User, *, timezone: str = "UTC") -> Account:
        """A sandbox Instagram account connected to `user` through the accounts API."""
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
