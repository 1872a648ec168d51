"""The post list's total: COUNT(*) over the posts against the striped counters the triggers keep
(instagram_post_counts, migrations 0005/0006/0011), which posts.repository.list_posts reads.

In a database of its own (migrated to head, dropped at the end): one account with --rows posts
(one bulk INSERT, as bench/bulk_insert.py), ANALYZEd, then each way of reading the total (the
account's, and one status's) --repeat times on one connection; prints the median PostgreSQL
execution time (EXPLAIN ANALYZE, no round trip) and the median round trip, the load average, and
checks both ways give the same number.

    .venv/bin/python bench/count_read_bench.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from benchlib import scratch_database  # noqa: E402

from bench.bulk_insert import INSERT  # noqa: E402
from bench.create_cpu import seed  # noqa: E402

WAYS = {
    "COUNT(*), account": "SELECT count(*) FROM instagram_scheduled_posts"
    " WHERE instagram_account_id = $1",
    "counters, account": "SELECT coalesce(sum(n), 0) FROM instagram_post_counts"
    " WHERE instagram_account_id = $1",
    "COUNT(*), one status": "SELECT count(*) FROM instagram_scheduled_posts"
    " WHERE instagram_account_id = $1 AND status = 'scheduled'",
    "counters, one status": "SELECT coalesce(sum(n), 0) FROM instagram_post_counts"
    " WHERE instagram_account_id = $1 AND status = 'scheduled'",
}


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def _measure(conn: Any, sql: str, account: Any, repeat: int) -> tuple[float, float, int]:
    executions, trips = [], []
    value = 0
    for _ in range(repeat):
        plan = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", account)
        executions.append(float(json.loads(plan)[0]["Execution Time"]))
        started = time.perf_counter()
        value = int(await conn.fetchval(sql, account))
        trips.append((time.perf_counter() - started) * 1000)
    return statistics.median(executions), statistics.median(trips), value


async def main(args: argparse.Namespace) -> None:
    from instasched.migrate import upgrade

    async with scratch_database(args.database_url, "bench_counts") as url:
        await asyncio.to_thread(upgrade, url)
        user, account, asset = await seed(url)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(INSERT, account, user, str(asset), args.rows)
            await conn.execute("VACUUM ANALYZE instagram_scheduled_posts")
            await conn.execute("VACUUM ANALYZE instagram_post_counts")
            print(f"load average before: {_load()}  ({os.cpu_count()} CPUs)")
            print(f"{args.rows} posts in one account, {args.repeat} reads each, medians:")
            values: dict[str, int] = {}
            for name, sql in WAYS.items():
                execution, trip, values[name] = await _measure(conn, sql, account, args.repeat)
                print(
                    f"{name:22} PostgreSQL {execution:8.3f} ms  round trip {trip:8.3f} ms"
                    f"  = {values[name]}"
                )
            same = (
                values["COUNT(*), account"] == values["counters, account"]
                and values["COUNT(*), one status"] == values["counters, one status"]
            )
            print(f"counters equal COUNT(*): {same}")
            print(f"load average after:  {_load()}")
        finally:
            await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
