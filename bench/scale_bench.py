"""`bench/scale` (issue 18 item 4): the figures at 10,000 and at 1,000,000 scheduled posts.

A step of bench/suite.py (`bench/run --only scale`; not in the default run: ~10-15 minutes).
For each size N (`--scale-sizes`, default 10000,1000000), against the run's `instasched run`:

1. seeds N/100 accounts (at most 10,000; 100 posts each at every size, so a list or a create
   touches an account of the same size and only the table grows) over N/2,000 users, with COPY;
   the accounts reuse the tokens of the run's 20 real sandbox accounts (so posts that fall due
   are really published), then N `scheduled` posts spread evenly over 6 months from now, with
   COPY (the statement-level count triggers of migration 0011 run, as for any insert);
2. Redis memory of the queue (every key under its prefix, MEMORY USAGE) after a promoter pass:
   with the 1 h horizon only the posts due within the hour have a job;
3. the reconciler + promoter CPU per minute: one reconcile pass, one promote pass (one worker
   each per RECONCILE_INTERVAL_SECONDS) and 60 watches (every second in each worker process),
   run in this process against the server's PostgreSQL and Redis: this process's CPU plus the
   embedded PostgreSQL's and Redis's CPU meanwhile; the median of 3;
4. create p99 (open loop 100 req/s into a seeded account) and list p99 (open loop 100 req/s,
   pages of a seeded account);
5. a lone post's publish start after its time (20 posts 1.5 s apart, as `publish_single`).

The seeded users are deleted (with their accounts and posts) before the next size.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import resource
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import loadgen
import rows_posts
import rows_publish
from benchlib import jpeg
from harness import BASE, cpu_seconds
from report import Figure, pct, sample_figure

from instasched.config import Settings, plain_database_url
from instasched.publishing.service import Publisher
from instasched.state import AppState
from instasched.worker.promoter import Promoter
from instasched.worker.queue import QUEUE_NAME, PublishQueue
from instasched.worker.reconciler import Reconciler

if TYPE_CHECKING:
    from seeding import Setup
    from suite import Run

SIX_MONTHS = timedelta(days=183)
POSTS_PER_ACCOUNT = 100
ACCOUNTS_PER_USER = 20  # the run's 20 real sandbox accounts, one copy of each per user
MAX_ACCOUNTS = 10_000


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Scale:
    def __init__(self, run: Run, http: httpx.AsyncClient, s: Setup) -> None:
        self.run = run
        self.http = http
        self.s = s
        self.results: dict[int, dict[str, float]] = {}
        self.user_ids: list[uuid.UUID] = []

    # --- seeding --------------------------------------------------------------------------
    async def seed(self, conn: Any, n: int) -> tuple[float, int, float]:
        """Users, accounts and posts by COPY: (seconds, accounts, ANALYZE seconds)."""
        accounts_n = max(1, min(MAX_ACCOUNTS, n // POSTS_PER_ACCOUNT))
        real = await conn.fetch(
            "SELECT ig_user_id, username, login_kind, access_token_encrypted, token_expires_at "
            "FROM instagram_accounts WHERE id = ANY($1::uuid[]) ORDER BY username",
            self.s.accounts[4:24],
        )
        password_hash = await conn.fetchval(
            "SELECT password_hash FROM users WHERE id = $1", self.s.user_id
        )
        users_n = -(-accounts_n // len(real))
        tag = uuid.uuid4().hex[:6]
        users = [
            (uuid.uuid4(), f"scale-{tag}-{u}@example.com", password_hash) for u in range(users_n)
        ]
        accounts = [
            (
                uuid.uuid4(),
                users[a // len(real)][0],
                real[a % len(real)]["ig_user_id"],
                f"{real[a % len(real)]['username']}_{a}",
                real[a % len(real)]["login_kind"],
                real[a % len(real)]["access_token_encrypted"],
                real[a % len(real)]["token_expires_at"],
                1_000_000,
            )
            for a in range(accounts_n)
        ]
        start = datetime.now(UTC) + timedelta(minutes=2)
        step = SIX_MONTHS / n
        media_urls = json.dumps([self.s.asset["s3Url"]])
        media_ids = json.dumps([self.s.asset["id"]])
        owner = {acc[0]: acc[1] for acc in accounts}
        account_ids = [acc[0] for acc in accounts]

        def post(i: int) -> tuple[Any, ...]:
            account = account_ids[i % accounts_n]
            return (
                uuid.uuid4(),
                account,
                owner[account],
                start + step * i,
                f"scale post {i} #bench",
                media_urls,
                media_ids,
                "IMAGE",
                "scheduled",
            )

        backend = await conn.fetchval("SELECT pg_backend_pid()")
        t0, cpu0, own0 = time.perf_counter(), cpu_seconds(backend), own_cpu()
        await conn.copy_records_to_table(
            "users", records=users, columns=["id", "email", "password_hash"]
        )
        await conn.copy_records_to_table(
            "instagram_accounts",
            records=accounts,
            columns=[
                "id",
                "workspace_id",
                "ig_user_id",
                "username",
                "login_kind",
                "access_token_encrypted",
                "token_expires_at",
                "publishing_quota",
            ],
        )
        chunk = 100_000
        for first in range(0, n, chunk):
            await conn.copy_records_to_table(
                "instagram_scheduled_posts",
                records=[post(i) for i in range(first, min(n, first + chunk))],
                columns=[
                    "id",
                    "instagram_account_id",
                    "workspace_id",
                    "scheduled_for",
                    "caption",
                    "media_urls",
                    "media_ids",
                    "media_type",
                    "status",
                ],
            )
        seconds = time.perf_counter() - t0
        # CPU, not only wall time: the machine is shared, so the wall time says little alone.
        self.seed_cpu = {
            "postgres_backend": cpu_seconds(backend) - cpu0,
            "python_records": own_cpu() - own0,
        }
        t1 = time.perf_counter()
        await conn.execute("ANALYZE instagram_scheduled_posts")
        await conn.execute("ANALYZE instagram_accounts")
        self.user_ids = [u[0] for u in users]
        self.accounts = account_ids
        self.email = users[0][1]
        return seconds, accounts_n, time.perf_counter() - t1

    async def unseed(self, conn: Any, app: Any) -> None:
        if not self.user_ids:
            return
        ids = await conn.fetch(
            "SELECT id FROM instagram_scheduled_posts WHERE workspace_id = ANY($1::uuid[]) "
            "AND status = 'scheduled' AND scheduled_for < now() + interval '2 hours'",
            self.user_ids,
        )
        await app.queue.remove_many([r["id"] for r in ids])
        await conn.execute("DELETE FROM users WHERE id = ANY($1::uuid[])", self.user_ids)
        self.user_ids = []

    # --- measurements ---------------------------------------------------------------------
    async def queue_memory(self, app: Any) -> tuple[int, int]:
        """(bytes of every key of the queue, delayed jobs)."""

        total = 0
        pattern = f"{app.settings.queue_prefix}:{QUEUE_NAME}:*"
        keys = [k async for k in app.redis.scan_iter(match=pattern, count=1000)]
        for first in range(0, len(keys), 500):
            pipe = app.redis.pipeline(transaction=False)
            for key in keys[first : first + 500]:
                pipe.memory_usage(key, samples=0)
            total += sum(int(v or 0) for v in await pipe.execute())
        delayed = int(await app.redis.zcard(f"{app.settings.queue_prefix}:{QUEUE_NAME}:delayed"))
        return total, delayed

    async def job_bytes(self, app: Any) -> float:
        """What one delayed job costs in Redis: its hash plus its entry in the delayed set
        (measured on 1,000 jobs added for fake posts under a scratch prefix, then removed)."""

        prefix = f"scalebytes{uuid.uuid4().hex[:6]}"
        queue = PublishQueue(app.settings.require_redis_url(), prefix=prefix)
        try:
            later = datetime.now(UTC) + timedelta(days=30)
            await queue.schedule_many([(uuid.uuid4(), later) for _ in range(1000)])
            keys = [k async for k in app.redis.scan_iter(match=f"{prefix}:*", count=1000)]
            pipe = app.redis.pipeline(transaction=False)
            for key in keys:
                if not key.endswith(":events"):  # the stream is bounded (~10,000 events)
                    pipe.memory_usage(key, samples=0)
            total = sum(int(v or 0) for v in await pipe.execute())
            await app.redis.delete(*keys)
        finally:
            await queue.close()
        return total / 1000

    def server_cpu(self) -> dict[str, float]:
        pids = self.run.server.embedded_pids()
        return {kind: sum(cpu_seconds(p) for p in pids[kind]) for kind in ("postgres", "redis")}

    async def periodic_cpu_per_minute(self, app: Any) -> dict[str, float]:
        """One reconcile pass + one promote pass + 60 watches, CPU seconds by process."""

        reconciler = Reconciler(app, Publisher(app))
        promoter = Promoter(app)
        minutes: list[dict[str, float]] = []
        try:
            await reconciler.run_once()  # warm: connections, prepared statements
            await promoter.run_once()
            for _ in range(3):
                before, mine = self.server_cpu(), own_cpu()
                await reconciler.run_once()
                await promoter.run_once()
                for _ in range(60):
                    await reconciler.watch()
                after, mine_after = self.server_cpu(), own_cpu()
                minute = {k: after[k] - before[k] for k in after}
                minute["python"] = mine_after - mine
                minute["total"] = sum(minute.values())
                minutes.append(minute)
        finally:
            await reconciler.close()
        return {
            k: statistics.median(m[k] for m in minutes) for k in ("python", "postgres", "redis")
        } | {"total": statistics.median(m["total"] for m in minutes)}

    async def login(self) -> dict[str, str]:
        r = await self.http.post(
            "/api/auth/login", json={"email": self.email, "password": self.s.password}
        )
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['accessToken']}"}

    async def open_loop(self, s: Setup, make: Any, expect: int) -> Any:
        url = self.run.server.url
        await loadgen.closed_loop(
            url, s.headers, make, clients=10, total=200, max_seconds=20, expect=expect
        )
        # And 5 s at the measured rate: the first open loop after seeding stalled for seconds in
        # both first runs (10,000 posts: create p99 8.7 and 1.1 s), whatever the size.
        await loadgen.open_loop(url, s.headers, make, rate=100, seconds=5, expect=expect)
        return await self.run.measured(
            loadgen.open_loop(
                url, s.headers, make, rate=100, seconds=self.run.sizes.create_seconds, expect=expect
            )
        )

    # --- one size -------------------------------------------------------------------------
    async def size(self, conn: Any, app: Any, n: int) -> None:
        await self.unseed(conn, app)
        seconds, accounts_n, analyze = await self.seed(conn, n)
        label = f"scale {n:,} posts / {accounts_n:,} accounts"
        print(f"  seeded {n:,} posts over {accounts_n:,} accounts in {seconds:.1f} s", flush=True)
        r = self.results.setdefault(n, {})
        r["seed_s"] = seconds
        self.run.add(
            Figure(
                f"{label}: seeding (COPY, triggers included)",
                "s",
                [seconds],
                "<= 180 s at 1,000,000",
                seconds <= 180 or n < 1_000_000,
                extra={
                    "note": f"then ANALYZE {analyze:.1f} s; CPU s {self.seed_cpu}",
                    "posts_per_s": n / seconds,
                    "cpu_s": {k: round(v, 2) for k, v in self.seed_cpu.items()},
                },
            )
        )
        # Posts written by SQL inside the horizon get their jobs from the reconciler (the
        # promoter reads from its watermark on), as the worker's next pass would.
        reconciler = Reconciler(app, Publisher(app))
        await reconciler.run_once()
        await reconciler.close()
        await Promoter(app).run_once()
        memory, delayed = await self.queue_memory(app)
        r["redis_mb"] = memory / 1e6
        job_bytes = await self.job_bytes(app)
        self.run.add(
            Figure(
                f"{label}: Redis memory of the queue (1 h horizon)",
                "MB",
                [memory / 1e6],
                "<= 50 MB",
                memory / 1e6 <= 50,
                extra={
                    "note": f"{delayed} delayed jobs; every key under the queue's prefix; "
                    f"without the horizon ~{job_bytes * n / 1e6:.0f} MB "
                    f"({job_bytes:.0f} B per delayed job)",
                    "delayed_jobs": delayed,
                    "bytes": memory,
                    "bytes_per_delayed_job": round(job_bytes),
                },
            )
        )
        cpu = await self.periodic_cpu_per_minute(app)
        r["cpu_s_per_min"] = cpu["total"]
        small = self.results.get(min(self.results))
        ratio = cpu["total"] / small["cpu_s_per_min"] if small and small is not r else 1.0
        self.run.add(
            Figure(
                f"{label}: reconciler + promoter CPU per minute",
                "s",
                [cpu["total"]],
                "<= 1 s and <= 2x the 10,000-post figure",
                cpu["total"] <= 1 and ratio <= 2,
                extra={
                    "cpu_s_by_process": {k: round(v, 4) for k, v in cpu.items()},
                    "ratio_to_smallest": round(ratio, 2),
                    "note": "1 reconcile + 1 promote pass + 60 watches; this process + "
                    "PostgreSQL + Redis",
                },
            )
        )
        headers = await self.login()
        upload = await self.http.post(
            f"{BASE}/media/upload",
            files={"file": ("scale.jpg", jpeg(), "image/jpeg")},
            headers=headers,
        )
        upload.raise_for_status()
        seeded = dataclasses.replace(
            self.s,
            headers=headers,
            accounts=[self.accounts[0], self.accounts[1], *self.s.accounts[2:]],
            asset=upload.json(),
        )
        for kind, make, expect in (
            ("create", rows_posts.create_request(seeded), 201),
            ("list", rows_posts.list_request(seeded), 200),
        ):
            sample, cpu_used = await self.open_loop(seeded, make, expect)
            p99 = pct(sample.latencies_ms, 99)
            r[f"{kind}_p99"] = p99
            base = small[f"{kind}_p99"] if small and small is not r else p99
            fig = sample_figure(
                f"{label}: {kind} post{'s' if kind == 'list' else ''}, open loop 100 req/s",
                sample,
                "p99 <= 1.5x the 10,000-post figure",
                p99 <= 1.5 * base,
                cpu=cpu_used,
            )
            fig.extra["ratio_to_smallest"] = round(p99 / base, 2) if base else None
            self.run.add(fig)
        await rows_publish.publish_single(self.run, self.http, self.s)
        row = self.run.rows[-1]
        row["name"] = f"{label}: one post alone, publish start after scheduled_for"
        r["lone_p99"] = row["p99"] or float("nan")


async def scale(run: Run, http: httpx.AsyncClient, s: Setup) -> None:
    import asyncpg

    sizes = [int(x) for x in run.args.scale_sizes.split(",")]
    app = await AppState.create(Settings(**run.server.env))
    conn = await asyncpg.connect(plain_database_url(run.server.database_url))
    bench = Scale(run, http, s)
    try:
        for n in sorted(sizes):
            print(f"  [{n:,} posts]", flush=True)
            await bench.size(conn, app, n)
            await asyncio.sleep(0)
    finally:
        await conn.close()
        await app.close()
