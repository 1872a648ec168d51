"""The list stays an index walk with 100,000 posts in one account (plan, not timing)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.db import PLANNER_SETTINGS, create_engine, driver_connection
from instasched.posts import repository
from tests.posts.conftest import Poster, iso

ROWS = 100_000

SEED = text(
    """
    INSERT INTO instagram_scheduled_posts
        (instagram_account_id, workspace_id, scheduled_for, caption, media_urls, media_type, status)
    SELECT :account, :user,
           now() + interval '1 day' + (g * interval '1 minute'),
           'seeded post ' || g, '[]'::jsonb, 'IMAGE',
           (ARRAY['scheduled','scheduled','scheduled','published','failed','cancelled'])[1 + g % 6]
    FROM generate_series(1, :rows) AS g
    """
)


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes.extend(plan_nodes(child))
    return nodes


OTHERS = text(
    """
    WITH owner AS (
        INSERT INTO users (email, password_hash)
        SELECT 'plan-' || md5(random()::text) || '-' || g || '@example.com', 'x'
        FROM generate_series(1, 20) AS g RETURNING id
    ), accounts AS (
        INSERT INTO instagram_accounts (workspace_id, ig_user_id, username, access_token_encrypted)
        SELECT id, md5(random()::text), 'other', 'x' FROM owner RETURNING id, workspace_id
    )
    INSERT INTO instagram_scheduled_posts
        (instagram_account_id, workspace_id, scheduled_for, caption, media_urls, media_type, status)
    SELECT a.id, a.workspace_id, now() + interval '1 day' + (g * interval '1 minute'),
           'other account post', '[]'::jsonb, 'IMAGE', 'scheduled'
    FROM accounts AS a CROSS JOIN generate_series(1, :rows) AS g
    """
)


async def explain(db: AsyncSession, sql: str, *args: Any) -> list[dict[str, Any]]:
    """EXPLAIN the SQL as the repository runs it (same planner settings, same parameters)."""
    for name, value in PLANNER_SETTINGS.items():  # as every app connection has them
        await db.execute(text(f"SET LOCAL {name} = {value}"))
    conn = await driver_connection(db)
    raw = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
    await db.rollback()
    data = raw if isinstance(raw, list) else json.loads(raw)
    return plan_nodes(data[0]["Plan"])


CLEANUP = [
    text("DELETE FROM users WHERE email LIKE 'plan-%@example.com'"),
    text(
        "DELETE FROM instagram_scheduled_posts"
        " WHERE instagram_account_id = :account AND caption LIKE 'seeded post %'"
    ),
]


async def test_list_plan_uses_the_composite_indexes_with_100k_posts(
    poster: Poster, db: AsyncSession, db_engine: Any
) -> None:
    try:
        await _check_plans(poster, db, db_engine)
    finally:
        # The 200,000 seeded rows are `scheduled`: a reconciler in a later test would enqueue them.
        await db.rollback()
        await db.execute(CLEANUP[0])
        await db.execute(CLEANUP[1], {"account": poster.account.id})
        await db.commit()


async def _check_plans(poster: Poster, db: AsyncSession, db_engine: Any) -> None:
    # 100,000 posts in this account, and as many in 20 other accounts, interleaved in time (the
    # case where walking the time index and filtering by account reads most of the table).
    await db.execute(SEED, {"account": poster.account.id, "user": poster.user.id, "rows": ROWS})
    await db.execute(OTHERS, {"rows": ROWS // 20})
    await db.commit()
    async with db_engine.connect() as conn:  # VACUUM runs outside a transaction
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE instagram_scheduled_posts"))

    aid = poster.account.id
    cases = [
        (
            repository.list_query(account_id=aid),
            "idx_scheduled_posts_account_time",
            (0, 2000),  # page 101 of 20
        ),
        (
            repository.list_query(account_id=aid, status="scheduled"),
            "idx_scheduled_posts_account_status_time",
            (0, 2000),  # page 101 of 20
        ),
        (
            repository.list_query(
                account_id=aid,
                scheduled_after=datetime.now(UTC) + timedelta(days=20),
                scheduled_before=datetime.now(UTC) + timedelta(days=30),
            ),
            "idx_scheduled_posts_account_time",
            (0,),  # about 14,400 posts in those 10 days: deeper pages may sort them
        ),
    ]
    for query, index, offsets in cases:
        for offset in offsets:
            nodes = await explain(db, query.page_sql(), *query.args, offset, 20)
            used = {n.get("Index Name") for n in nodes}
            kinds = {n["Node Type"] for n in nodes}
            assert index in used, (index, offset, kinds, used)
            assert "Seq Scan" not in kinds, kinds
            # The index gives the order: no full sort of the account's rows.
            assert "Sort" not in kinds, kinds
        count_nodes = await explain(db, query.count_sql, *query.args)
        assert "Seq Scan" not in {n["Node Type"] for n in count_nodes}

    # And the API answers correctly at that size.
    r = await poster.get(f"/posts/{aid}", params={"page": 500, "limit": 100, "status": "scheduled"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == ROWS // 2 and len(body["posts"]) == 100
    times = [p["scheduledFor"] for p in body["posts"]]
    assert times == sorted(times)
    r = await poster.get(
        f"/posts/{aid}",
        params={
            "scheduledAfter": iso(datetime.now(UTC) + timedelta(days=1, minutes=10)),
            "limit": 5,
        },
    )
    captions = [p["caption"] for p in r.json()["posts"]]
    assert len(captions) == 5 and all(c.startswith("seeded post ") for c in captions)


async def test_app_connections_carry_the_planner_settings(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            for name, value in PLANNER_SETTINGS.items():
                assert await conn.scalar(text(f"SHOW {name}")) == value
    finally:
        await engine.dispose()
