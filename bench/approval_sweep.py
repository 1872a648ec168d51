"""The approval expiry sweep (posts.approvals.expire_due): its cost follows the posts awaiting
approval that are due, not the table.

In a database of its own (migrated to head, dropped at the end), one user and account:
`--scheduled` posts (default 200,000) scheduled ahead, `--waiting` posts awaiting approval
ahead (default 20,000), then `--due` of them (default 0, then 1,000) due now. Prints the plan of
the sweep's statement and the time of a sweep with nothing due and with `--due` posts due.

    .venv/bin/python bench/approval_sweep.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from benchlib import scratch_database  # noqa: E402

from bench.create_cpu import seed  # noqa: E402

_INSERT = """
INSERT INTO instagram_scheduled_posts (instagram_account_id, workspace_id, scheduled_for, caption,
    media_type, status)
SELECT $1, $2, now() + $3::text::interval + (g * interval '1 second'), 'bench', 'IMAGE', $4
FROM generate_series(1, $5) AS g
"""


async def main(args: argparse.Namespace) -> None:
    logging.getLogger("instasched.publishing").setLevel(logging.ERROR)  # a line per post
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from instasched.migrate import upgrade
    from instasched.observability.alerts import AlertSender
    from instasched.observability.events import Events
    from instasched.posts import approvals

    async with scratch_database(args.database_url, "instasched_sweep") as url:
        await asyncio.to_thread(upgrade, url)
        user, account, _ = await seed(url)
        conn = await asyncpg.connect(url)
        await conn.execute(_INSERT, account, user, "1 day", "scheduled", args.scheduled)
        await conn.execute(_INSERT, account, user, "2 days", "needs_approval", args.waiting)
        await conn.execute("ANALYZE instagram_scheduled_posts")
        plan = await conn.fetch(
            "EXPLAIN " + approvals._EXPIRE.replace("$1", "now()").replace("$2", "500")
        )
        print("plan of the sweep (first lines):")
        for row in plan[:8]:
            print("  ", row[0])
        engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://"))
        factory = async_sessionmaker(engine, expire_on_commit=False)
        events = Events(AlertSender(None))
        for label, due in (("nothing due", 0), (f"{args.due} due", args.due)):
            if due:
                await conn.execute(_INSERT, account, user, "-1 hour", "needs_approval", due)
            runs = []
            for _ in range(5 if not due else 1):
                async with factory() as session:
                    start = time.perf_counter()
                    expired = await approvals.expire_due(
                        session, events=events, now=datetime.now(UTC)
                    )
                    runs.append((time.perf_counter() - start) * 1000)
            print(
                f"sweep, {label}: {min(runs):.2f} ms (best of {len(runs)}), expired {expired} "
                f"(table: {args.scheduled + args.waiting + due} posts)"
            )
        await engine.dispose()
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--scheduled", type=int, default=200_000)
    parser.add_argument("--waiting", type=int, default=20_000)
    parser.add_argument("--due", type=int, default=1_000)
    asyncio.run(main(parser.parse_args()))
