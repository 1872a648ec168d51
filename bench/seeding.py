"""What bench/run seeds before and for its rows: `setup` (the bench user, its sandbox accounts
connected through the API, one uploaded JPEG), `seed_list` (posts by SQL, with their queue jobs,
for the list rows) and `many_accounts` (thousands of sandbox accounts whose rows are written
by SQL, for the publishing rows)."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from benchlib import connect_account, jpeg, sign_up
from harness import BASE, Server


@dataclass
class Setup:
    headers: dict[str, str]
    user_id: uuid.UUID
    accounts: list[uuid.UUID]  # 0: create, 1: list, 2: optimal times, 3: single; rest: publish
    asset: dict[str, Any]
    # Where the accounts, media and posts are (docs/workspaces.md): the personal workspace (the
    # user's id) unless --workspace shared.
    workspace_id: uuid.UUID
    password: str  # bench/scale's seeded users share its hash


async def setup(http: httpx.AsyncClient, server: Server, workspace: str) -> Setup:
    """The bench user (logged in; --workspace: which workspace its requests name), 4 + 20
    sandbox accounts connected through the API and one uploaded JPEG."""
    email, password = f"bench-{secrets.token_hex(6)}@example.com", secrets.token_urlsafe(16)
    signed_up, headers = await sign_up(http, email, password)
    user_id = uuid.UUID(signed_up)
    workspace_id = user_id
    if workspace == "personal":  # the header naming the personal one: no lookup
        headers["X-Workspace-Id"] = str(user_id)
    elif workspace == "shared":  # a workspace of its own: one membership read
        r = await http.post("/api/workspaces", json={"name": "bench"}, headers=headers)
        r.raise_for_status()
        workspace_id = uuid.UUID(r.json()["id"])
        headers["X-Workspace-Id"] = str(workspace_id)
    accounts: list[uuid.UUID] = []
    for i in range(4 + 20):
        user = {"username": f"bench_{secrets.token_hex(3)}_{i}", "followers": 1000}
        account = await connect_account(http, headers, user, sandbox=server.sandbox)
        accounts.append(uuid.UUID(account["id"]))
    r = await http.post(
        f"{BASE}/media/upload",
        files={"file": ("bench.jpg", jpeg(), "image/jpeg")},
        headers=headers,
    )
    r.raise_for_status()
    return Setup(headers, user_id, accounts, r.json(), workspace_id, password)


async def seed_list(server: Server, s: Setup, count: int) -> None:
    """`count` posts in account 1 by SQL (bench/posts_bench.py), every scheduled one with its
    delayed job."""
    import asyncpg
    from posts_bench import seed

    from instasched.config import plain_database_url
    from instasched.worker.queue import PublishQueue

    started = time.perf_counter()
    await seed(
        server.database_url,
        workspace_id=str(s.workspace_id),
        account_id=str(s.accounts[1]),
        asset=s.asset,
        rows=count,
    )
    # Like the API: every scheduled post has its delayed job (else the reconciler adds them
    # during the measurement).
    conn = await asyncpg.connect(plain_database_url(server.database_url))
    try:
        rows = await conn.fetch(
            "SELECT id, scheduled_for FROM instagram_scheduled_posts "
            "WHERE instagram_account_id = $1 AND status = 'scheduled'",
            s.accounts[1],
        )
    finally:
        await conn.close()
    queue = PublishQueue(server.env["REDIS_URL"], prefix=server.prefix)
    try:
        for i in range(0, len(rows), 5000):
            await queue.schedule_many([(r["id"], r["scheduled_for"]) for r in rows[i : i + 5000]])
    finally:
        await queue.close()
    print(
        f"  seeded {count} posts (+{len(rows)} jobs) in {time.perf_counter() - started:.1f} s",
        flush=True,
    )


async def many_accounts(
    http: httpx.AsyncClient, server: Server, s: Setup, count: int
) -> list[uuid.UUID]:
    """`count` sandbox accounts of the bench user: sandbox users made through the control
    API (50 at once), their rows written straight into PostgreSQL with the tokens encrypted
    as the accounts API does (connecting 5,000 through the API takes minutes)."""
    from sqlalchemy import insert
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from instasched.config import normalise_database_url
    from instasched.models import InstagramAccount
    from instasched.security import TokenCipher

    cipher = TokenCipher(server.env["TOKEN_ENCRYPTION_KEY"])
    tag = secrets.token_hex(3)
    gate = asyncio.Semaphore(50)

    async def user(i: int) -> dict[str, Any]:
        async with gate:
            r = await http.post(
                f"{server.sandbox}/_control/users",
                json={"username": f"fl_{tag}_{i}"},
            )
            r.raise_for_status()
            body = r.json()
        return {
            "id": uuid.uuid4(),
            "workspace_id": s.workspace_id,
            "ig_user_id": body["igUserId"],
            "username": body["username"],
            "login_kind": "instagram",
            "access_token_encrypted": cipher.encrypt(body["accessToken"]),
            "token_expires_at": datetime.now(UTC) + timedelta(seconds=body["expiresIn"]),
            "timezone": "UTC",
            "publishing_quota": 1_000_000,
        }

    started = time.perf_counter()
    rows = await asyncio.gather(*(user(i) for i in range(count)))
    engine = create_async_engine(normalise_database_url(server.database_url), poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            for i in range(0, len(rows), 1000):
                await conn.execute(insert(InstagramAccount), rows[i : i + 1000])
    finally:
        await engine.dispose()
    print(f"  {count:,} accounts in {time.perf_counter() - started:.1f} s", flush=True)
    return [row["id"] for row in rows]
