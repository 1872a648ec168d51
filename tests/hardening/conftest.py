"""Hardening fixtures: a user with one of everything (account, media, template, schedule, post).

Everything is made through the public API, as a client would, so the ids are real and the rows
are the ones the service writes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.config import Settings
from instasched.integrations.storage import Storage
from tests.factories import Account, Api, User
from tests.media.files import jpeg_bytes

BASE = "/api/instagram/scheduling"


@dataclass
class World:
    """One user's objects, all created through the API."""

    user: User
    account: Account
    media_id: uuid.UUID
    template_id: uuid.UUID
    post_id: uuid.UUID
    day_of_week: int
    oauth_state: str
    # A Facebook Login choice of Pages waiting for the user (two Pages with Instagram accounts).
    pending_id: uuid.UUID
    pending_page_id: str
    api_key_id: uuid.UUID | None = None
    webhook_id: uuid.UUID | None = None


async def make_world(api: Api, http: httpx.AsyncClient, *, caption: str = "hello") -> World:
    user = await api.user()
    account = await api.account(user)
    r = await http.post(
        f"{BASE}/media/upload",
        params={"accountId": str(account.id)},
        files={"file": ("photo.jpg", jpeg_bytes(1080, 1080), "image/jpeg")},
        data={"tags": "summer,launch"},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    media_id = uuid.UUID(r.json()["id"])
    r = await http.post(
        f"{BASE}/templates",
        json={"name": "Launch", "captionTemplate": "Introducing {{productName}}!"},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    template_id = uuid.UUID(r.json()["id"])
    r = await http.post(
        f"{BASE}/schedules/{account.id}",
        json={"dayOfWeek": 2, "timeSlots": ["09:00", "18:30"], "timezone": "UTC"},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    when = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    r = await http.post(
        f"{BASE}/posts",
        json={
            "instagramAccountId": str(account.id),
            "scheduledFor": when.isoformat(),
            "caption": caption,
            "mediaIds": [str(media_id)],
            "mediaType": "IMAGE",
        },
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    post_id = uuid.UUID(r.json()["id"])
    r = await http.get(
        "/api/instagram/oauth/authorize-url", params={"timezone": "UTC"}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    oauth_state = r.json()["state"]
    fb = await api.facebook_user(
        [
            {"name": "One", "igUsername": f"one_{user.id.hex[:8]}"},
            {"name": "Two", "igUsername": f"two_{user.id.hex[:8]}"},
        ]
    )
    query = await api.facebook_consent(user, username=fb["name"])
    r = await http.get("/api/instagram/oauth/facebook/callback", params=query, headers=user.headers)
    assert r.status_code == 202, r.text
    pending_id = uuid.UUID(r.json()["id"])
    r = await http.post(
        "/api/auth/api-keys", json={"name": "world", "scopes": ["read"]}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    api_key_id = uuid.UUID(r.json()["id"])
    r = await http.post(
        "/api/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["post.published"]},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    return World(
        user=user,
        account=account,
        media_id=media_id,
        template_id=template_id,
        post_id=post_id,
        day_of_week=2,
        oauth_state=oauth_state,
        pending_id=pending_id,
        pending_page_id=fb["pages"][0]["pageId"],
        api_key_id=api_key_id,
        webhook_id=uuid.UUID(r.json()["id"]),
    )


# Rows of a user, by table: the snapshot that must not change when another user pokes at them.
SNAPSHOT_QUERIES = {
    "users": "SELECT * FROM users WHERE id = :uid",
    "instagram_accounts": "SELECT * FROM instagram_accounts WHERE workspace_id = :uid",
    "instagram_media_assets": "SELECT * FROM instagram_media_assets WHERE workspace_id = :uid",
    "instagram_post_templates": "SELECT * FROM instagram_post_templates WHERE workspace_id = :uid",
    "instagram_posting_schedules": (
        "SELECT s.* FROM instagram_posting_schedules s JOIN instagram_accounts a "
        "ON a.id = s.instagram_account_id WHERE a.workspace_id = :uid"
    ),
    "instagram_scheduled_posts": (
        "SELECT * FROM instagram_scheduled_posts WHERE workspace_id = :uid"
    ),
    "oauth_states": "SELECT * FROM oauth_states WHERE user_id = :uid",
    "facebook_pending_connections": (
        "SELECT * FROM facebook_pending_connections WHERE user_id = :uid"
    ),
    "api_keys": "SELECT * FROM api_keys WHERE user_id = :uid",
    "webhook_subscriptions": "SELECT * FROM webhook_subscriptions WHERE workspace_id = :uid",
}


async def snapshot(db: AsyncSession, user_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for table, sql in SNAPSHOT_QUERIES.items():
        rows = (await db.execute(text(sql + " ORDER BY 1"), {"uid": user_id})).mappings().all()
        out[table] = [dict(r) for r in rows]
    await db.rollback()
    return out


@pytest.fixture(scope="session")
async def hstorage(live_server: Any, app_settings: Settings) -> AsyncIterator[Storage]:
    """An S3 client on the tests' event loop (the server's lives on the server thread)."""
    s = Storage.for_settings(app_settings)
    await s.start()
    try:
        yield s
    finally:
        await s.close()
