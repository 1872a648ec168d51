"""The statement-level triggers of migration 0011: the post counts and the asset uses stay equal
to COUNT(*) through bulk writes by SQL (an import), bulk moves of status, account, time and
media, bulk deletes, a deleted asset and a deleted account; and the migration counts the uses
the code had counted (or missed) again from the posts."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from instasched.config import database_url_for
from instasched.migrate import downgrade, upgrade
from tests.factories import Api
from tests.posts import test_approvals
from tests.posts.conftest import Poster

# Posts of user $1 in account $2: $3 rows, media_ids from the array of arrays $4 (row g takes
# element 1 + g % len), statuses in turn.
IMPORT = """
    INSERT INTO instagram_scheduled_posts
        (instagram_account_id, workspace_id, scheduled_for, caption, media_urls, media_ids,
         media_type, status)
    SELECT $2, $1, now() + interval '1 day' + g * interval '1 hour', 'imported ' || g,
           '[]'::jsonb, ($4::jsonb) -> (g % jsonb_array_length($4::jsonb)), 'IMAGE',
           (ARRAY['scheduled', 'scheduled', 'published', 'failed', 'cancelled'])[1 + g % 5]
    FROM generate_series(1, $3::int) AS g
"""
POSTS_REAL = """
    SELECT instagram_account_id, status, count(*) FROM instagram_scheduled_posts
    WHERE workspace_id = $1 GROUP BY 1, 2
"""
POSTS_KEPT = """
    SELECT c.instagram_account_id, c.status, sum(c.n) FROM instagram_post_counts c
    JOIN instagram_accounts a ON a.id = c.instagram_account_id WHERE a.workspace_id = $1
    GROUP BY 1, 2 HAVING sum(c.n) <> 0
"""
USES_REAL = """
    SELECT a.id, count(*) FROM instagram_scheduled_posts p,
        jsonb_array_elements_text(p.media_ids) AS e
    JOIN instagram_media_assets a ON a.id = e::uuid
    WHERE p.workspace_id = $1 GROUP BY 1
"""
USES_KEPT = """
    SELECT a.id, coalesce(a.used_in_posts, 0) + sum(u.uses) FROM instagram_media_assets a
    JOIN instagram_media_asset_uses u ON u.asset_id = a.id WHERE a.workspace_id = $1
    GROUP BY a.id HAVING coalesce(a.used_in_posts, 0) + sum(u.uses) <> 0
"""
LAST_USED = """
    SELECT max(u.last_used_at) FROM instagram_media_asset_uses u WHERE u.asset_id = $1
"""


def _at_0010(sql: str) -> str:
    """The statement as the schema before migration 0019 names the owner column."""
    return sql.replace("workspace_id", "user_id")


def _json(value: Any) -> str:
    """A JSON text for a `$n::jsonb` parameter."""
    return json.dumps(value)


async def _connect(database_url: str) -> Any:
    return await asyncpg.connect(database_url.replace("+asyncpg", ""))


async def _assert_exact(conn: Any, user: uuid.UUID) -> tuple[dict[Any, int], dict[Any, int]]:
    """The kept counts per (account, status) and per asset, each equal to COUNT(*)."""
    posts = {(r[0], r[1]): r[2] for r in await conn.fetch(POSTS_REAL, user)}
    assert {(r[0], r[1]): r[2] for r in await conn.fetch(POSTS_KEPT, user)} == posts
    uses = {r[0]: r[1] for r in await conn.fetch(USES_REAL, user)}
    assert {r[0]: r[1] for r in await conn.fetch(USES_KEPT, user)} == uses
    return posts, uses


async def _now(conn: Any) -> datetime:
    stamp: datetime = await conn.fetchval("SELECT now()")
    return stamp


async def test_bulk_writes_keep_counts_and_uses_exact(
    poster: Poster, api: Api, database_url: str
) -> None:
    uid, aid = poster.user.id, poster.account.id
    other = await api.account(poster.user)
    a, b, c = (await poster.image()).id, (await poster.image()).id, (await poster.image()).id
    gone = uuid.uuid4()  # an id of no asset (deleted before, or a bad import): not counted
    media = [[str(a)], [str(a), str(b), str(a)], [str(c)], [str(gone), str(b)]]
    conn = await _connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute(IMPORT, uid, aid, 2000, _json(media))
            imported_at = await _now(conn)
        posts, uses = await _assert_exact(conn, uid)
        assert sum(posts.values()) == 2000
        assert uses == {a: 1500, b: 1000, c: 500}  # a carousel repeating `a` counts it twice
        assert {await conn.fetchval(LAST_USED, x) for x in (a, b, c)} == {imported_at}

        # Bulk moves: status, account, time (no count changes), media (b -> c in a quarter).
        await conn.execute(
            "UPDATE instagram_scheduled_posts SET status = 'cancelled'"
            " WHERE workspace_id = $1 AND status = 'scheduled' AND caption LIKE '%0'",
            uid,
        )
        await conn.execute(
            "UPDATE instagram_scheduled_posts SET instagram_account_id = $2"
            " WHERE workspace_id = $1 AND caption LIKE '%3'",
            uid,
            other.id,
        )
        await conn.execute(
            "UPDATE instagram_scheduled_posts SET scheduled_for = scheduled_for + interval '1 h'"
            " WHERE workspace_id = $1",
            uid,
        )
        assert await conn.fetchval(LAST_USED, b) == imported_at  # other columns: no new use
        async with conn.transaction():
            await conn.execute(
                "UPDATE instagram_scheduled_posts SET media_ids = $2::jsonb"
                " WHERE workspace_id = $1 AND media_ids = $3::jsonb",
                uid,
                _json([str(a), str(c), str(a)]),
                _json(media[1]),
            )
            edited_at = await _now(conn)
        posts, uses = await _assert_exact(conn, uid)
        assert uses == {a: 1500, b: 500, c: 1000}
        assert await conn.fetchval(LAST_USED, c) == edited_at  # gained uses: used now
        assert await conn.fetchval(LAST_USED, b) == imported_at  # lost some: stamp kept
        assert posts[(other.id, "failed")] > 0 and posts[(aid, "cancelled")] > 400

        # A rolled-back bulk delete changes nothing; a committed one takes its rows off.
        tx = conn.transaction()
        await tx.start()
        await conn.execute("DELETE FROM instagram_scheduled_posts WHERE workspace_id = $1", uid)
        await tx.rollback()
        assert await _assert_exact(conn, uid) == (posts, uses)
        await conn.execute(
            "DELETE FROM instagram_scheduled_posts WHERE workspace_id = $1 AND caption LIKE '%1'",
            uid,
        )
        posts, uses = await _assert_exact(conn, uid)
        assert sum(posts.values()) == 1800

        # A deleted asset's uses go with it; later deletes of posts that named it do not fail.
        await conn.execute("DELETE FROM instagram_media_assets WHERE id = $1", b)
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM instagram_media_asset_uses WHERE asset_id = $1", b
            )
            == 0
        )
        await conn.execute(
            "DELETE FROM instagram_scheduled_posts WHERE workspace_id = $1 AND media_ids ? $2",
            uid,
            str(b),
        )
        posts, uses = await _assert_exact(conn, uid)
        assert set(uses) == {a, c}

        # Deleting an account removes its posts (cascaded), its counts and those posts' uses.
        await conn.execute("DELETE FROM instagram_accounts WHERE id = $1", aid)
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM instagram_post_counts WHERE instagram_account_id = $1", aid
            )
            == 0
        )
        posts, uses = await _assert_exact(conn, uid)
        assert {account for account, _ in posts} == {other.id}
        assert 0 < sum(uses.values()) < 1000
    finally:
        await conn.close()

    # What the media library shows is the kept count.
    listed = await poster.get("/media", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    shown = {item["id"]: item["usedInPosts"] for item in listed.json()["items"]}
    assert shown == {str(a): uses[a], str(c): uses[c]}


async def test_single_row_writes_on_many_connections(poster: Poster, database_url: str) -> None:
    """Single-row inserts, moves and deletes from many connections at once (the API's and the
    worker's writes): each connection writes its own stripe, the sums stay exact."""
    uid, aid = poster.user.id, poster.account.id
    asset = (await poster.image()).id

    async def writer() -> None:
        conn = await _connect(database_url)
        try:
            for i in range(20):
                post = await conn.fetchval(
                    "INSERT INTO instagram_scheduled_posts (instagram_account_id, workspace_id,"
                    " scheduled_for, caption, media_type, media_ids) VALUES ($1, $2,"
                    " now() + interval '1 day', 'one', 'IMAGE', $3::jsonb) RETURNING id",
                    aid,
                    uid,
                    _json([str(asset)]),
                )
                async with conn.transaction():  # a claim and a retry, as the worker's
                    for status in ("publishing", "scheduled"):
                        await conn.execute(
                            "UPDATE instagram_scheduled_posts SET status = $2 WHERE id = $1",
                            post,
                            status,
                        )
                if i % 4 == 0:
                    await conn.execute("DELETE FROM instagram_scheduled_posts WHERE id = $1", post)
        finally:
            await conn.close()

    await asyncio.gather(*(writer() for _ in range(8)))
    conn = await _connect(database_url)
    try:
        assert await _assert_exact(conn, uid) == ({(aid, "scheduled"): 120}, {asset: 120})
    finally:
        await conn.close()


async def test_migration_counts_uses_again_and_downgrades(servers: dict[str, str]) -> None:
    """Before 0011 the code counted uses: posts written by SQL were not counted, deleted ones
    not taken off. The upgrade counts them from the posts; the downgrade restores the row
    triggers with the counts still exact."""
    admin = servers["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    name = f"instasched_bulk_{secrets.token_hex(4)}"
    url = database_url_for(admin, name)
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        await asyncio.to_thread(upgrade, url, "0010")
        conn = await asyncpg.connect(url)
        try:
            user = await conn.fetchval(
                "INSERT INTO users (email, password_hash) VALUES ('m@x.invalid', 'x') RETURNING id"
            )
            account = await conn.fetchval(
                "INSERT INTO instagram_accounts (user_id, ig_user_id, username,"
                " access_token_encrypted, timezone) VALUES ($1, '1', 'm', 'x', 'UTC') RETURNING id",
                user,
            )
            assets = [
                await conn.fetchval(
                    "INSERT INTO instagram_media_assets (user_id, filename, original_filename,"
                    " mime_type, file_size, media_type, s3_bucket, s3_key, s3_url, used_in_posts)"
                    " VALUES ($1, 'a.jpg', 'a.jpg', 'image/jpeg', 1, 'image', 'b', $2, 'u', $3)"
                    " RETURNING id",
                    user,
                    f"k{i}",
                    7 * i,  # counted by the code once; its posts are gone since
                )
                for i in range(2)
            ]
            await conn.execute(_at_0010(IMPORT), user, account, 10, _json([[str(assets[0])]]))
        finally:
            await conn.close()

        await asyncio.to_thread(upgrade, url)
        conn = await asyncpg.connect(url)
        try:
            assert await _assert_exact(conn, user) == (
                {(account, "scheduled"): 4, (account, "published"): 2, (account, "failed"): 2,
                 (account, "cancelled"): 2},
                {assets[0]: 10},
            )  # fmt: skip
            assert await conn.fetchval("SELECT sum(used_in_posts) FROM instagram_media_assets") == 0
        finally:
            await conn.close()

        await asyncio.to_thread(downgrade, url, "0010")
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(_at_0010(IMPORT), user, account, 5, _json([[]]))
            await conn.execute("DELETE FROM instagram_scheduled_posts WHERE caption = 'imported 2'")
            real = await conn.fetch(_at_0010(POSTS_REAL), user)
            kept = await conn.fetch(_at_0010(POSTS_KEPT), user)
            assert {(r[0], r[1]): r[2] for r in kept} == {(r[0], r[1]): r[2] for r in real}
            assert sum(r[2] for r in real) == 13
        finally:
            await conn.close()
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def test_deleting_a_user_cascades_through_the_counts(
    poster: Poster, api: Api, database_url: str
) -> None:
    """A user's deletion cascades to accounts, assets and posts in one statement, in an order
    PostgreSQL picks: the triggers neither fail on what is already gone nor leave rows behind."""
    uid = poster.user.id
    other = await api.account(poster.user)
    asset = (await poster.image()).id
    conn = await _connect(database_url)
    try:
        await conn.execute(IMPORT, uid, poster.account.id, 50, _json([[str(asset)]]))
        await conn.execute(IMPORT, uid, other.id, 50, _json([[str(asset), str(asset)]]))
        assert (await _assert_exact(conn, uid))[1] == {asset: 150}
        await conn.execute("DELETE FROM users WHERE id = $1", uid)
        for table, column in (
            ("instagram_post_counts", "instagram_account_id"),
            ("instagram_media_asset_uses", "asset_id"),
        ):
            left = await conn.fetchval(
                f"SELECT count(*) FROM {table} WHERE {column} = ANY($1::uuid[])",
                [poster.account.id, other.id, asset],
            )
            assert left == 0, table
    finally:
        await conn.close()


# The approvals' team (an editor, an approver; approval required) for the test below.
team = test_approvals.team

# Posts in every status a post can have, in turn, each with media from $4 as IMPORT.
IMPORT_EVERY_STATUS = IMPORT.replace(
    "(ARRAY['scheduled', 'scheduled', 'published', 'failed', 'cancelled'])[1 + g % 5]",
    "(ARRAY['draft', 'needs_approval', 'changes_requested', 'approval_expired', 'scheduled',"
    " 'publishing', 'published', 'failed', 'cancelled'])[1 + g % 9]",
)


async def test_api_writes_and_every_status_keep_counts_and_uses_exact(
    team: test_approvals.Team, database_url: str
) -> None:
    """What the API writes (drafts, an editor's posts waiting for approval, approved, sent back,
    edited media, cancelled, duplicated) and bulk SQL over every status (drafts and posts
    waiting for approval included): the counts equal COUNT(*) over the posts, the uses the
    posts' real references, and the list's totals per status are those counts."""
    owner = team.owner
    uid, aid = owner.user.id, owner.account.id
    a, b = (await owner.image()).id, (await owner.image()).id
    conn = await _connect(database_url)
    try:
        draft = await team.create(owner.user, draft=True, scheduledFor=..., mediaIds=[str(a)])
        waiting = await team.create(team.editor, mediaIds=[str(b)])
        approved = await team.create(team.editor, mediaIds=[str(a)])
        sent_back = await team.create(team.editor, mediaIds=[str(b)])
        own = await team.create(owner.user, mediaIds=[str(a)])
        assert (draft["status"], waiting["status"]) == ("draft", "needs_approval")
        r = await team.call(team.approver, "POST", f"/posts/{approved['id']}/approve", json={})
        assert r.status_code == 200 and r.json()["status"] == "scheduled", r.text
        r = await team.call(
            team.approver, "POST", f"/posts/{sent_back['id']}/reject", json={"comment": "no"}
        )
        assert r.status_code == 200 and r.json()["status"] == "changes_requested", r.text
        r = await owner.put(f"/posts/{own['id']}", json={"mediaIds": [str(b)]})
        assert r.status_code == 200, r.text
        for post in (draft, approved):
            r = await owner.delete(f"/posts/{post['id']}")
            assert r.status_code in (200, 204), r.text
        r = await owner.post(f"/posts/{waiting['id']}/duplicate", json={})
        assert r.status_code == 201 and r.json()["status"] == "draft", r.text
        posts, uses = await _assert_exact(conn, uid)
        assert posts[(aid, "cancelled")] == 2 and posts[(aid, "draft")] == 1
        assert posts[(aid, "needs_approval")] == 1 and posts[(aid, "changes_requested")] == 1
        assert uses == {a: 2, b: 4}  # cancelled posts keep their media: their uses stay

        # Bulk SQL over every status: an import, moves along the approval path and back,
        # cancellations, media swapped, a delete.
        await conn.execute(IMPORT_EVERY_STATUS, uid, aid, 900, _json([[str(a)], [str(b), str(a)]]))
        await _assert_exact(conn, uid)
        for old, new, tail in (
            ("draft", "needs_approval", "%1"),
            ("needs_approval", "scheduled", "%2"),
            ("changes_requested", "draft", "%3"),
            ("scheduled", "cancelled", "%4"),
            ("needs_approval", "cancelled", "%5"),
        ):
            await conn.execute(
                "UPDATE instagram_scheduled_posts SET status = $3"
                " WHERE workspace_id = $1 AND status = $2 AND caption LIKE $4",
                uid,
                old,
                new,
                tail,
            )
        await conn.execute(
            "UPDATE instagram_scheduled_posts SET media_ids = $2::jsonb"
            " WHERE workspace_id = $1 AND status = 'draft' AND caption LIKE '%6'",
            uid,
            _json([str(b)]),
        )
        await conn.execute(
            "DELETE FROM instagram_scheduled_posts"
            " WHERE workspace_id = $1 AND status IN ('cancelled', 'draft') AND caption LIKE '%7'",
            uid,
        )
        posts, uses = await _assert_exact(conn, uid)
        assert {"draft", "needs_approval", "cancelled"} <= {status for _, status in posts}
    finally:
        await conn.close()

    for (_, status), n in posts.items():
        r = await owner.get(f"/posts/{aid}", params={"status": status, "limit": 1})
        assert r.status_code == 200 and r.json()["total"] == n, (status, r.text)
    r = await owner.get(f"/posts/{aid}", params={"limit": 1})
    assert r.json()["total"] == sum(posts.values())
