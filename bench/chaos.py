"""Chaos run: nothing lost, nothing published twice, while everything around the worker fails.

Starts its own servers in a temporary directory (embedded PostgreSQL, Valkey and SeaweedFS: the
Redis flush and the PostgreSQL restart below only ever touch these), `instasched run` with
RUN_WORKER=false (API + mounted sandbox) on a free port, and `--workers` separate
`instasched worker` processes that this script manages. Then:

1. connects `--accounts` sandbox accounts, uploads one JPEG, and creates `--posts` posts through
   the API, due evenly over the first 60 % of `--minutes`;
2. while they fall due: about 10 % of Graph calls get a fault (5xx, rate limit, and some
   timeouts after the publish took effect) through `POST /sandbox/_control/faults`; a worker is
   killed with SIGKILL every `--kill-every` seconds and restarted; Redis is flushed once (at 1/3
   of the window) and PostgreSQL is restarted once (`pg_ctl restart`, at 1/2);
3. waits (at most `--settle` seconds after the window) until every post is published or failed.

Report: published, failed (with reasons), duplicates (sandbox media per post: must be 0), lost
(posts neither published nor failed at the end: must be 0), mismatches between PostgreSQL and
the sandbox, and lateness (published_at - scheduled_for) percentiles. Exit status 1 when a
duplicate, a lost post or a mismatch was found.

    bench/chaos --posts 1000 --minutes 3
    bench/chaos --posts 200 --minutes 2 --kill-every 5

`--scenario defaults` instead runs three single-fault scenarios with the default recovery
settings (PUBLISH_LEASE_SECONDS, RECONCILE_INTERVAL_SECONDS, PUBLISH_RETRY_BASE_SECONDS unset;
the run above shortens them, which hides slow recovery) and every Graph `media` and
`media_publish` call answering after `--graph-latency-ms` (2,500; the sandbox's latency faults),
each on fresh servers, the fault at a third of the window, with a lateness p99 goal:

| scenario | the fault | lateness p99 goal |
|---|---|---|
| `worker-kill` | SIGKILL one of the two workers (restarted at once), posts in flight | <= 20 s |
| `flushall` | FLUSHALL on the run's Valkey | <= 10 s |
| `pg-stop` | the run's embedded PostgreSQL stopped for 20 s (`--pg-stop-seconds`) | <= 30 s |

    bench/chaos --scenario defaults --posts 300 --minutes 1.5
    bench/chaos --scenario flushall --posts 300 --minutes 1.5   # one of them
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import connect_account, jpeg, nearest_percentile, sign_up  # noqa: E402

from instasched.config import normalise_database_url  # noqa: E402
from instasched.embedded import EmbeddedServers  # noqa: E402
from instasched.embedded._proc import free_port  # noqa: E402
from instasched.models import ScheduledPost  # noqa: E402

SCENARIOS = ("worker-kill", "flushall", "pg-stop")
# Lateness p99 goals (seconds) of the default-settings scenarios.
GOALS = {"worker-kill": 20.0, "flushall": 10.0, "pg-stop": 30.0}

FAULTS: list[tuple[str, dict[str, Any], float]] = [
    # (endpoint, fault body, weight)
    ("media", {"error": {"code": 2, "message": "Service temporarily unavailable"}}, 3),
    ("media_publish", {"error": {"code": 2, "message": "Service temporarily unavailable"}}, 3),
    ("media", {"error": {"code": 4, "message": "Application request limit reached"}}, 1.5),
    ("media_publish", {"error": {"code": 4, "message": "Application request limit reached"}}, 1.5),
    ("container_status", {"error": {"code": 1, "message": "An unknown error occurred"}}, 1),
    ("media_publish", {"timeoutAfterEffect": True}, 2),
]


class Chaos:
    def __init__(self, args: argparse.Namespace, scenario: str = "mixed") -> None:
        self.args = args
        self.scenario = scenario
        self.in_flight_at_fault: int | None = None
        self.rng = random.Random(args.seed)
        self.tag = secrets.token_hex(3)
        self.tmp = Path(tempfile.mkdtemp(prefix="instasched-chaos-"))
        self.embedded = EmbeddedServers(self.tmp / "servers", database="instasched")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env: dict[str, str] = {}
        self.api: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes] | None] = []
        self.events: Counter[str] = Counter()
        self.log: list[str] = []

    def note(self, text: str) -> None:
        line = f"{datetime.now(UTC):%H:%M:%S} {text}"
        self.log.append(line)
        print(line, flush=True)

    # --- processes -------------------------------------------------------------------------
    def start(self) -> None:
        servers = self.embedded.start(need_postgres=True, need_redis=True, need_s3=True)
        self.env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")},
            **servers,
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "INSTASCHED_DATA_DIR": str(self.tmp / "data"),
            "JWT_SECRET": secrets.token_urlsafe(48),
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "INSTAGRAM_SANDBOX": "true",
            "RUN_WORKER": "false",
            "SCHEDULE_MIN_LEAD_SECONDS": "0",
            "SANDBOX_PUBLISH_QUOTA": "1000000",
            "SANDBOX_CONTAINER_LIMIT": "1000000",
            "DATABASE_POOL_SIZE": "10",
            "LOG_LEVEL": "WARNING",
        }
        # The mixed run shortens the recovery settings; a scenario keeps the defaults unless
        # they are given.
        mixed = self.scenario == "mixed"
        for name, value, short in (
            ("PUBLISH_RETRY_BASE_SECONDS", self.args.retry_base, 1.0),
            ("PUBLISH_MAX_ATTEMPTS", self.args.max_attempts, 3),
            ("PUBLISH_LEASE_SECONDS", self.args.lease, 10),
            ("RECONCILE_INTERVAL_SECONDS", self.args.reconcile, 5.0),
            ("GRAPH_TIMEOUT_SECONDS", None, 10.0),
        ):
            if value is not None or mixed:
                self.env[name] = str(value if value is not None else short)
        self.api = subprocess.Popen(
            [sys.executable, "-m", "instasched", "run"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.tmp / "api.log", "wb"),  # noqa: SIM115
        )
        self.workers = [self.spawn_worker(i) for i in range(self.args.workers)]

    def spawn_worker(self, index: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "instasched", "worker"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.tmp / f"worker-{index}.log", "ab"),
        )

    def kill_a_worker(self) -> None:
        index = self.rng.randrange(len(self.workers))
        proc = self.workers[index]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        self.workers[index] = self.spawn_worker(index)
        self.events["worker SIGKILL + restart"] += 1

    def flush_redis(self) -> None:
        import redis

        client = redis.Redis.from_url(self.env["REDIS_URL"])
        try:
            client.flushall()
        finally:
            client.close()
        self.events["redis FLUSHALL"] += 1
        self.note("Redis flushed (FLUSHALL on this run's embedded Valkey)")

    def restart_postgres(self) -> None:
        pg = self.embedded.postgres
        assert pg is not None
        started = time.monotonic()
        # pg_ctl stop -m fast, then pg_ctl start on the same data dir and port (what
        # `pg_ctl restart` does; run as two steps so the server's output goes to its log file).
        pg.stop()
        pg.start()
        self.events["postgres restart"] += 1
        took = time.monotonic() - started
        self.note(f"PostgreSQL restarted (pg_ctl stop -m fast + start, {took:.1f}s)")

    def stop_postgres_for(self, seconds: float) -> None:
        pg = self.embedded.postgres
        assert pg is not None
        pg.stop()
        self.note(f"PostgreSQL stopped for {seconds:.0f}s")
        time.sleep(seconds)
        pg.start()
        self.events["postgres stopped"] += 1
        self.note("PostgreSQL started again")

    def stop(self) -> None:
        procs = [p for p in [*self.workers, self.api] if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.embedded.stop()

    # --- setup through the API -------------------------------------------------------------
    async def wait_ready(self, http: httpx.AsyncClient) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.api is not None
            if self.api.poll() is not None:
                raise SystemExit(f"instasched run exited; see {self.tmp / 'api.log'}")
            try:
                if (await http.get("/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
        raise SystemExit("the server did not become ready in 180 s")

    async def setup(self, http: httpx.AsyncClient) -> tuple[dict[str, str], list[dict[str, Any]]]:
        email, password = f"chaos-{self.tag}@example.com", "pw-" + secrets.token_hex(12)
        _, headers = await sign_up(http, email, password)
        accounts: list[dict[str, Any]] = []
        for i in range(self.args.accounts):
            account = await connect_account(http, headers, {"username": f"chaos_{i}"})
            accounts.append({"id": account["id"], "igUserId": account["igUserId"]})
        r = await http.post(
            "/api/instagram/scheduling/media/upload",
            files={"file": ("chaos.jpg", jpeg((30, 140, 90), quality=80), "image/jpeg")},
            headers=headers,
        )
        r.raise_for_status()
        for account in accounts:
            account["mediaId"] = r.json()["id"]
        return headers, accounts

    async def create_posts(
        self, http: httpx.AsyncClient, headers: dict[str, str], accounts: list[dict[str, Any]]
    ) -> tuple[dict[str, int], datetime, float]:
        count = self.args.posts
        lead = 10.0 + count / 40  # time to create them all through the API
        window = self.args.minutes * 60 * 0.6
        start = datetime.now(UTC) + timedelta(seconds=lead)
        index_of: dict[str, int] = {}
        semaphore = asyncio.Semaphore(8)

        async def one(i: int) -> None:
            account = accounts[i % len(accounts)]
            due = start + timedelta(seconds=window * i / count)
            body = {
                "instagramAccountId": account["id"],
                "scheduledFor": due.isoformat(),
                "caption": f"chaos {self.tag} #{i}",
                "mediaIds": [account["mediaId"]],
                "mediaType": "IMAGE",
            }
            async with semaphore:
                for _ in range(20):
                    r = await http.post(
                        "/api/instagram/scheduling/posts",
                        json=body,
                        headers={**headers, "Idempotency-Key": f"chaos-{self.tag}-{i}"},
                    )
                    if r.status_code in (200, 201):
                        index_of[r.json()["id"]] = i
                        return
                    await asyncio.sleep(0.5)
                raise SystemExit(f"could not create post {i}: {r.status_code} {r.text}")

        await asyncio.gather(*(one(i) for i in range(count)))
        self.note(
            f"{count} posts created through the API, due {start:%H:%M:%S} + {window:.0f}s "
            f"({(start - datetime.now(UTC)).total_seconds():.1f}s ahead)"
        )
        return index_of, start, window

    # --- chaos -----------------------------------------------------------------------------
    async def inject_faults(
        self, http: httpx.AsyncClient, accounts: list[dict[str, Any]], until: float
    ) -> None:
        """About `--fault-rate` of the ~3 Graph calls per post get a fault, spread over time."""
        total = int(self.args.posts * 3 * self.args.fault_rate)
        period = max(0.05, (until - time.monotonic()) / max(1, total))
        weights = [w for *_, w in FAULTS]
        while time.monotonic() < until:
            endpoint, fault, _ = self.rng.choices(FAULTS, weights=weights)[0]
            account = self.rng.choice(accounts)
            try:
                r = await http.post(
                    "/sandbox/_control/faults",
                    json={"igUserId": account["igUserId"], "endpoint": endpoint, **fault},
                )
                if r.status_code == 201:
                    kind = (
                        "timeout after publish"
                        if "timeoutAfterEffect" in fault
                        else (f"{endpoint} error {fault['error']['code']}")
                    )
                    self.events[f"fault queued: {kind}"] += 1
            except httpx.HTTPError:
                pass
            await asyncio.sleep(period)

    async def slow_graph(self, http: httpx.AsyncClient, accounts: list[dict[str, Any]]) -> None:
        """Every `media` and `media_publish` call answers after --graph-latency-ms (the sandbox's
        latency faults, consumed one call at a time: enough for every post and its recovery)."""
        calls = self.args.posts // len(accounts) + 20
        for account in accounts:
            for endpoint in ("media", "media_publish"):
                left = calls
                while left > 0:
                    r = await http.post(
                        "/sandbox/_control/faults",
                        json={
                            "igUserId": account["igUserId"],
                            "endpoint": endpoint,
                            "latencyMs": self.args.graph_latency_ms,
                            "count": min(left, 1000),
                        },
                    )
                    r.raise_for_status()
                    left -= 1000
        self.note(
            f"Graph media and media_publish calls answer after {self.args.graph_latency_ms} ms"
        )

    async def in_flight(self, engine: Any) -> int:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(ScheduledPost.id).where(ScheduledPost.status == "publishing")
            )
            return len(rows.all())

    async def scenario_fault(self, engine: Any, start_mono: float, window: float) -> None:
        await asyncio.sleep(max(0.0, start_mono + window / 3 - time.monotonic()))
        if self.scenario == "worker-kill":
            self.in_flight_at_fault = await self.in_flight(engine)
            await asyncio.to_thread(self.kill_a_worker)
            self.note(f"worker SIGKILLed and restarted; {self.in_flight_at_fault} posts in flight")
        elif self.scenario == "flushall":
            self.in_flight_at_fault = await self.in_flight(engine)
            await asyncio.to_thread(self.flush_redis)
        elif self.scenario == "pg-stop":
            self.in_flight_at_fault = await self.in_flight(engine)
            await asyncio.to_thread(self.stop_postgres_for, self.args.pg_stop_seconds)

    async def kill_loop(self, until: float) -> None:
        while time.monotonic() < until:
            await asyncio.sleep(self.args.kill_every)
            if time.monotonic() < until:
                await asyncio.to_thread(self.kill_a_worker)

    async def one_offs(self, start_mono: float, window: float) -> None:
        await asyncio.sleep(max(0.0, start_mono + window / 3 - time.monotonic()))
        await asyncio.to_thread(self.flush_redis)
        await asyncio.sleep(max(0.0, start_mono + window / 2 - time.monotonic()))
        await asyncio.to_thread(self.restart_postgres)

    # --- the run ---------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        self.start()
        engine = create_async_engine(
            normalise_database_url(self.env["DATABASE_URL"]), poolclass=NullPool
        )
        try:
            async with httpx.AsyncClient(base_url=self.url, timeout=60) as http:
                await self.wait_ready(http)
                headers, accounts = await self.setup(http)
                if self.scenario != "mixed":
                    await self.slow_graph(http, accounts)
                index_of, start, window = await self.create_posts(http, headers, accounts)
                start_mono = time.monotonic() + (start - datetime.now(UTC)).total_seconds()
                until = start_mono + window
                if self.scenario == "mixed":
                    await asyncio.gather(
                        self.inject_faults(http, accounts, until),
                        self.kill_loop(until),
                        self.one_offs(start_mono, window),
                    )
                    self.note("chaos over: faults cleared, workers left running; settling")
                    await http.delete("/sandbox/_control/faults")
                else:
                    await self.scenario_fault(engine, start_mono, window)
                    self.note(f"{self.scenario} done; settling")
                rows = await self.settle(engine, set(index_of))
                media = (await http.get("/sandbox/_control/media")).json()["media"]
                return self.report(rows, media, index_of)
        finally:
            await engine.dispose()
            self.stop()
            if not self.args.keep:
                shutil.rmtree(self.tmp, ignore_errors=True)

    async def settle(self, engine: Any, ids: set[str]) -> list[Any]:
        deadline = time.monotonic() + self.args.settle
        uuids = [uuid.UUID(i) for i in ids]
        while True:
            try:
                async with engine.connect() as conn:
                    rows = (
                        await conn.execute(
                            select(
                                ScheduledPost.id,
                                ScheduledPost.status,
                                ScheduledPost.scheduled_for,
                                ScheduledPost.published_at,
                                ScheduledPost.publish_attempts,
                                ScheduledPost.last_publish_error,
                                ScheduledPost.last_error_code,
                                ScheduledPost.instagram_media_id,
                            ).where(ScheduledPost.id.in_(uuids))
                        )
                    ).all()
            except Exception as exc:  # PostgreSQL may still be coming back
                self.note(f"settle: database not readable yet ({type(exc).__name__})")
                await asyncio.sleep(1)
                continue
            open_ = [r for r in rows if r.status not in ("published", "failed")]
            if not open_ or time.monotonic() > deadline:
                return list(rows)
            await asyncio.sleep(1)

    def report(
        self, rows: list[Any], media: list[dict[str, Any]], index_of: dict[str, int]
    ) -> dict[str, Any]:
        prefix = f"chaos {self.tag} #"
        per_post: Counter[int] = Counter(
            int(m["caption"][len(prefix) :])
            for m in media
            if isinstance(m.get("caption"), str) and m["caption"].startswith(prefix)
        )
        statuses = Counter(r.status for r in rows)
        failed = [r for r in rows if r.status == "failed"]
        reasons = Counter(f"[{r.last_error_code}] {r.last_publish_error}" for r in failed)
        lost = [str(r.id) for r in rows if r.status not in ("published", "failed")]
        duplicates = {i: n for i, n in per_post.items() if n > 1}
        published_not_in_sandbox = [
            str(r.id)
            for r in rows
            if r.status == "published" and per_post[index_of[str(r.id)]] == 0
        ]
        in_sandbox_but_failed = [str(r.id) for r in failed if per_post[index_of[str(r.id)]] > 0]
        lateness = [
            (r.published_at - r.scheduled_for).total_seconds()
            for r in rows
            if r.status == "published" and r.published_at is not None
        ]
        attempts = Counter(r.publish_attempts or 0 for r in rows)
        p99 = round(nearest_percentile(lateness, 0.99), 2)
        goal = GOALS.get(self.scenario)
        return {
            "scenario": self.scenario,
            "settings": {
                k: self.env.get(k, "default")
                for k in (
                    "PUBLISH_LEASE_SECONDS",
                    "RECONCILE_INTERVAL_SECONDS",
                    "PUBLISH_RETRY_BASE_SECONDS",
                )
            },
            "lateness_p99_goal_s": goal,
            "goal_met": None if goal is None else p99 <= goal,
            "in_flight_at_fault": self.in_flight_at_fault,
            "posts": len(rows),
            "published": statuses.get("published", 0),
            "failed": len(failed),
            "failed_reasons": dict(reasons.most_common()),
            "duplicates": sum(n - 1 for n in duplicates.values()),
            "duplicate_posts": duplicates,
            "lost": len(lost),
            "lost_ids": lost[:20],
            "published_but_not_on_instagram": published_not_in_sandbox[:20],
            "on_instagram_but_failed": in_sandbox_but_failed[:20],
            "statuses": dict(statuses),
            "attempts": dict(sorted(attempts.items())),
            "lateness_s": {
                "p50": round(nearest_percentile(lateness, 0.5), 2),
                "p90": round(nearest_percentile(lateness, 0.9), 2),
                "p99": p99,
                "max": round(max(lateness, default=float("nan")), 2),
                "within_1s": sum(1 for x in lateness if x <= 1),
                "within_10s": sum(1 for x in lateness if x <= 10),
                "within_60s": sum(1 for x in lateness if x <= 60),
            },
            "events": dict(self.events),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument(
        "--minutes",
        type=float,
        default=3.0,
        help="chaos window (posts fall due in its first 60 %%)",
    )
    parser.add_argument("--settle", type=float, default=180.0, help="max seconds to wait after")
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--kill-every", type=float, default=5.0, help="SIGKILL period (s)")
    parser.add_argument("--fault-rate", type=float, default=0.10)
    parser.add_argument(
        "--scenario",
        choices=("mixed", *SCENARIOS, "defaults"),
        default="mixed",
        help="mixed: the run above; defaults: the three scenarios with default settings",
    )
    parser.add_argument(
        "--graph-latency-ms", type=int, default=2500, help="scenarios: media/media_publish delay"
    )
    parser.add_argument("--pg-stop-seconds", type=float, default=20.0)
    parser.add_argument(
        "--retry-base", type=float, help="PUBLISH_RETRY_BASE_SECONDS (mixed: 1; scenarios: unset)"
    )
    parser.add_argument("--max-attempts", type=int, help="PUBLISH_MAX_ATTEMPTS (mixed: 3)")
    parser.add_argument("--lease", type=int, help="PUBLISH_LEASE_SECONDS (mixed: 10)")
    parser.add_argument(
        "--reconcile", type=float, help="RECONCILE_INTERVAL_SECONDS (mixed: 5; scenarios: unset)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args()
    scenarios = list(SCENARIOS) if args.scenario == "defaults" else [args.scenario]
    reports = []
    for scenario in scenarios:
        report = asyncio.run(Chaos(args, scenario).run())
        print(json.dumps(report, indent=2, default=str), flush=True)
        reports.append(report)
    if len(reports) > 1:
        print("scenario     posts  published  dupl  lost  p50    p99    max    goal  met")
        for r in reports:
            late = r["lateness_s"]
            print(
                f"{r['scenario']:<12} {r['posts']:>5}  {r['published']:>9}  {r['duplicates']:>4}"
                f"  {r['lost']:>4}  {late['p50']:<6} {late['p99']:<6} {late['max']:<6}"
                f" {r['lateness_p99_goal_s']:<5} {'yes' if r['goal_met'] else 'NO'}"
            )
    bad = any(
        r["duplicates"]
        or r["lost"]
        or r["published_but_not_on_instagram"]
        or r["on_instagram_but_failed"]
        for r in reports
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
