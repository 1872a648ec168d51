"""Optimal-times benchmark: 10,000 published posts, GET /optimal-times/{accountId} N times.

Starts nothing itself. Run a server first (sandbox enabled, the default without Instagram app
credentials), e.g. in another shell:

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/instasched_bench PORT=3100 script/server

then:

    .venv/bin/python bench/optimal_times_bench.py --base-url http://127.0.0.1:3100 \
        --database-url postgresql://postgres@127.0.0.1:5432/instasched_bench --requests 200

It registers a user, connects a sandbox account (timezone America/New_York), inserts --posts
published posts spread over two years (random hours, likes, comments, reach) straight into the
database, then measures (1) the endpoint over HTTP, one request at a time, and (2) the SQL
aggregate alone (the same query the endpoint runs) on a direct connection. Prints p50/p95/p99.
The seeded rows are deleted at the end (the user and its account too) unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from benchlib import connect_account, percentile, sign_up
from sqlalchemy import delete, insert, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from instasched.config import normalise_database_url
from instasched.models import ScheduledPost, User
from instasched.optimal_times import repository
from instasched.optimal_times.service import PRIOR_WEIGHT


def summary(name: str, ms: list[float]) -> str:
    return (
        f"{name}: n={len(ms)} p50={percentile(ms, 50):.2f} ms p95={percentile(ms, 95):.2f} ms "
        f"p99={percentile(ms, 99):.2f} ms max={max(ms):.2f} ms"
    )


async def setup_account(http: httpx.AsyncClient, timezone: str) -> tuple[dict[str, str], str]:
    email = f"bench-{secrets.token_hex(6)}@example.com"
    password = "pw-" + secrets.token_urlsafe(16)
    _, headers = await sign_up(http, email, password)
    user = {"username": f"bench_{secrets.token_hex(4)}", "timezone": timezone}
    account = await connect_account(http, headers, user, timezone=timezone)
    return headers, account["id"]


def fake_posts(count: int, user_id: uuid.UUID, account_id: uuid.UUID) -> list[dict[str, object]]:
    rng = random.Random(42)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    for _ in range(count):
        at = start + timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
        likes = int(rng.lognormvariate(4.5, 0.8))
        rows.append(
            {
                "workspace_id": user_id,
                "instagram_account_id": account_id,
                "caption": "bench",
                "media_type": "IMAGE",
                "media_urls": [],
                "status": "published",
                "scheduled_for": at,
                "published_at": at,
                "initial_likes": likes,
                "initial_comments": likes // rng.randint(5, 20),
                "initial_reach": likes * rng.randint(8, 30) if rng.random() < 0.8 else 0,
            }
        )
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--timezone", default="America/New_York")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    engine = create_async_engine(normalise_database_url(args.database_url))
    async with httpx.AsyncClient(base_url=args.base_url, timeout=60) as http:
        headers, account = await setup_account(http, args.timezone)
        account_id = uuid.UUID(account)
        async with engine.begin() as conn:
            user_id = (
                await conn.execute(
                    text("SELECT workspace_id FROM instagram_accounts WHERE id = :id"),
                    {"id": account_id},
                )
            ).scalar_one()
            rows = fake_posts(args.posts, user_id, account_id)
            for i in range(0, len(rows), 2000):
                await conn.execute(insert(ScheduledPost), rows[i : i + 2000])
            await conn.execute(text("ANALYZE instagram_scheduled_posts"))
        print(f"seeded {args.posts} published posts for account {account_id} ({args.timezone})")

        url = f"/api/instagram/scheduling/optimal-times/{account_id}"
        r = await http.get(url, headers=headers)
        r.raise_for_status()
        body = r.json()
        assert body["basis"] == "history" and body["publishedPosts"] == args.posts, body
        top = body["recommendations"][0]
        print(
            f"top slot: day {top['dayOfWeek']} {top['hour']:02d}:00 score={top['score']} "
            f"n={top['sampleSize']}"
        )
        for _ in range(10):  # warm up
            await http.get(url, headers=headers)
        http_ms: list[float] = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            r = await http.get(url, headers=headers)
            http_ms.append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
        print(summary("GET optimal-times (HTTP, end to end)", http_ms))

        sql_ms: list[float] = []
        async with engine.connect() as conn:
            session = AsyncSession(bind=conn)
            for _ in range(10):
                await repository.history_aggregate(
                    session,
                    workspace_id=user_id,
                    account_id=account_id,
                    timezone=args.timezone,
                    prior_weight=PRIOR_WEIGHT,
                )
            for _ in range(args.requests):
                t0 = time.perf_counter()
                await repository.history_aggregate(
                    session,
                    workspace_id=user_id,
                    account_id=account_id,
                    timezone=args.timezone,
                    prior_weight=PRIOR_WEIGHT,
                )
                sql_ms.append((time.perf_counter() - t0) * 1000)
            await session.close()
        print(summary("SQL aggregate alone", sql_ms))

        if not args.keep:
            async with engine.begin() as conn:
                await conn.execute(
                    delete(ScheduledPost).where(ScheduledPost.instagram_account_id == account_id)
                )
                await conn.execute(delete(User).where(User.id == user_id))
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
