"""Instagram accounts: connect (token checks, exchange, encryption), update, delete, isolation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.config import Settings
from instasched.models import InstagramAccount, PostingSchedule, PostTemplate, ScheduledPost
from instasched.security import TokenCipher
from tests.factories import Api
from tests.foundation.conftest import client_of, second_app

ACCOUNTS = "/api/instagram/accounts"


async def _stored_token(db: AsyncSession, cipher: TokenCipher, account_id: uuid.UUID) -> str:
    encrypted = await db.scalar(
        select(InstagramAccount.access_token_encrypted).where(InstagramAccount.id == account_id)
    )
    assert encrypted
    return cipher.decrypt(encrypted)


async def test_connect_with_a_bad_token_is_422_with_metas_message(
    api: Api, http: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await api.user()
    r = await http.post(
        ACCOUNTS, json={"accessToken": "IGSLnot-a-real-token"}, headers=user.headers
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert "Invalid OAuth access token" in body["message"]
    assert body["detail"][0]["field"] == "accessToken"
    count = await db.scalar(
        select(func.count())
        .select_from(InstagramAccount)
        .where(InstagramAccount.workspace_id == user.id)
    )
    assert count == 0

    r = await http.post(ACCOUNTS, json={"accessToken": ""}, headers=user.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "accessToken"
    sb = await api.sandbox_user()
    r = await http.post(
        ACCOUNTS,
        json={"accessToken": sb["accessToken"], "timezone": "Mars/Olympus"},
        headers=user.headers,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "timezone"


async def test_short_lived_token_is_exchanged_for_a_long_lived_one(
    api: Api, http: httpx.AsyncClient, db: AsyncSession, cipher: TokenCipher
) -> None:
    user = await api.user()
    sb = await api.sandbox_user()
    r = await http.post("/sandbox/_control/tokens/short-lived", json={"igUserId": sb["igUserId"]})
    short = r.json()["accessToken"]
    assert r.json()["expiresIn"] <= 3600

    r = await http.post(
        ACCOUNTS, json={"accessToken": short, "timezone": "Asia/Tokyo"}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    account = r.json()
    assert account["igUserId"] == sb["igUserId"] and account["username"] == sb["username"]
    assert account["timezone"] == "Asia/Tokyo" and account["needsReauth"] is False
    assert account["loginKind"] == "instagram"
    expires = datetime.fromisoformat(account["tokenExpiresAt"])
    assert expires - datetime.now(UTC) > timedelta(days=59)
    stored = await _stored_token(db, cipher, uuid.UUID(account["id"]))
    assert stored != short and stored.startswith("IGSL"), "a long-lived token is stored"
    r = await http.get("/sandbox/me", params={"access_token": stored, "fields": "user_id"})
    assert r.status_code == 200 and r.json()["user_id"] == sb["igUserId"]

    # Connecting the same Instagram account again updates the row (one per owner + IG user).
    r = await http.post(ACCOUNTS, json={"accessToken": sb["accessToken"]}, headers=user.headers)
    assert r.status_code == 201 and r.json()["id"] == account["id"]
    assert r.json()["timezone"] == "Asia/Tokyo"
    r = await http.get(ACCOUNTS, headers=user.headers)
    assert [a["id"] for a in r.json()] == [account["id"]]


async def test_access_tokens_are_encrypted_at_rest(
    api: Api, db: AsyncSession, cipher: TokenCipher
) -> None:
    user = await api.user()
    account = await api.account(user)
    stored = await _stored_token(db, cipher, account.id)
    secrets_to_hide = {account.access_token, stored}

    row = await db.scalar(select(InstagramAccount).where(InstagramAccount.id == account.id))
    assert row is not None
    for token in secrets_to_hide:
        assert token not in row.access_token_encrypted
    # A pg_dump-like scan: the text of every row of every table in the schema.
    tables = (
        await db.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        )
    ).scalars()
    dump = []
    for table in tables:
        rows = await db.execute(text(f'SELECT t::text FROM "{table}" t'))
        dump.extend(r[0] for r in rows)
    everything = "\n".join(dump)
    assert row.access_token_encrypted in everything, "the scan sees the accounts table"
    for token in secrets_to_hide:
        assert token not in everything


async def test_patch_timezone(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    account = await api.account(user)
    url = f"{ACCOUNTS}/{account.id}"
    for bad in ("Not/AZone", "", "../etc/passwd", "Europe/Paris "):
        r = await http.patch(url, json={"timezone": bad}, headers=user.headers)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"][0]["field"] == "timezone"
    r = await http.patch(url, json={}, headers=user.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "timezone"
    r = await http.patch(url, json={"timezone": "America/New_York"}, headers=user.headers)
    assert r.status_code == 200 and r.json()["timezone"] == "America/New_York"
    r = await http.get(url, headers=user.headers)
    assert r.json()["timezone"] == "America/New_York"


async def _insert_children(db: AsyncSession, user_id: uuid.UUID, account_id: uuid.UUID) -> None:
    db.add(
        ScheduledPost(
            instagram_account_id=account_id,
            workspace_id=user_id,
            scheduled_for=datetime.now(UTC) + timedelta(days=1),
            caption="hello",
            media_type="IMAGE",
        )
    )
    db.add(
        PostTemplate(
            workspace_id=user_id,
            instagram_account_id=account_id,
            name="t",
            caption_template="Hi {{name}}",
        )
    )
    db.add(PostingSchedule(instagram_account_id=account_id, day_of_week=1, time_slots=["09:00"]))
    await db.commit()


async def _children(db: AsyncSession, account_id: uuid.UUID) -> tuple[int, int, int]:
    counts = []
    for model in (ScheduledPost, PostTemplate, PostingSchedule):
        counts.append(
            await db.scalar(
                select(func.count())
                .select_from(model)
                .where(model.instagram_account_id == account_id)
            )
            or 0
        )
    return counts[0], counts[1], counts[2]


async def test_delete_cascades_to_posts_templates_schedules(
    api: Api, http: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await api.user()
    doomed = await api.account(user)
    kept = await api.account(user)
    await _insert_children(db, user.id, doomed.id)
    await _insert_children(db, user.id, kept.id)
    assert await _children(db, doomed.id) == (1, 1, 1)

    r = await http.delete(f"{ACCOUNTS}/{doomed.id}", headers=user.headers)
    assert r.status_code == 200, r.text
    assert await _children(db, doomed.id) == (0, 0, 0)
    assert await _children(db, kept.id) == (1, 1, 1)
    gone = await db.scalar(select(InstagramAccount.id).where(InstagramAccount.id == doomed.id))
    assert gone is None
    r = await http.get(f"{ACCOUNTS}/{doomed.id}", headers=user.headers)
    assert r.status_code == 404
    r = await http.delete(f"{ACCOUNTS}/{doomed.id}", headers=user.headers)
    assert r.status_code == 404


async def test_two_users_are_isolated(api: Api, http: httpx.AsyncClient) -> None:
    alice = await api.user()
    bob = await api.user()
    account = await api.account(alice)
    url = f"{ACCOUNTS}/{account.id}"

    r = await http.get(url, headers=bob.headers)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = await http.patch(url, json={"timezone": "Europe/Berlin"}, headers=bob.headers)
    assert r.status_code == 404
    r = await http.delete(url, headers=bob.headers)
    assert r.status_code == 404
    r = await http.get(ACCOUNTS, headers=bob.headers)
    assert r.json() == []

    # A missing id answers exactly like another user's id.
    r = await http.get(f"{ACCOUNTS}/{uuid.uuid4()}", headers=bob.headers)
    assert r.status_code == 404
    r = await http.get(f"{ACCOUNTS}/not-a-uuid", headers=bob.headers)
    assert r.status_code == 422

    # Alice's account is untouched.
    r = await http.get(url, headers=alice.headers)
    assert r.status_code == 200 and r.json()["timezone"] == "UTC"

    # Bob connecting the same Instagram account gets his own row; Alice's stays.
    r = await http.post(ACCOUNTS, json={"accessToken": account.access_token}, headers=bob.headers)
    assert r.status_code == 201 and r.json()["id"] != str(account.id)
    r = await http.get(url, headers=alice.headers)
    assert r.status_code == 200


async def test_a_hung_instagram_holds_no_database_connection(
    api: Api, app_settings: Settings, silent_server: int
) -> None:
    """Connecting accounts while Instagram does not answer (each call waits up to
    GRAPH_TIMEOUT_SECONDS): more of them than the API has pooled connections, and another
    authenticated request still answers, because a connect holds none while it waits."""
    settings = app_settings.model_copy(
        update={
            "instagram_sandbox": "false",
            "instagram_app_id": "app",
            "instagram_app_secret": "secret",
            "instagram_graph_url": f"http://127.0.0.1:{silent_server}",
            "graph_timeout_seconds": 8.0,
            "database_pool_size": 1,  # two connections per pool
        }
    )
    user, other = await api.user(), await api.user()
    async with second_app(settings) as app, client_of(app) as client:
        connects = [
            asyncio.create_task(
                client.post(
                    "/api/instagram/accounts",
                    json={"accessToken": f"token-{n}", "timezone": "UTC"},
                    headers=user.headers,
                )
            )
            for n in range(4)
        ]
        await asyncio.sleep(1.0)  # every connect is waiting for Instagram
        r = await asyncio.wait_for(client.get("/api/auth/me", headers=other.headers), 5)
        assert r.status_code == 200, r.text
        assert not any(c.done() for c in connects), "the connects were still waiting"
        for r in await asyncio.gather(*connects):
            assert r.status_code == 502, r.text  # Instagram could not be reached
