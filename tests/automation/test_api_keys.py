"""API keys (issue 21): named keys with scopes and expiry, the secret shown once and stored
hashed, listed with last use, revoked at once, scopes per route, a rate limit per key."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.config import Settings
from instasched.models import ApiKey
from tests.automation.conftest import KEYS, bearer, new_key
from tests.factories import Api
from tests.foundation.conftest import client_of, second_app

TEMPLATES = "/api/instagram/scheduling/templates"
TEMPLATE = {"name": "Launch", "category": "product_launch", "captionTemplate": "New: {{product}}"}


async def test_a_key_is_shown_once_and_only_its_hash_is_stored(
    api: Api, http: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await api.user()
    future = datetime.now(UTC) + timedelta(days=30)
    created = await new_key(http, user, ["write", "read"], name="Zapier", expires_at=future)
    key = created["key"]
    assert key.startswith("isk_") and len(key) > 60
    assert created["scopes"] == ["read", "write"] and created["name"] == "Zapier"
    assert created["prefix"] == key[:12] and created["lastUsedAt"] is None
    row = await db.scalar(select(ApiKey).where(ApiKey.id == uuid.UUID(created["id"])))
    assert row is not None and row.user_id == user.id
    secret = key[len("isk_") + 33 :]  # after "isk_<32 hex>_" (the secret may hold "_")
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (row.secret_hash, row.prefix, row.name)

    r = await http.get("/api/auth/me", headers=bearer(key))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == str(user.id)
    listed = (await http.get(KEYS, headers=user.headers)).json()
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and listed[0]["lastUsedAt"] is not None


async def test_each_route_needs_its_scope(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    reader = (await new_key(http, user, ["read"]))["key"]
    writer = (await new_key(http, user, ["write"]))["key"]

    assert (await http.get("/api/instagram/accounts", headers=bearer(reader))).status_code == 200
    r = await http.post(TEMPLATES, json=TEMPLATE, headers=bearer(reader))
    assert r.status_code == 403, r.text
    assert r.json()["message"] == "this API key lacks the 'write' scope"
    assert r.json()["detail"] == {"requiredScope": "write"}

    r = await http.post(TEMPLATES, json=TEMPLATE, headers=bearer(writer))
    assert r.status_code == 201, r.text
    r = await http.get(TEMPLATES, headers=bearer(writer))
    assert r.status_code == 403 and "'read' scope" in r.json()["message"]

    # Publishing needs `publish`; the scope is checked before the post is looked up.
    r = await http.post(
        f"/api/instagram/scheduling/posts/{uuid.uuid4()}/publish-now", headers=bearer(writer)
    )
    assert r.status_code == 403 and r.json()["message"] == "this API key lacks the 'publish' scope"


async def test_keys_cannot_manage_keys(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    key = (await new_key(http, user, ["read", "write", "publish"]))["key"]
    for method, path in (("GET", KEYS), ("POST", KEYS), ("DELETE", f"{KEYS}/{uuid.uuid4()}")):
        body = {"name": "k", "scopes": ["read"]} if method == "POST" else None
        r = await http.request(method, path, json=body, headers=bearer(key))
        assert r.status_code == 403, (method, r.text)
        assert "API keys cannot be used here" in r.json()["message"]


async def test_revoked_expired_and_wrong_keys_answer_401(
    api: Api, http: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await api.user()
    created = await new_key(http, user, ["read"])
    key = created["key"]
    assert (await http.get("/api/auth/me", headers=bearer(key))).status_code == 200
    r = await http.delete(f"{KEYS}/{created['id']}", headers=user.headers)
    assert r.status_code == 200 and r.json()["revokedAt"] is not None
    r = await http.get("/api/auth/me", headers=bearer(key))
    assert r.status_code == 401 and "revoked" in r.json()["message"]

    other = await new_key(http, user, ["read"], expires_at=datetime.now(UTC) + timedelta(hours=1))
    await db.execute(
        update(ApiKey)
        .where(ApiKey.id == uuid.UUID(other["id"]))
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    await db.commit()
    r = await http.get("/api/auth/me", headers=bearer(other["key"]))
    assert r.status_code == 401 and "expired" in r.json()["message"]

    wrong_secret = other["key"][:-4] + "AAAA"
    for bad in (
        wrong_secret,
        "isk_nothex_secret",
        f"isk_{uuid.uuid4().hex}_{secrets.token_hex(8)}",
    ):
        r = await http.get("/api/auth/me", headers=bearer(bad))
        assert r.status_code == 401 and r.json()["message"] == "Invalid API key", bad

    # Another user's key id cannot be revoked by this user (404), and an expiry in the past
    # is refused.
    stranger = await api.user()
    r = await http.delete(f"{KEYS}/{other['id']}", headers=stranger.headers)
    assert r.status_code == 404
    r = await http.post(
        KEYS,
        json={"name": "old", "scopes": ["read"], "expiresAt": "2020-01-01T00:00:00Z"},
        headers=user.headers,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "expiresAt"


async def test_a_key_survives_logout_all_and_creates_posts(
    api: Api, http: httpx.AsyncClient
) -> None:
    """Keys are revoked one by one, not by logout-all; the post creation path (which checks the
    token version itself) accepts them."""
    user = await api.user()
    account = await api.account(user)
    key = (await new_key(http, user, ["read", "write"]))["key"]
    assert (await http.post("/api/auth/logout-all", headers=user.headers)).status_code == 200
    r = await http.post(
        "/api/instagram/scheduling/media/upload",
        files={"file": ("a.jpg", _jpeg(), "image/jpeg")},
        headers=bearer(key),
    )
    assert r.status_code == 201, r.text
    media_id = r.json()["id"]
    r = await http.post(
        "/api/instagram/scheduling/posts",
        json={
            "instagramAccountId": str(account.id),
            "caption": "from a key",
            "mediaType": "IMAGE",
            "mediaIds": [media_id],
            "scheduledFor": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        },
        headers=bearer(key),
    )
    assert r.status_code == 201, r.text


def _jpeg() -> bytes:
    from tests.media.files import jpeg_bytes

    return jpeg_bytes(1080, 1080)


async def test_rate_limit_per_key_with_headers(
    api: Api, http: httpx.AsyncClient, app_settings: Settings
) -> None:
    user = await api.user()
    first = (await new_key(http, user, ["read"]))["key"]
    second = (await new_key(http, user, ["read"]))["key"]
    settings = app_settings.model_copy(
        update={
            "api_key_rate_limit": 3,
            "api_key_rate_window_seconds": 120,
            "queue_prefix": f"{app_settings.queue_prefix}-{secrets.token_hex(3)}",
        }
    )
    async with second_app(settings) as app, client_of(app) as client:
        remaining = []
        for _ in range(3):
            r = await client.get("/api/auth/me", headers=bearer(first))
            assert r.status_code == 200, r.text
            assert r.headers["ratelimit-limit"] == "3"
            assert 0 < int(r.headers["ratelimit-reset"]) <= 120
            remaining.append(r.headers["ratelimit-remaining"])
        assert remaining == ["2", "1", "0"]
        r = await client.get("/api/auth/me", headers=bearer(first))
        assert r.status_code == 429, r.text
        assert 0 < int(r.headers["retry-after"]) <= 120
        assert r.headers["ratelimit-remaining"] == "0"
        assert "over its limit of 3 requests per 120 s" in r.json()["message"]
        # Per key: another key of the same user is not limited by the first one's use.
        r = await client.get("/api/auth/me", headers=bearer(second))
        assert r.status_code == 200 and r.headers["ratelimit-remaining"] == "2"
        # A login's token is not counted.
        r = await client.get("/api/auth/me", headers=user.headers)
        assert r.status_code == 200 and "ratelimit-limit" not in r.headers
