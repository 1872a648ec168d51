"""The daily token refresh against the sandbox (which enforces the >= 24 h rule for real)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instasched.accounts.tasks import refresh_expiring_tokens
from instasched.integrations.instagram import GraphClient
from instasched.models import InstagramAccount
from instasched.observability.metrics import REGISTRY
from instasched.security import TokenCipher
from tests.factories import Account, Api

DAY = 86400


async def _row(db: AsyncSession, account_id: uuid.UUID) -> InstagramAccount:
    db.expire_all()
    row = await db.scalar(select(InstagramAccount).where(InstagramAccount.id == account_id))
    assert row is not None
    return row


async def _age(
    http: httpx.AsyncClient,
    db: AsyncSession,
    cipher: TokenCipher,
    account: Account,
    *,
    days: int,
    in_sandbox: bool = True,
) -> str:
    """Make the account's stored token `days` old, in our database and (optionally) in Meta's."""
    row = await _row(db, account.id)
    token = cipher.decrypt(row.access_token_encrypted)
    if in_sandbox:
        r = await http.post(
            "/sandbox/_control/tokens/age", json={"accessToken": token, "seconds": days * DAY}
        )
        assert r.status_code == 200, r.text
        assert r.json()["ageSeconds"] >= days * DAY
    now = datetime.now(UTC)
    await db.execute(
        update(InstagramAccount)
        .where(InstagramAccount.id == account.id)
        .values(
            token_refreshed_at=now - timedelta(days=days),
            token_expires_at=now + timedelta(days=60 - days),
        )
    )
    await db.commit()
    return token


async def test_refresh_expiring_tokens(
    api: Api,
    http: httpx.AsyncClient,
    db: AsyncSession,
    cipher: TokenCipher,
    graph: GraphClient,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    user = await api.user()
    due = await api.account(user)  # 52 days old, expires in 8 days: refreshed
    revoked = await api.account(user)  # due, but Meta says 190: needs re-auth
    young_at_meta = await api.account(user)  # due in our table, < 24 h old at Meta: left alone
    fresh = await api.account(user)  # expires in 60 days: not due
    recent = await api.account(user)  # expires within 10 days but refreshed < 24 h ago: not due

    old_token = await _age(http, db, cipher, due, days=52)
    await _age(http, db, cipher, revoked, days=52)
    r = await http.post(f"/sandbox/_control/users/{revoked.ig_user_id}/revoke")
    assert r.status_code == 200 and r.json()["revoked"] >= 1
    young_token = await _age(http, db, cipher, young_at_meta, days=52, in_sandbox=False)
    await db.execute(
        update(InstagramAccount)
        .where(InstagramAccount.id == recent.id)
        .values(token_expires_at=datetime.now(UTC) + timedelta(days=5))
    )
    await db.commit()
    before = {a.id: (await _row(db, a.id)).access_token_encrypted for a in (fresh, recent)}

    def metric(result: str) -> float:
        value = REGISTRY.get_sample_value("instasched_token_refreshes_total", {"result": result})
        return float(value or 0.0)

    counts_before = {r: metric(r) for r in ("refreshed", "needs_reauth", "error")}
    refreshed = await refresh_expiring_tokens(session_factory, graph, cipher)
    assert refreshed == 1
    # One refreshed, one 190 (needs re-auth), one refused as too young at Meta (error).
    assert {r: metric(r) - counts_before[r] for r in counts_before} == {
        "refreshed": 1,
        "needs_reauth": 1,
        "error": 1,
    }

    row = await _row(db, due.id)
    new_token = cipher.decrypt(row.access_token_encrypted)
    assert new_token != old_token and new_token.startswith("IGSL")
    assert row.token_expires_at is not None and row.token_refreshed_at is not None
    assert row.token_expires_at - datetime.now(UTC) > timedelta(days=59)
    assert datetime.now(UTC) - row.token_refreshed_at < timedelta(minutes=5)
    assert row.needs_reauth is False
    me = await graph.get_me(new_token)
    assert me.user_id == due.ig_user_id

    row = await _row(db, revoked.id)
    assert row.needs_reauth is True
    r = await http.get(f"/api/instagram/accounts/{revoked.id}", headers=user.headers)
    assert r.json()["needsReauth"] is True

    row = await _row(db, young_at_meta.id)
    assert cipher.decrypt(row.access_token_encrypted) == young_token
    assert row.needs_reauth is False, "an error other than 190 leaves the account for next time"

    for account in (fresh, recent):
        row = await _row(db, account.id)
        assert row.access_token_encrypted == before[account.id]

    # The next run has nothing to do: the refreshed token is young again, 190 is not retried.
    assert await refresh_expiring_tokens(session_factory, graph, cipher) == 0

    # `now` moves the clock of the selection (the sandbox still checks the real token age).
    later = datetime.now(UTC) + timedelta(days=55)
    assert await refresh_expiring_tokens(session_factory, graph, cipher, now=later) == 0
    row = await _row(db, fresh.id)
    assert row.access_token_encrypted == before[fresh.id] and row.needs_reauth is False


async def test_facebook_login_page_tokens_are_not_refreshed(
    api: Api,
    http: httpx.AsyncClient,
    db: AsyncSession,
    cipher: TokenCipher,
    graph: GraphClient,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A Page token has no expiry and graph.facebook.com has no ig_refresh_token: even with
    an expiry and an age that would make an Instagram Login token due, it is left alone (and
    the Instagram refresh is never called with it)."""
    user = await api.user()
    account = await api.account(user, login_kind="facebook")
    row = await _row(db, account.id)
    assert row.token_expires_at is None
    before = row.access_token_encrypted
    now = datetime.now(UTC)
    await db.execute(
        update(InstagramAccount)
        .where(InstagramAccount.id == account.id)
        .values(
            token_refreshed_at=now - timedelta(days=52), token_expires_at=now + timedelta(days=8)
        )
    )
    await db.commit()
    await refresh_expiring_tokens(session_factory, graph, cipher)
    row = await _row(db, account.id)
    assert row.access_token_encrypted == before and row.needs_reauth is False
