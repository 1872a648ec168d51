"""Bulk writes of posts in one statement each, timed, with the kept counts checked against COUNT(*).

A CSV import or a migration of a customer's backlog writes many posts in one statement; the post
counts (`instagram_post_counts`) and the asset uses (`instagram_media_asset_uses`) must follow
at the cost of the rows, not a trigger call per row (issue 18 item 2). In a database of its own
(migrated to head, dropped at the end), one user, account and asset:

1. INSERT `--rows` posts (default 200,000) scheduled 1 day to 5 months ahead, each using the asset;
2. (unless `--insert-only`) UPDATE the status of a third of them, move a tenth to a second
   account, shift every `scheduled_for` by an hour, DELETE half;

each timed to its commit, then the kept counts compared with COUNT(*) (per account and status,
and the asset's uses). With `--writers N` it first runs pgbench (bounded by `--seconds`): N
connections inserting single posts with the asset into the one account (what concurrent
creates cost the counters: 20 writers went 2,260 -> 6,070-7,480 inserts/s with the stripes of
migration 0006), then N connections updating one column of single posts (the worker's lease
renewals: every UPDATE runs the statement trigger of migration 0011). With `--single N` it
measures the PostgreSQL CPU of N single-row statements of each kind on one connection (an
UPDATE of another column, a status move, an insert with its asset as the create counts it).
Compare checkouts with
PYTHONPATH, as bench/create_cpu.py:

    .venv/bin/python bench/bulk_insert.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # PYTHONPATH (another checkout) still comes first
    sys.path.append(str(ROOT))

from benchlib import scratch_database  # noqa: E402

from bench.create_cpu import seed  # noqa: E402

INSERT = """
    INSERT INTO instagram_scheduled_posts
        (instagram_account_id, workspace_id, scheduled_for, caption, media_urls, media_ids,
         media_type, status)
    SELECT $1::uuid, $2::uuid,
           now() + (1 + g % 150) * interval '1 day' + (g % 1440) * interval '1 minute',
           'imported post ' || g, jsonb_build_array('http://127.0.0.1:1/a.jpg'),
           jsonb_build_array($3::text), 'IMAGE',
           (ARRAY['scheduled', 'scheduled', 'scheduled', 'published', 'failed', 'cancelled'])
               [1 + g % 6]
    FROM generate_series(1, $4::int) AS g
"""
STEPS = (
    (
        "UPDATE status of a third",
        "UPDATE instagram_scheduled_posts SET status = 'cancelled'"
        " WHERE status = 'scheduled' AND caption LIKE '%0'",
    ),
    (
        "UPDATE account of a tenth",
        "UPDATE instagram_scheduled_posts SET instagram_account_id = $1 WHERE caption LIKE '%7'",
    ),
    (
        "UPDATE scheduled_for of all",
        "UPDATE instagram_scheduled_posts SET scheduled_for = scheduled_for + interval '1 hour'",
    ),
    ("DELETE half", "DELETE FROM instagram_scheduled_posts WHERE caption LIKE ANY('{%1,%3,%5}')"),
)
REAL = "SELECT instagram_account_id, status, count(*) FROM instagram_scheduled_posts GROUP BY 1, 2"
KEPT = (
    "SELECT instagram_account_id, status, sum(n) FROM instagram_post_counts"
    " GROUP BY 1, 2 HAVING sum(n) <> 0"
)
USES_REAL = (
    "SELECT count(*) FROM instagram_scheduled_posts, jsonb_array_elements_text(media_ids) AS e"
    " WHERE e = $1::text"
)
USES_KEPT = (
    "SELECT coalesce(a.used_in_posts, 0) + coalesce((SELECT sum(uses)"
    " FROM instagram_media_asset_uses WHERE asset_id = a.id), 0)"
    " FROM instagram_media_assets a WHERE a.id = $1"
)


async def check(conn: Any, asset: uuid.UUID) -> str:
    real = {(r[0], r[1]): r[2] for r in await conn.fetch(REAL)}
    kept = {(r[0], r[1]): r[2] for r in await conn.fetch(KEPT)}
    uses = (await conn.fetchval(USES_REAL, str(asset)), await conn.fetchval(USES_KEPT, asset))
    posts = "exact" if real == kept else f"DIFFER: real {real} kept {kept}"
    used = "exact" if uses[0] == uses[1] else f"DIFFER: real {uses[0]} kept {uses[1]}"
    return f"{sum(real.values())} posts, counts {posts}; asset uses {uses[0]}, {used}"


async def timed(conn: Any, label: str, sql: str, *args: Any) -> None:
    start = time.perf_counter()
    status = await conn.execute(sql, *args)  # autocommit: timed to its commit
    seconds = time.perf_counter() - start
    print(f"{label}: {status.split()[-1]} rows in {seconds:.2f} s", flush=True)


ONE_POST = """INSERT INTO instagram_scheduled_posts (instagram_account_id, workspace_id,
  scheduled_for, caption, media_urls, media_ids, media_type) VALUES ('{account}', '{user}',
  now() + interval '2 days', 'one post ' || {k}, '[]', '["{asset}"]', 'IMAGE')"""
# Before migration 0011 the create counted its asset's use in its own statement
# (posts.repository._insert_sql's `used`); since, the trigger does.
APP_COUNTED_USES = """WITH ins AS ({one_post} RETURNING id)
  INSERT INTO instagram_media_asset_uses AS s (asset_id, stripe, uses, last_used_at)
  SELECT id, pg_backend_pid() % 16, count(*), now() FROM unnest(ARRAY['{asset}'::uuid]) AS id
  WHERE EXISTS (SELECT 1 FROM ins) GROUP BY id ORDER BY id
  ON CONFLICT (asset_id, stripe) DO UPDATE SET uses = s.uses + excluded.uses,
  last_used_at = GREATEST(s.last_used_at, excluded.last_used_at)"""


def create_statement(ids: dict[str, Any], *, triggered: bool, k: str) -> str:
    """A new post with its asset as the create writes it at this revision."""
    one_post = ONE_POST.format(k=k, **ids)
    return one_post if triggered else APP_COUNTED_USES.format(one_post=one_post, **ids)


PGBENCH_UPDATE = """\\set k random(1, {rows})
UPDATE instagram_scheduled_posts SET updated_at = now()
  WHERE id = (SELECT id FROM bench_ids WHERE k = :k);
"""


def pgbench(url: str, label: str, script: str, args: argparse.Namespace) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as f:
        f.write(script)
        f.flush()
        out = subprocess.run(
            ["pgbench", "-n", "-c", str(args.writers), "-j", "2", "-T", str(args.seconds),
             "-f", f.name, url],
            capture_output=True, text=True, check=True, timeout=args.seconds + 60,
        ).stdout  # fmt: skip
    tps = next(line for line in out.splitlines() if line.startswith("tps"))
    latency = next(line for line in out.splitlines() if line.startswith("latency average"))
    print(f"{label}, {args.writers} connections: {tps.split()[2]}/s, {latency}", flush=True)


# One connection, `n` statements each committed on its own (COMMIT in a DO loop: no client
# round trips), the backend's CPU read from /proc (the server must be local).
SINGLE = {
    "UPDATE of another column": "UPDATE instagram_scheduled_posts SET updated_at = now()"
    " WHERE id = (SELECT id FROM bench_ids WHERE k = 1 + (i * 7919) % {rows})",
    "UPDATE of the status": "UPDATE instagram_scheduled_posts SET status = CASE status"
    " WHEN 'scheduled' THEN 'publishing' ELSE 'scheduled' END"
    " WHERE id = (SELECT id FROM bench_ids WHERE k = 1 + (i * 7919) % {rows})",
}


def backend_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def single_row_cpu(conn: Any, n: int, *, rows: int, create: str) -> None:
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    for label, sql in (*SINGLE.items(), ("INSERT with one asset (a create)", create)):
        body = sql.format(rows=rows)
        before = backend_cpu_seconds(pid)
        await conn.execute(f"DO $$ BEGIN FOR i IN 1..{n} LOOP {body}; COMMIT; END LOOP; END $$")
        used = (backend_cpu_seconds(pid) - before) / n * 1e6
        print(f"{label}, one connection: {used:.0f} µs of PostgreSQL CPU each", flush=True)


async def measure(args: argparse.Namespace, url: str) -> None:
    import instasched
    from instasched.migrate import upgrade

    print(f"code: {Path(instasched.__file__).parent}")
    await asyncio.to_thread(upgrade, url)
    user, account, asset = await seed(url)
    conn = await asyncpg.connect(url)
    try:
        other = await conn.fetchval(
            "INSERT INTO instagram_accounts (workspace_id, ig_user_id, username,"
            " access_token_encrypted, timezone) VALUES ($1, '1', 'other', 'x', 'UTC') RETURNING id",
            user,
        )
        ids = {"account": account, "user": user, "asset": asset}
        triggered = await conn.fetchval(
            "SELECT to_regproc('instagram_posts_count_inserts') IS NOT NULL"
        )
        if args.writers:
            create = create_statement(ids, triggered=triggered, k=":k")
            script = f"\\set k random(1, 1000000)\n{create};\n"
            pgbench(url, "single-row INSERTs", script, args)
        if args.writers or args.single:
            if not args.writers:
                await conn.execute(INSERT, account, user, str(asset), 10_000)
            await conn.execute(
                "CREATE TABLE bench_ids AS SELECT row_number() OVER () AS k, id"
                " FROM instagram_scheduled_posts; ALTER TABLE bench_ids ADD PRIMARY KEY (k);"
                " ANALYZE"
            )
            rows = await conn.fetchval("SELECT count(*) FROM bench_ids")
            if args.writers:
                pgbench(url, "single-row UPDATEs", PGBENCH_UPDATE.format(rows=rows), args)
            if args.single:
                create = create_statement(ids, triggered=triggered, k="i")
                await single_row_cpu(conn, args.single, rows=rows, create=create)
            print(await check(conn, asset), flush=True)
        await timed(conn, "INSERT", INSERT, account, user, str(asset), args.rows)
        print(await check(conn, asset), flush=True)
        if args.insert_only:
            return
        for label, sql in STEPS:
            await timed(conn, label, sql, *((other,) if "$1" in sql else ()))
        print(await check(conn, asset), flush=True)
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    async with scratch_database(args.database_url, "instasched_bulk") as url:
        await measure(args, url)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--insert-only", action="store_true", help="skip the updates and delete")
    parser.add_argument("--writers", type=int, default=0, help="pgbench connections first")
    parser.add_argument("--seconds", type=int, default=10, help="each pgbench run")
    parser.add_argument(
        "--single", type=int, default=0, help="single-row statements per CPU measurement"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
