"""The worker's statements before a publication's first Graph call, old and new, in CPU.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python \\
        bench/claim_roundtrips.py [--posts 3000]

Creates a scratch database (dropped at the end), migrates it, seeds posts of 200 accounts, and
claims every post twice over (put back to `scheduled` between rounds) in three ways:

- `read + claim + account`: the account read before the account's slot (`account_of`), the
  claim, then the account read (`fetch_account`): three round trips (the code before round 8);
- `claim + account`: the claim, then the account read (two round trips);
- `claim with account`: `publishing.repository.claim`, one statement (round 8).

Prints, per claim: this process's CPU (the worker's side: asyncpg, the rows made into model
objects), the PostgreSQL backend's CPU (read from /proc: the server must run on this machine), and
the wall time. CPU figures hold under load much better than wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from instasched.accounts.repository import fetch_account  # noqa: E402
from instasched.config import database_url_for, plain_database_url  # noqa: E402
from instasched.db import _json_codecs  # noqa: E402
from instasched.migrate import upgrade  # noqa: E402
from instasched.publishing import repository  # noqa: E402

ACCOUNTS = 200


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def seed(conn: asyncpg.Connection, posts: int) -> list[uuid.UUID]:
    user = await conn.fetchval(
        "INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id",
        f"claims-{secrets.token_hex(4)}@example.com",
    )
    accounts = [
        await conn.fetchval(
            "INSERT INTO instagram_accounts (workspace_id, ig_user_id, username,"
            " access_token_encrypted) VALUES ($1, $2, $3, 'token') RETURNING id",
            user,
            str(10**12 + i),
            f"claims_{i}",
        )
        for i in range(ACCOUNTS)
    ]
    due = datetime.now(UTC) - timedelta(minutes=1)
    ids = [uuid.uuid4() for _ in range(posts)]
    await conn.executemany(
        "INSERT INTO instagram_scheduled_posts (id, instagram_account_id, workspace_id,"
        " scheduled_for, caption, media_type, status, publish_attempts)"
        " VALUES ($1, $2, $3, $4, 'c', 'IMAGE',"
        " 'scheduled', 0)",
        [(post_id, accounts[i % ACCOUNTS], user, due) for i, post_id in enumerate(ids)],
    )
    return ids


async def run_variant(conn: asyncpg.Connection, name: str, ids: list[uuid.UUID]) -> str:
    await conn.execute(
        "UPDATE instagram_scheduled_posts SET status = 'scheduled', lease_expires_at = NULL"
        " WHERE id = ANY($1::uuid[])",
        ids,
    )
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    cpu0, pg0, wall0 = time.process_time(), backend_cpu(pid), time.perf_counter()
    for post_id in ids:
        now = datetime.now(UTC)
        lease = now + timedelta(seconds=10)
        if name == "claim with account":
            claimed = await repository.claim(conn, post_id, now=now, lease_until=lease)
            assert claimed is not None and claimed[1] is not None
            continue
        if name == "read + claim + account":
            assert await repository.account_of(conn, post_id) is not None
        row = await conn.fetchrow(repository._CLAIM, post_id, now, lease, None)
        assert row is not None
        account = await fetch_account(conn, row["instagram_account_id"])
        assert account is not None
    n = len(ids)
    cpu = (time.process_time() - cpu0) * 1e6 / n
    pg = (backend_cpu(pid) - pg0) * 1e6 / n
    wall = (time.perf_counter() - wall0) * 1e6 / n
    return f"{name:24s} client CPU {cpu:6.0f} µs  PostgreSQL CPU {pg:6.0f} µs  wall {wall:6.0f} µs"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"bench_claims_{secrets.token_hex(4)}"
    admin_conn = await asyncpg.connect(plain_database_url(admin))
    await admin_conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = database_url_for(admin, name)
        await asyncio.to_thread(upgrade, url)
        conn = await asyncpg.connect(plain_database_url(url))
        await _json_codecs(conn)  # as the worker's pool (db.create_driver_pool)
        try:
            ids = await seed(conn, args.posts)
            print(f"{args.posts} claims each, {ACCOUNTS} accounts, load {os.getloadavg()[0]:.1f}")
            for _ in range(args.rounds):
                for variant in ("read + claim + account", "claim + account", "claim with account"):
                    print(await run_variant(conn, variant, ids), flush=True)
        finally:
            await conn.close()
    finally:
        await admin_conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin_conn.close()


if __name__ == "__main__":
    asyncio.run(main())
