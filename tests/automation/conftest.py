"""Fixtures of the automation tests (issue 21): API keys of a user."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from tests.factories import User

KEYS = "/api/auth/api-keys"


async def new_key(
    http: httpx.AsyncClient,
    user: User,
    scopes: list[str],
    *,
    name: str = "test key",
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    """A new API key of `user` (the creation's answer: `key` holds the key)."""
    body: dict[str, Any] = {"name": name, "scopes": scopes}
    if expires_at is not None:
        body["expiresAt"] = expires_at.isoformat()
    r = await http.post(KEYS, json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
