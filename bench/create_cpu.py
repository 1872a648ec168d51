"""CPU per created post inside one process: the real app, PostgreSQL and Redis, no HTTP server.

`bench/run` measures each server process's CPU under load, but on a shared 2-core machine its
figures move by 2x within minutes, so a 10 % change cannot be told apart there. This script
sends serial creates straight to the ASGI app (uvloop, as `instasched api` runs) and reports the
process CPU per request. Compare two checkouts by running it alternately:

    bench/create_cpu.py --database-url postgresql://... --redis-url redis://...
    PYTHONPATH=/path/to/other/checkout bench/create_cpu.py --database-url ... --redis-url ...

It creates a database of its own on the server (migrated to head), seeds one user, account and
JPEG asset by SQL, and drops the database at the end. S3 is not used by a create (the bucket
check at startup fails and is logged). Serial requests cost more CPU each than under load (every
round trip is its own wake-up of the event loop); what it compares is code, not throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # PYTHONPATH (another checkout) still comes first
    sys.path.append(str(ROOT))

from benchlib import scratch_database  # noqa: E402

COMPATIBLE = {"ok": True, "reasons": []}


async def seed(url: str) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    conn = await asyncpg.connect(url)
    try:
        user, account, asset = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await conn.execute(
            "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, 'x')",
            user,
            f"{user}@bench.invalid",
        )
        await conn.execute(
            "INSERT INTO instagram_accounts (id, workspace_id, ig_user_id, username,"
            " access_token_encrypted, timezone) VALUES ($1, $2, $3, 'bench', 'x', 'UTC')",
            account,
            user,
            str(account.int)[:15],
        )
        report = {p: COMPATIBLE for p in ("feed", "carousel", "story", "reel")}
        await conn.execute(
            "INSERT INTO instagram_media_assets (id, workspace_id, filename, original_filename,"
            " mime_type, file_size, media_type, s3_bucket, s3_key, s3_url, width, height,"
            " compatibility) VALUES ($1, $2, 'a.jpg', 'a.jpg', 'image/jpeg', 1000, 'image',"
            " 'bench', $3, $4, 1080, 1080, $5::jsonb)",
            asset,
            user,
            f"bench/{asset}.jpg",
            f"http://127.0.0.1:1/bench/{asset}.jpg",
            orjson.dumps(report).decode(),
        )
        return user, account, asset
    finally:
        await conn.close()


async def measure(args: argparse.Namespace, url: str) -> None:
    import instasched
    from instasched.app import create_app
    from instasched.config import get_settings
    from instasched.migrate import upgrade
    from instasched.security import create_access_token

    print(f"code: {Path(instasched.__file__).parent}")
    # No S3 here: the bucket check at startup fails; its logged traceback is noise.
    logging.getLogger("instasched.app").setLevel(logging.CRITICAL)
    await asyncio.to_thread(upgrade, url)
    user, account, asset = await seed(url)
    settings = get_settings()
    app = create_app(settings)
    assert settings.jwt_secret
    token = create_access_token(user, secret=settings.jwt_secret, expires_seconds=3600)
    path = "/api/instagram/scheduling/posts"
    start = datetime.now(UTC) + timedelta(days=2)

    async def create(i: int) -> int:
        body = orjson.dumps(
            {
                "instagramAccountId": str(account),
                # 72 per 24 h: within the default publishing quota (100), near its cost's worst
                "scheduledFor": (start + timedelta(minutes=20 * i)).isoformat(),
                "caption": f"Bench post {i} #bench #instasched @someone",
                "mediaIds": [str(asset)],
                "mediaType": "IMAGE",
            }
        )
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"authorization", f"Bearer {token}".encode()),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        status: list[int] = []
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # no disconnect: the app never waits for one here
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        return status[0]

    async with app.router.lifespan_context(app):
        statuses = [await create(i) for i in range(args.warmup)]
        if set(statuses) != {201}:
            raise SystemExit(f"creates answered {sorted(set(statuses))}, not 201")
        n = args.requests
        for round_no in range(1, args.rounds + 1):
            cpu, wall = time.process_time(), time.perf_counter()
            base = args.warmup + round_no * n
            for i in range(n):
                if await create(base + i) != 201:
                    raise SystemExit("a create failed")
            cpu_us = (time.process_time() - cpu) / n * 1e6
            wall_us = (time.perf_counter() - wall) / n * 1e6
            print(f"round {round_no}: {cpu_us:.0f} µs CPU per create ({wall_us:.0f} µs wall)")


async def main(args: argparse.Namespace) -> None:
    async with scratch_database(args.database_url, "instasched_create_cpu") as url:
        os.environ.update(
            DATABASE_URL=url,
            REDIS_URL=args.redis_url,
            QUEUE_PREFIX=f"createcpu{secrets.token_hex(4)}",
            JWT_SECRET=secrets.token_urlsafe(48),
            TOKEN_ENCRYPTION_KEY=secrets.token_urlsafe(32),
            INSTAGRAM_SANDBOX="true",
            SCHEDULE_MIN_LEAD_SECONDS="0",
            LOG_LEVEL="ERROR",
            S3_ENDPOINT="http://127.0.0.1:1",
            S3_ACCESS_KEY="unused",
            S3_SECRET_KEY="unused",
        )
        try:
            await measure(args, url)
        finally:
            from redis.asyncio import Redis

            redis = Redis.from_url(args.redis_url)
            keys = [k async for k in redis.scan_iter(f"{os.environ['QUEUE_PREFIX']}:*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--requests", type=int, default=1000, help="creates per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args(argv)
    if not args.database_url or not args.redis_url:
        parser.error("--database-url and --redis-url (or DATABASE_URL / REDIS_URL) are required")
    return args


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(parse_args()))
