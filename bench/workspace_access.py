"""What the workspace check costs a request, measured at the database (issue 20).

A request reads its user (`auth.deps._USER_SQL`); naming another workspace in X-Workspace-Id
adds one read of the membership (`workspaces.access._MEMBER_SQL`). This times, interleaved so
the machine's load hits every variant alike, on one asyncpg connection:

- `user`: the user's read alone (a request without the header, or naming the personal one);
- `user + member`: the two reads one after the other (a request naming a shared workspace);
- `fused`: one statement reading both (what folding the membership into the user read saves).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python \
        bench/workspace_access.py --rounds 3000

Prints p50 / p99 / mean in µs per variant and the load average. The database must be migrated
(0018 or later); the bench's user and workspace are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time

import asyncpg

USER_SQL = "SELECT id, email, created_at, token_version FROM users WHERE id = $1"
MEMBER_SQL = "SELECT role FROM workspace_members WHERE workspace_id = $1 AND user_id = $2"
FUSED_SQL = (
    "SELECT u.id, u.email, u.created_at, u.token_version, m.role FROM users u "
    "LEFT JOIN workspace_members m ON m.workspace_id = $2 AND m.user_id = u.id WHERE u.id = $1"
)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3000)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    user = await conn.fetchval(
        "INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id",
        f"bench-ws-{secrets.token_hex(4)}@example.com",
    )
    team = await conn.fetchval("INSERT INTO workspaces (name) VALUES ('bench') RETURNING id")
    await conn.execute(
        "INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'editor')",
        team,
        user,
    )

    async def only_user() -> None:
        await conn.fetchrow(USER_SQL, user)

    async def user_and_member() -> None:
        await conn.fetchrow(USER_SQL, user)
        await conn.fetchval(MEMBER_SQL, team, user)

    async def fused() -> None:
        await conn.fetchrow(FUSED_SQL, user, team)

    variants = {"user": only_user, "user + member": user_and_member, "fused": fused}
    times: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for _ in range(200):  # warm the statement cache
            for fn in variants.values():
                await fn()
        for _ in range(args.rounds):
            for name, fn in variants.items():
                started = time.perf_counter()
                await fn()
                times[name].append((time.perf_counter() - started) * 1e6)
    finally:
        await conn.execute("DELETE FROM workspaces WHERE id = $1", team)
        await conn.execute("DELETE FROM users WHERE id = $1", user)
        await conn.close()
    print(f"{args.rounds} rounds, load average {os.getloadavg()}")
    for name, values in times.items():
        print(
            f"  {name:14s} p50 {_pct(values, 0.5):7.1f} µs  p99 {_pct(values, 0.99):8.1f} µs  "
            f"mean {statistics.fmean(values):7.1f} µs"
        )


if __name__ == "__main__":
    asyncio.run(main())
