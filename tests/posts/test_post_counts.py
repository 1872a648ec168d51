"""instagram_post_counts (migrations 0005, 0006) stays equal to a real count through every kind
of write, also under concurrent moves in opposite directions and writes from many connections
(stripes), and the list's total reads it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg

from tests.factories import Api
from tests.posts.conftest import Poster

SEED = """
    INSERT INTO instagram_scheduled_posts
        (instagram_account_id, workspace_id, scheduled_for, caption, media_urls, media_type, status)
    SELECT $1, $2, now() + interval '1 day' + g * interval '1 minute', 'counted ' || g,
           '[]'::jsonb, 'IMAGE',
           (ARRAY['scheduled', 'scheduled', 'published', 'failed', 'cancelled'])[1 + g % 5]
    FROM generate_series(1, $3) AS g
"""
REAL = """
    SELECT status, count(*) FROM instagram_scheduled_posts
    WHERE instagram_account_id = $1 GROUP BY status
"""
# The sums of the stripes (migration 0006): what the list reads.
KEPT = """
    SELECT status, sum(n) AS n FROM instagram_post_counts WHERE instagram_account_id = $1
    GROUP BY status HAVING sum(n) <> 0
"""


async def _connect(database_url: str) -> Any:
    return await asyncpg.connect(database_url.replace("+asyncpg", ""))


async def _assert_exact(conn: Any, account: uuid.UUID) -> dict[str, int]:
    real = {r["status"]: r["count"] for r in await conn.fetch(REAL, account)}
    kept = {r["status"]: r["n"] for r in await conn.fetch(KEPT, account)}
    assert kept == real
    return kept


async def test_counts_follow_inserts_moves_and_deletes(
    poster: Poster, api: Api, database_url: str
) -> None:
    aid, uid = poster.account.id, poster.user.id
    other = await api.account(poster.user)  # same user, a second account
    conn = await _connect(database_url)
    try:
        await conn.execute(SEED, aid, uid, 500)  # one bulk INSERT: per-group upserts
        assert await _assert_exact(conn, aid) == {
            "scheduled": 200,
            "published": 100,
            "failed": 100,
            "cancelled": 100,
        }
        # Single-row and multi-row status moves, a move to another account, non-status updates.
        await conn.execute(
            "UPDATE instagram_scheduled_posts SET status = 'publishing'"
            " WHERE instagram_account_id = $1 AND status = 'scheduled' AND caption LIKE '%0'",
            aid,
        )
        await conn.execute(
            "UPDATE instagram_scheduled_posts SET status = 'published'"
            " WHERE id = (SELECT id FROM instagram_scheduled_posts"
            " WHERE instagram_account_id = $1 AND status = 'publishing' LIMIT 1)",
            aid,
        )
        await conn.execute(
            "UPDATE instagram_scheduled_posts SET instagram_account_id = $2"
            " WHERE instagram_account_id = $1 AND status = 'failed' AND caption LIKE '%3'",
            aid,
            other.id,
        )
        await conn.execute(
            "UPDATE instagram_scheduled_posts SET caption = caption || '!', status = status"
            " WHERE instagram_account_id = $1",
            aid,
        )
        await conn.execute(
            "DELETE FROM instagram_scheduled_posts"
            " WHERE instagram_account_id = $1 AND status = 'cancelled' AND caption LIKE '%4!'",
            aid,
        )
        # A rolled-back change leaves the counts as they were.
        tx = conn.transaction()
        await tx.start()
        await conn.execute(
            "DELETE FROM instagram_scheduled_posts WHERE instagram_account_id = $1", aid
        )
        await tx.rollback()
        counted = await _assert_exact(conn, aid)
        assert counted == {
            "scheduled": 150,
            "publishing": 49,
            "published": 101,
            "failed": 50,  # 50 moved to the other account...
            "cancelled": 50,
        }
        assert await _assert_exact(conn, other.id) == {"failed": 50}  # ...arrived there
        # The API's totals are the kept counts (no date range) and real counts (date range).
        path = f"/posts/{aid}"
        body = (await poster.get(path, params={"limit": 5})).json()
        assert body["total"] == sum(counted.values())
        for status, n in counted.items():
            body = (await poster.get(path, params={"status": status, "limit": 1})).json()
            assert body["total"] == n, status
        body = (
            await poster.get(path, params={"scheduledAfter": "2000-01-01T00:00:00Z", "limit": 1})
        ).json()
        assert body["total"] == sum(counted.values())
        # Deleting the account removes its posts and its counts.
        await conn.execute("DELETE FROM instagram_accounts WHERE id = $1", aid)
        assert await conn.fetch(KEPT, aid) == []
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM instagram_post_counts WHERE instagram_account_id = $1", aid
            )
            == 0
        )
    finally:
        await conn.close()


async def test_opposite_moves_at_once_neither_deadlock_nor_drift(
    poster: Poster, database_url: str
) -> None:
    """Claims (scheduled -> publishing) and retries (publishing -> scheduled) of one account's
    posts at the same time: the counter rows are taken in one order, so no deadlock."""
    aid, uid = poster.account.id, poster.user.id
    setup = await _connect(database_url)
    try:
        await setup.execute(SEED, aid, uid, 200)
        await setup.execute(
            "UPDATE instagram_scheduled_posts SET status = 'publishing'"
            " WHERE instagram_account_id = $1 AND status = 'scheduled' AND caption LIKE '%1'",
            aid,
        )
        ids = [
            (r["id"], r["status"])
            for r in await setup.fetch(
                "SELECT id, status FROM instagram_scheduled_posts WHERE instagram_account_id = $1"
                " AND status IN ('scheduled', 'publishing')",
                aid,
            )
        ]
    finally:
        await setup.close()

    async def mover(rows: list[tuple[uuid.UUID, str]]) -> None:
        conn = await _connect(database_url)
        try:
            for _ in range(5):
                for post_id, status in rows:
                    target = "publishing" if status == "scheduled" else "scheduled"
                    async with conn.transaction():  # two moves per transaction, both ways
                        await conn.execute(
                            "UPDATE instagram_scheduled_posts SET status = $2 WHERE id = $1",
                            post_id,
                            target,
                        )
                        await conn.execute(
                            "UPDATE instagram_scheduled_posts SET status = $2 WHERE id = $1",
                            post_id,
                            status,
                        )
        finally:
            await conn.close()

    await asyncio.gather(*(mover(ids[i::6]) for i in range(6)))
    check = await _connect(database_url)
    try:
        await _assert_exact(check, aid)
    finally:
        await check.close()


async def test_writers_on_many_connections_use_their_own_stripes(
    poster: Poster, database_url: str
) -> None:
    """Posts added and removed through many connections at once: the counts spread over
    stripes (one per connection's pid modulo 16) and their sums stay exact."""
    aid, uid = poster.account.id, poster.user.id

    async def writer(i: int) -> int:
        conn = await _connect(database_url)
        try:
            await conn.execute(SEED, aid, uid, 10)  # 4 scheduled, 2 each of the others
            await conn.execute(
                "DELETE FROM instagram_scheduled_posts WHERE id = (SELECT id FROM"
                " instagram_scheduled_posts WHERE instagram_account_id = $1 AND status ="
                " 'published' LIMIT 1 FOR UPDATE SKIP LOCKED)",
                aid,
            )
            return int(await conn.fetchval("SELECT pg_backend_pid() % 16"))
        finally:
            await conn.close()

    stripes = await asyncio.gather(*(writer(i) for i in range(8)))
    check = await _connect(database_url)
    try:
        kept = await _assert_exact(check, aid)
        assert kept == {"scheduled": 32, "published": 8, "failed": 16, "cancelled": 16}
        used = {
            r["stripe"]
            for r in await check.fetch(
                "SELECT stripe FROM instagram_post_counts WHERE instagram_account_id = $1", aid
            )
        }
        assert used == set(stripes)
    finally:
        await check.close()
