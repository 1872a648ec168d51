"""Scheduled posts API benchmark: create and list latency at N concurrent clients.

Against a running server (`instasched run`, or `instasched api`; the worker is not needed):

    .venv/bin/python bench/posts_bench.py --base-url http://127.0.0.1:3000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/instasched

What it does:
1. registers a fresh user, connects a sandbox Instagram account (the server must run with the
   sandbox, the default without Instagram app credentials) and uploads one JPEG;
2. seeds `--seed` posts (default 100,000) in that account straight in PostgreSQL with one
   `INSERT ... SELECT generate_series` (the API would take minutes; rows carry the uploaded
   asset), then `VACUUM ANALYZE`; pass the server's own DATABASE_URL;
3. runs `--creates` POST /api/instagram/scheduling/posts with `--clients` concurrent clients
   (default 500 at 50), then `--lists` list requests (default 2,000 at 50): pages spread over
   the first 100 pages, a third filtered by status, a third by a date range;
4. prints p50 / p95 / p99 / max latency in ms, throughput and error counts per phase.

Every phase is bounded by its request count and by `--max-seconds`. Nothing is cleaned up (use a
throw-away data dir or database).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from benchlib import connect_account, jpeg, sign_up

BASE = "/api/instagram/scheduling"


@dataclass
class Phase:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0

    def report(self) -> str:
        n = len(self.latencies_ms)
        if not n:
            return f"{self.name}: no successful requests; errors {self.errors}"
        ordered = sorted(self.latencies_ms)

        def pct(p: float) -> float:
            return ordered[min(n - 1, max(0, round(p / 100 * n) - 1))]

        return (
            f"{self.name:<8} n={n:<6} p50={pct(50):7.1f} ms  p95={pct(95):7.1f} ms  "
            f"p99={pct(99):7.1f} ms  max={ordered[-1]:7.1f} ms  "
            f"{n / self.wall_seconds:7.1f} req/s  errors={self.errors or 0}"
        )


async def setup(http: httpx.AsyncClient) -> tuple[dict[str, str], str, str, dict[str, Any]]:
    email = f"bench-{secrets.token_hex(6)}@example.com"
    password = "pw-" + secrets.token_urlsafe(16)
    workspace_id, headers = await sign_up(http, email, password)
    user = {"username": f"bench_{secrets.token_hex(4)}", "timezone": "UTC", "followers": 1000}
    account_id = (await connect_account(http, headers, user))["id"]
    r = await http.post(
        f"{BASE}/media/upload",
        params={"accountId": account_id},
        files={"file": ("bench.jpg", jpeg(), "image/jpeg")},
        headers=headers,
    )
    r.raise_for_status()
    return headers, workspace_id, account_id, r.json()


def list_params(i: int, rng: random.Random, now: datetime) -> dict[str, Any]:
    """The i-th list request's query: pages 1-100 of 20; every third filtered by status, every
    third by a 7-day range (pages 1-5 of it)."""
    params: dict[str, Any] = {"page": 1 + rng.randrange(100), "limit": 20}
    if i % 3 == 1:
        params["status"] = "scheduled"
    elif i % 3 == 2:
        start = now + timedelta(days=1 + rng.randrange(60))
        params["scheduledAfter"] = start.isoformat()
        params["scheduledBefore"] = (start + timedelta(days=7)).isoformat()
        params["page"] = 1 + rng.randrange(5)
    return params


async def seed(
    database_url: str, *, workspace_id: str, account_id: str, asset: dict[str, Any], rows: int
) -> float:
    start = time.perf_counter()
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(
            """
            INSERT INTO instagram_scheduled_posts
                (instagram_account_id, workspace_id, scheduled_for, caption, media_urls, media_ids,
                 media_type, status)
            SELECT $1::uuid, $2::uuid, now() + interval '1 day' + g * interval '1 minute',
                   'seeded post ' || g || ' #bench', jsonb_build_array($3::text),
                   jsonb_build_array($4::text), 'IMAGE',
                   (ARRAY['scheduled','scheduled','scheduled','published','failed','cancelled'])
                       [1 + g % 6]
            FROM generate_series(1, $5::int) AS g
            """,
            account_id,
            workspace_id,
            asset["s3Url"],
            asset["id"],
            rows,
        )
        # ~960 seeded posts per 24 h: far over any publishing quota, which creates are checked
        # against (posts.quota); the bench measures creates, not that refusal.
        await conn.execute(
            "UPDATE instagram_accounts SET publishing_quota = 1000000 WHERE id = $1::uuid",
            account_id,
        )
        await conn.execute("VACUUM ANALYZE instagram_scheduled_posts")
    finally:
        await conn.close()
    return time.perf_counter() - start


async def run_phase(
    name: str,
    *,
    clients: int,
    total: int,
    max_seconds: float,
    request: Callable[[int], Awaitable[httpx.Response]],
    expect: int,
) -> Phase:
    phase = Phase(name)
    counter = iter(range(total))
    deadline = time.perf_counter() + max_seconds

    async def client() -> None:
        for i in counter:
            if time.perf_counter() > deadline:
                return
            start = time.perf_counter()
            try:
                r = await request(i)
                status = str(r.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            elapsed = (time.perf_counter() - start) * 1000
            if status == str(expect):
                phase.latencies_ms.append(elapsed)
            else:
                phase.errors[status] = phase.errors.get(status, 0) + 1

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    phase.wall_seconds = time.perf_counter() - start
    return phase


async def main(args: argparse.Namespace) -> int:
    limits = httpx.Limits(max_connections=args.clients + 5, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=args.base_url, timeout=60, limits=limits) as http:
        headers, workspace_id, account_id, asset = await setup(http)
        print(f"account {account_id}, asset {asset['id']}")
        if args.seed:
            seconds = await seed(
                args.database_url,
                workspace_id=workspace_id,
                account_id=account_id,
                asset=asset,
                rows=args.seed,
            )
            print(f"seeded {args.seed} posts in one account in {seconds:.1f} s (SQL)")

        now = datetime.now(UTC)
        rng = random.Random(7)
        client_box: list[httpx.AsyncClient] = [http]

        async def create(i: int) -> httpx.Response:
            when = now + timedelta(days=2, minutes=rng.randrange(0, 60 * 24 * 150))
            return await client_box[0].post(
                f"{BASE}/posts",
                json={
                    "instagramAccountId": account_id,
                    "scheduledFor": when.isoformat(),
                    "caption": f"Bench post {i} #bench #instasched @someone",
                    "mediaIds": [asset["id"]],
                    "mediaType": "IMAGE",
                },
                headers=headers,
            )

        async def list_page(i: int) -> httpx.Response:
            params = list_params(i, rng, now)
            return await client_box[0].get(
                f"{BASE}/posts/{account_id}", params=params, headers=headers
            )

        # Fresh connections per phase: keep-alive connections left idle while seeding may
        # have been closed by the server (they would fail as ReadError, not as slow requests).
        results = []
        for name, total, request, expect in (
            ("create", args.creates, create, 201),
            ("list", args.lists, list_page, 200),
        ):
            async with httpx.AsyncClient(
                base_url=args.base_url, timeout=60, limits=limits
            ) as phase_http:
                client_box[0] = phase_http
                results.append(
                    await run_phase(
                        name,
                        clients=args.clients,
                        total=total,
                        max_seconds=args.max_seconds,
                        request=request,
                        expect=expect,
                    )
                )
        r = await http.get(f"{BASE}/posts/{account_id}", params={"limit": 1}, headers=headers)
        print(f"posts in the account: {r.json()['total']}; clients: {args.clients}")
        for phase in results:
            print(phase.report())
        return 1 if any(p.errors for p in results) else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="a running instasched API")
    parser.add_argument(
        "--database-url", help="the server's PostgreSQL (for seeding); required with --seed > 0"
    )
    parser.add_argument("--seed", type=int, default=100_000, help="posts seeded by SQL (0: none)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--creates", type=int, default=500, help="create requests")
    parser.add_argument("--lists", type=int, default=2000, help="list requests")
    parser.add_argument("--max-seconds", type=float, default=60, help="bound per phase")
    args = parser.parse_args(argv)
    if args.seed and not args.database_url:
        parser.error("--database-url is required to seed (or pass --seed 0)")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
