"""Fixtures of the automation tests (issue 21): API keys of a user."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from tests.factories import User
from tests.publishing.conftest import publishing  # noqa: F401 (a fixture of these tests too)

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


HOOKS = "/api/webhooks"


async def new_webhook(
    http: httpx.AsyncClient, user: User, url: str, events: list[str]
) -> dict[str, Any]:
    r = await http.post(HOOKS, json={"url": url, "events": events}, headers=user.headers)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def deliveries(
    http: httpx.AsyncClient, user: User, webhook_id: str, **params: Any
) -> list[dict[str, Any]]:
    r = await http.get(
        f"{HOOKS}/{webhook_id}/deliveries", params={"limit": 100, **params}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def wait_deliveries(
    http: httpx.AsyncClient,
    user: User,
    webhook_id: str,
    done: Callable[[list[dict[str, Any]]], bool],
    *,
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    """The delivery log once `done(log)` holds (an AssertionError with the log after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await deliveries(http, user, webhook_id)
        if done(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries never reached the wanted state: {found}")
        await asyncio.sleep(0.1)
