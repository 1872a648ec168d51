"""Publishing benchmark: dispatch lateness and publish rate against the sandbox.

Starts its own `instasched run` (API + sandbox + one worker) on a fresh database, queue prefix and
bucket, using the servers at DATABASE_URL / REDIS_URL / S3_ENDPOINT when set, else embedded ones
in a temporary directory. Then, per scenario:

- burst: N image posts all due in the same second;
- spread: N image posts due evenly over `--spread-seconds` (default 60);
- reels: N reels (a 3.5 s MP4) all due in the same second.

Posts are written straight into PostgreSQL and enqueued with `PublishQueue.schedule_many` (the
same calls the posts API makes), spread over `--accounts` sandbox accounts connected through the
API. Reported: dispatch lateness (publishing_started_at - scheduled_for) and publish lateness
(published_at - scheduled_for) as p50/p99/max, the end-to-end publish rate, and whether every
post was published exactly once (counted in the sandbox's records).

    .venv/bin/python bench/publish_bench.py --burst 2000 --spread 10000
    .venv/bin/python bench/publish_bench.py --burst 200 --spread 500 --spread-seconds 20

Under Meta-like timing (the sandbox's latency profile, instasched/sandbox/latency.py):

    .venv/bin/python bench/publish_bench.py --burst 2000 --spread 0 --accounts 1000 \
        --env SANDBOX_LATENCY_MS=1500
    .venv/bin/python bench/publish_bench.py --burst 0 --spread 0 --reels 20 \
        --env SANDBOX_LATENCY_MS=1500 --env SANDBOX_VIDEO_PROCESSING_SECONDS=60

Pre-staged containers (docs/staging.md): posts are enqueued with the jobs
`instasched.publishing.staging.jobs_for` gives them (staging jobs too, with the STAGING_* of
`--env`) when `--due-in` writes them that many seconds ahead so that staging can finish first
(without it, staging is off: posts written 5 s ahead would be staged while they fall due):

    .venv/bin/python bench/publish_bench.py --burst 0 --spread 0 --reels 200 --accounts 200 \
        --concurrency 400 --due-in 120 \
        --env SANDBOX_LATENCY_MS=1500 --env SANDBOX_VIDEO_PROCESSING_SECONDS=60
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import connect_account, jpeg, nearest_percentile, processes, sign_up  # noqa: E402

from instasched.config import Settings, database_url_for, normalise_database_url  # noqa: E402
from instasched.embedded import EmbeddedServers  # noqa: E402
from instasched.embedded._proc import free_port  # noqa: E402
from instasched.integrations.storage import Storage  # noqa: E402
from instasched.models import MediaAsset, ScheduledPost  # noqa: E402
from instasched.publishing.staging import jobs_for  # noqa: E402
from instasched.worker.queue import QUEUE_NAME, PublishQueue  # noqa: E402

# Posts written seconds before they are due are not staged ahead (as before staging), so the
# burst and spread figures stay comparable; `--due-in` turns staging on (docs/staging.md).
NO_STAGING = {
    "STAGING_LEAD_SECONDS_IMAGE": "0",
    "STAGING_LEAD_SECONDS_VIDEO": "0",
    "STAGING_LEAD_SECONDS_CAROUSEL": "0",
}


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tag = secrets.token_hex(4)
        self.tmp = Path(tempfile.mkdtemp(prefix="publish-bench-"))
        self.embedded: EmbeddedServers | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cpu_before: dict[str, float] = {}
        self.profiled: subprocess.Popen[bytes] | None = None
        self.extra_workers: list[subprocess.Popen[bytes]] = []

    # --- setup -----------------------------------------------------------------------------
    def servers(self) -> dict[str, str]:
        env = {
            k: os.environ[k]
            for k in ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY")
            if os.environ.get(k)
        }
        need = {
            "need_postgres": "DATABASE_URL" not in env,
            "need_redis": "REDIS_URL" not in env,
            "need_s3": "S3_ENDPOINT" not in env,
        }
        if any(need.values()):
            self.embedded = EmbeddedServers(self.tmp / "servers", database="postgres")
            env.update(self.embedded.start(**need))
        return env

    async def create_database(self, admin_url: str) -> str:
        import asyncpg

        name = f"bench_{self.tag}"
        plain = admin_url.replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(plain)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return database_url_for(admin_url, name)

    async def drop_database(self, admin_url: str) -> None:
        import asyncpg

        plain = admin_url.replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(plain)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "bench_{self.tag}" WITH (FORCE)')
        finally:
            await conn.close()

    def start_server(self, servers: dict[str, str], database_url: str) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
            **servers,
            "DATABASE_URL": database_url,
            "QUEUE_PREFIX": f"bench{self.tag}",
            "S3_BUCKET": f"bench-{self.tag}",
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "INSTASCHED_DATA_DIR": str(self.tmp / "data"),
            "JWT_SECRET": secrets.token_urlsafe(48),
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "INSTAGRAM_SANDBOX": "true",
            "SANDBOX_PUBLISH_QUOTA": "1000000",
            "SANDBOX_CONTAINER_LIMIT": "1000000",
            "SCHEDULE_MIN_LEAD_SECONDS": "0",
            "DATABASE_POOL_SIZE": "20",
            "LOG_LEVEL": "WARNING",
            "RECONCILE_INTERVAL_SECONDS": "60",
        }
        if not self.args.due_in:  # posts written seconds ahead: no staging (as before it)
            self.env.update(NO_STAGING)
        if self.args.concurrency:
            self.env["WORKER_MAX_IN_FLIGHT"] = str(self.args.concurrency)
        for item in self.args.env:
            key, _, value = item.partition("=")
            self.env[key] = value
        if self.args.profile:
            self.env["RUN_WORKER"] = "false"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "instasched", "run"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.tmp / "server.log", "wb"),  # noqa: SIM115
        )
        for _ in range(self.args.workers - 1):
            self.extra_workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "instasched", "worker"],
                    cwd=ROOT,
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                    stderr=open(self.tmp / "worker-extra.log", "ab"),  # noqa: SIM115
                )
            )
        if self.args.profile:
            # The worker alone under cProfile (written when it stops).
            self.profiled = subprocess.Popen(
                [
                    sys.executable,
                    *("-m", "cProfile", "-o", self.args.profile),
                    *("-m", "instasched", "worker"),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=open(self.tmp / "worker.log", "wb"),  # noqa: SIM115
            )

    async def wait_ready(self, http: httpx.AsyncClient) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited; see {self.tmp / 'server.log'}")
            try:
                r = await http.get("/ready")
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
        raise SystemExit("the server did not become ready in 120 s")

    async def accounts(self, http: httpx.AsyncClient) -> tuple[uuid.UUID, list[uuid.UUID]]:
        email, password = f"bench-{self.tag}@example.com", "pw-" + secrets.token_hex(12)
        signed_up, headers = await sign_up(http, email, password)
        user_id = uuid.UUID(signed_up)

        async def connect(i: int) -> uuid.UUID:
            account = await connect_account(http, headers, {"username": f"bench_{self.tag}_{i}"})
            return uuid.UUID(account["id"])

        ids: list[uuid.UUID] = []
        for start in range(0, self.args.accounts, 10):  # 10 at a time: 1,000 in ~a minute
            end = min(start + 10, self.args.accounts)
            ids += await asyncio.gather(*(connect(i) for i in range(start, end)))
        return user_id, ids

    async def asset(
        self, engine: Any, storage: Storage, user_id: uuid.UUID, data: bytes, *, kind: str
    ) -> MediaAsset:
        """An uploaded media (S3 object and row), as the upload endpoint leaves it."""
        ext, mime = ("jpg", "image/jpeg") if kind == "image" else ("mp4", "video/mp4")
        key = f"bench/{self.tag}-{kind}.{ext}"
        await storage.put_bytes(key, data, mime)
        asset = MediaAsset(
            id=uuid.uuid4(),
            workspace_id=user_id,
            filename=f"bench.{ext}",
            original_filename=f"bench.{ext}",
            mime_type=mime,
            file_size=len(data),
            media_type=kind,
            s3_bucket=storage.bucket,
            s3_key=key,
            s3_url=storage.object_url(key),
            width=1080 if kind == "image" else 64,
            height=1080 if kind == "image" else 112,
        )
        async with engine.begin() as conn:
            await conn.execute(
                insert(MediaAsset).values(
                    {
                        column.key: getattr(asset, column.key)
                        for column in MediaAsset.__table__.columns
                        if getattr(asset, column.key) is not None
                    }
                )
            )
        return asset

    # --- one scenario ----------------------------------------------------------------------
    async def scenario(
        self,
        name: str,
        count: int,
        spread_seconds: float,
        *,
        engine: Any,
        queue: PublishQueue,
        http: httpx.AsyncClient,
        user_id: uuid.UUID,
        account_ids: list[uuid.UUID],
        asset: MediaAsset,
        sandbox: str = "/sandbox",
        media_type: str = "IMAGE",
        lead: float | None = None,
        staging: Settings | None = None,
        at_due: Callable[[], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        """Write `count` posts `lead` seconds before their (first) due time, enqueue their jobs
        and wait until every one is published or failed. `staging`: the STAGING_* settings the
        jobs are computed with (`jobs_for`; default: the server's with `--due-in`, else staging
        off). Posts given a staging job are waited for until staged or their due time, and the
        report says how many were staged ahead. `at_due` is awaited just before the first due
        time (bench/rows_publish.py: the sandbox's Graph-call peaks of the staging phase)."""
        due_in = getattr(self.args, "due_in", 0.0)  # (bench/rows_publish.py makes its own args)
        lead = lead or due_in or 5.0 + count / 2000
        start = datetime.now(UTC) + timedelta(seconds=lead)
        rows = []
        for i in range(count):
            offset = spread_seconds * i / count if spread_seconds else 0.0
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "instagram_account_id": account_ids[i % len(account_ids)],
                    "workspace_id": user_id,
                    "scheduled_for": start + timedelta(seconds=offset),
                    "caption": f"bench {self.tag} {name} {i}",
                    "media_urls": [asset.s3_url],
                    "media_ids": [str(asset.id)],
                    "media_type": media_type,
                    "status": "scheduled",
                    "publish_attempts": 0,
                }
            )
        async with engine.begin() as conn:
            for chunk in range(0, count, 1000):
                await conn.execute(insert(ScheduledPost), rows[chunk : chunk + 1000])
        # The jobs the posts API enqueues (publishing.staging.jobs_for): staging jobs too.
        if staging is None:
            staging_env = {k: v for k, v in self.env.items() if k.startswith("STAGING_")}
            staging = Settings(**(staging_env if due_in else NO_STAGING))
        now = datetime.now(UTC)
        unstaged = {"next_attempt_at": None, "container_id": None, "container_created_at": None}
        jobs = [
            job
            for r in rows
            for job in jobs_for(
                SimpleNamespace(**r, **unstaged, staging_status=None), settings=staging, now=now
            )
        ]
        await queue.schedule_many(jobs)
        ids = [r["id"] for r in rows]
        stage_jobs = sum(job.kind == "stage" for job in jobs)
        print(
            f"[{name}] {count} posts due from {start:%H:%M:%S} over {spread_seconds:.0f}s "
            f"(written and enqueued {(start - datetime.now(UTC)).total_seconds():.1f}s ahead"
            f"{f', {stage_jobs} staging jobs' if stage_jobs else ''})",
            flush=True,
        )
        if stage_jobs:
            await wait_staged(engine, ids, start, name)
        if at_due is not None:
            await asyncio.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds() - 0.3))
            await at_due()
        deadline = time.monotonic() + lead + spread_seconds + self.args.timeout
        while True:
            async with engine.connect() as conn:
                result = await conn.execute(
                    select(ScheduledPost.status, func.count())
                    .where(ScheduledPost.id.in_(ids))
                    .group_by(ScheduledPost.status)
                )
                counts = dict(result.all())
            done = counts.get("published", 0) + counts.get("failed", 0)
            if done >= count or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
        async with engine.connect() as conn:
            result = await conn.execute(
                select(
                    ScheduledPost.scheduled_for,
                    ScheduledPost.publishing_started_at,
                    ScheduledPost.published_at,
                    ScheduledPost.status,
                    ScheduledPost.publish_attempts,
                ).where(ScheduledPost.id.in_(ids))
            )
            data = result.all()
        dispatch = [
            (started - due).total_seconds() for due, started, _, _, _ in data if started is not None
        ]
        published = [(at - due).total_seconds() for due, _, at, status, _ in data if at is not None]
        statuses = Counter(status for *_, status, _ in data)
        r = await http.get(f"{sandbox}/_control/media")
        prefix = f"bench {self.tag} {name} "
        captions = Counter(
            m["caption"]
            for m in r.json()["media"]
            if isinstance(m.get("caption"), str) and m["caption"].startswith(prefix)
        )
        duplicates = sum(n - 1 for n in captions.values() if n > 1)
        cpu = process_cpu_seconds(self.proc.pid) if self.proc is not None else {}
        for proc_name, seconds in process_cpu_seconds(os.getpid()).items():
            cpu[proc_name] = cpu.get(proc_name, 0.0) + seconds
        used = {k: round(v - self.cpu_before.get(k, 0.0), 1) for k, v in cpu.items()}
        self.cpu_before = cpu
        first_due = min(due for due, *_ in data)
        last_published = max((at for _, _, at, _, _ in data if at is not None), default=None)
        wall = (last_published - first_due).total_seconds() if last_published else float("nan")
        report = {
            "scenario": name,
            "posts": count,
            "statuses": dict(statuses),
            "sandbox_media": sum(captions.values()),
            "duplicates": duplicates,
            "exactly_once": statuses.get("published", 0) == count
            and len(captions) == count
            and duplicates == 0,
            "dispatch_p50_ms": nearest_percentile(dispatch, 0.5) * 1000,
            "dispatch_p99_ms": nearest_percentile(dispatch, 0.99) * 1000,
            "dispatch_max_ms": max(dispatch, default=float("nan")) * 1000,
            "published_p50_ms": nearest_percentile(published, 0.5) * 1000,
            "published_p99_ms": nearest_percentile(published, 0.99) * 1000,
            "published_max_ms": max(published, default=float("nan")) * 1000,
            # Raw samples for bench/run's table (ms).
            "dispatch_lateness_ms": [d * 1000 for d in dispatch],
            "published_lateness_ms": [p * 1000 for p in published],
            "mean_attempts": statistics.fmean(a or 0 for *_, a in data) if data else 0,
            "wall_seconds": wall,
            "publish_rate_per_s": count / wall if wall and wall > 0 else float("nan"),
            "cpu_seconds": used,
            "workers": self.args.workers,
            "load_average": os.getloadavg()[0],
        }
        if stage_jobs:
            report.update(await staging_counts(engine, ids))
        return report

    # --- all -------------------------------------------------------------------------------
    async def run(self) -> list[dict[str, Any]]:
        servers = self.servers()
        admin = normalise_database_url(servers["DATABASE_URL"])
        database_url = await self.create_database(admin)
        from instasched.migrate import upgrade

        await asyncio.to_thread(upgrade, database_url)
        self.start_server(servers, database_url)
        engine = create_async_engine(database_url, poolclass=NullPool)
        queue = PublishQueue(servers["REDIS_URL"], prefix=f"bench{self.tag}")
        storage = Storage(
            endpoint=servers["S3_ENDPOINT"],
            access_key=servers.get("S3_ACCESS_KEY"),
            secret_key=servers.get("S3_SECRET_KEY"),
            bucket=f"bench-{self.tag}",
        )
        await storage.start()
        reports: list[dict[str, Any]] = []
        try:
            async with httpx.AsyncClient(base_url=self.url, timeout=60) as http:
                await self.wait_ready(http)
                user_id, account_ids = await self.accounts(http)
                await storage.ensure_bucket()
                asset = await self.asset(engine, storage, user_id, jpeg(quality=80), kind="image")
                common = {
                    "engine": engine,
                    "queue": queue,
                    "http": http,
                    "user_id": user_id,
                    "account_ids": account_ids,
                    "asset": asset,
                }
                if self.args.burst:
                    reports.append(await self.scenario("burst", self.args.burst, 0.0, **common))
                    print_report(reports[-1])
                if self.args.spread:
                    reports.append(
                        await self.scenario(
                            "spread", self.args.spread, self.args.spread_seconds, **common
                        )
                    )
                    print_report(reports[-1])
                if self.args.reels:
                    from tests.media.files import mp4_bytes

                    video = await asyncio.to_thread(mp4_bytes, 3.5, 64, 112, fps=24)
                    common["asset"] = await self.asset(
                        engine, storage, user_id, video, kind="video"
                    )
                    reports.append(
                        await self.scenario(
                            "reels", self.args.reels, 0.0, media_type="REELS", **common
                        )
                    )
                    print_report(reports[-1])
        finally:
            await self.cleanup(engine, queue, storage, servers, admin)
        return reports

    async def cleanup(
        self,
        engine: Any,
        queue: PublishQueue,
        storage: Storage,
        servers: dict[str, str],
        admin: str,
    ) -> None:
        for extra in self.extra_workers:
            if extra.poll() is None:
                extra.send_signal(signal.SIGTERM)
        for extra in self.extra_workers:
            try:
                extra.wait(30)
            except subprocess.TimeoutExpired:
                extra.kill()
        if self.profiled is not None and self.profiled.poll() is None:
            self.profiled.send_signal(signal.SIGTERM)
            self.profiled.wait(60)
            print(f"worker profile written to {self.args.profile}")
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        await engine.dispose()
        client = queue.queue.client
        keys = [k async for k in client.scan_iter(match=f"bench{self.tag}:{QUEUE_NAME}:*")]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
        await queue.close()
        try:
            objects = [o.key for o in await storage.list_keys()]
            await storage.delete(*objects)
            await storage.client.delete_bucket(Bucket=storage.bucket)
        except Exception as exc:
            print(f"(bucket cleanup failed: {exc})")
        await storage.close()
        if not self.args.keep:
            await self.drop_database(admin)
        if self.embedded is not None:
            self.embedded.stop()
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


async def wait_staged(engine: Any, ids: list[uuid.UUID], start: datetime, name: str) -> None:
    """Until every post is staged (`staging_status` 'staged': its container FINISHED) or the
    first due time is a second away; prints how many were."""
    while True:
        async with engine.connect() as conn:
            staged = (
                await conn.execute(
                    select(func.count()).where(
                        ScheduledPost.id.in_(ids), ScheduledPost.staging_status == "staged"
                    )
                )
            ).scalar_one()
        left = (start - datetime.now(UTC)).total_seconds()
        if staged >= len(ids) or left <= 1.0:
            break
        await asyncio.sleep(min(1.0, left - 1.0))
    print(
        f"[{name}] {staged} of {len(ids)} staged (containers FINISHED) {left:.1f} s before the "
        "first due time",
        flush=True,
    )


async def staging_counts(engine: Any, ids: list[uuid.UUID]) -> dict[str, Any]:
    """How many posts were staged ahead (`staged_at` <= `scheduled_for`; the others' containers
    were made at the due time), the staging statuses, and how close to its due time the
    latest staging finished."""
    async with engine.connect() as conn:
        result = await conn.execute(
            select(
                ScheduledPost.scheduled_for, ScheduledPost.staged_at, ScheduledPost.staging_status
            ).where(ScheduledPost.id.in_(ids))
        )
        data = result.all()
    ahead = [
        (due - staged).total_seconds()
        for due, staged, _ in data
        if staged is not None and staged <= due
    ]
    return {
        "staged_ahead": len(ahead),
        "staged_at_due": len(data) - len(ahead),
        "staging_statuses": dict(Counter(str(status) for *_, status in data)),
        "staged_min_seconds_before_due": round(min(ahead), 1) if ahead else None,
    }


def process_cpu_seconds(root_pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of `instasched run`'s children, by command (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for ppid, cmd, fields in processes().values():
        if ppid != root_pid or "instasched" not in cmd:
            continue
        name = cmd.rsplit(" ", 1)[-1]
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return out


def print_report(r: dict[str, Any]) -> None:
    print(
        f"[{r['scenario']}] posts={r['posts']} statuses={r['statuses']} "
        f"sandbox_media={r['sandbox_media']} duplicates={r['duplicates']} "
        f"exactly_once={r['exactly_once']}\n"
        f"  dispatch lateness (claimed - due):  p50={r['dispatch_p50_ms']:.0f} ms "
        f"p99={r['dispatch_p99_ms']:.0f} ms max={r['dispatch_max_ms']:.0f} ms\n"
        f"  publish lateness (published - due): p50={r['published_p50_ms']:.0f} ms "
        f"p99={r['published_p99_ms']:.0f} ms max={r['published_max_ms']:.0f} ms\n"
        f"  end to end: {r['wall_seconds']:.1f} s from first due to last published, "
        f"{r['publish_rate_per_s']:.0f} posts/s with {r['workers']} worker process(es); "
        f"mean attempts {r['mean_attempts']:.2f}\n"
        f"  CPU seconds used: {r['cpu_seconds']} (machine load average {r['load_average']:.1f})",
        flush=True,
    )
    if "staged_ahead" in r:
        print(
            f"  staged ahead {r['staged_ahead']}, containers at the due time "
            f"{r['staged_at_due']}; staging statuses {r['staging_statuses']}",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", type=int, default=2000, help="posts due in the same second")
    parser.add_argument("--spread", type=int, default=10000, help="posts spread over a window")
    parser.add_argument("--spread-seconds", type=float, default=60.0)
    parser.add_argument("--reels", type=int, default=0, help="reels due in the same second")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="server setting, e.g. SANDBOX_LATENCY_PROFILE=meta or SANDBOX_LATENCY_MS=1500",
    )
    parser.add_argument("--accounts", type=int, default=20, help="sandbox accounts to spread over")
    parser.add_argument(
        "--due-in",
        type=float,
        default=0.0,
        help="write the posts this many seconds before they are due (staging ahead needs "
        "time); default 5 s plus 0.5 ms a post",
    )
    parser.add_argument(
        "--concurrency", type=int, help="WORKER_MAX_IN_FLIGHT (default: the server's, 1000)"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait after the last due time"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the bench database and temp dir (logs)"
    )
    parser.add_argument("--profile", metavar="FILE", help="run the worker under cProfile")
    args = parser.parse_args()
    reports = asyncio.run(Bench(args).run())
    return 0 if all(r["exactly_once"] for r in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
