"""`bench/run`: every figure of the performance issue against one `instasched run`, one table.

Starts its own `instasched run` (temporary INSTASCHED_DATA_DIR, free PORT, embedded PostgreSQL,
Redis and S3, SCHEDULE_MIN_LEAD_SECONDS=0 so posts can be due seconds ahead, the in-process
Instagram sandbox with no added latency), seeds what each figure needs, drives the load from this
process (a separate process from the server, on 127.0.0.1, bounded in count and time), prints one
table and writes bench/results.json. Every server it starts is stopped by PID at the end.

    bench/run                       # every figure, full counts (about 6-8 minutes)
    bench/run --quick               # every figure, small counts (about 2 minutes)
    bench/run --only create,list    # a subset (names: see FIGURES)
    bench/run --env API_WORKERS=2 --env WORKER_MAX_IN_FLIGHT=100   # server settings to compare
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import loadgen  # noqa: E402
from benchlib import jpeg, proc_kb, processes  # noqa: E402
from posts_bench import list_params  # noqa: E402

from instasched.embedded._proc import free_port  # noqa: E402

BASE = "/api/instagram/scheduling"
FIGURES = (
    "create",
    "list",
    "ceiling",
    "render",
    "upload",
    "publish_single",
    "burst",
    "spread",
    "optimal",
    "scale",  # bench/scale: ~10-15 minutes, so only when asked for (--only scale)
    "staged_reels",
    "import",
    "inflight",
)
DEFAULT_FIGURES = tuple(f for f in FIGURES if f != "scale")
SERVER_ENV_CLEAR = (
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_HOST",
    "REDIS_PORT",
    "S3_ENDPOINT",
    "MINIO_ENDPOINT",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "JWT_SECRET",
    "TOKEN_ENCRYPTION_KEY",
    "SANDBOX_URL",
    "INSTAGRAM_APP_ID",
    "INSTAGRAM_APP_SECRET",
)


@dataclass
class Sizes:
    create_seconds: float
    closed_total: int
    list_seed: int
    list_seconds: float
    renders: int
    uploads: int
    concurrent_uploads: int
    single_posts: int
    burst: int
    spread: int
    spread_seconds: float
    optimal_posts: int
    optimal_requests: int
    # The Meta-timed rows (`inflight`): (posts, accounts, seconds) of each.
    inflight_burst: tuple[int, int, float] = (2000, 1000, 0.0)
    inflight_spread: tuple[int, int, float] = (10_000, 5000, 60.0)


FULL = Sizes(20, 10_000, 100_000, 20, 20_000, 20, 100, 20, 2000, 10_000, 60, 10_000, 300)
QUICK = Sizes(
    5,
    2_000,
    100_000,
    5,
    5_000,
    5,
    20,
    5,
    400,
    1_500,
    15,
    10_000,
    100,
    (400, 200, 0.0),
    (1500, 750, 15.0),
)
# Added latency of every sandbox Graph call in the `inflight` rows (ms): an image post is 3
# calls (container, media_publish, fields), ~4.5 s in all.
INFLIGHT_LATENCY_MS = 1500.0
# The burst and spread rows' accounts (10 posts each in the burst, 50 over the spread's minute).
PUBLISH_ACCOUNTS = 200


# --- figures -------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


@dataclass
class Figure:
    name: str
    unit: str
    values: list[float]
    goal: str
    met: bool | None
    value: float | None = None
    value_unit: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "unit": self.unit,
            "n": len(self.values),
            "p50": _round(pct(self.values, 50)),
            "p95": _round(pct(self.values, 95)),
            "p99": _round(pct(self.values, 99)),
            "max": _round(max(self.values, default=float("nan"))),
            "goal": self.goal,
            "met": self.met,
        }
        if self.value is not None:
            out["value"] = _round(self.value)
            out["value_unit"] = self.value_unit
        out.update(self.extra)
        return out


def _round(v: float) -> float | None:
    if v != v:  # NaN
        return None
    return round(v, 4 if abs(v) < 1 else 2 if abs(v) < 100 else 1)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1 else f"{v:.1f}"
    return str(v)


def print_table(rows: list[dict[str, Any]]) -> None:
    head = ("figure", "unit", "n", "p50", "p95", "p99", "max", "value", "goal", "met?")
    table = [head]
    for r in rows:
        value = f"{_fmt(r.get('value'))} {r.get('value_unit') or ''}".strip()
        met = {True: "yes", False: "NO", None: "-"}[r["met"]]
        table.append(
            (
                r["name"],
                r["unit"],
                str(r["n"]),
                *(_fmt(r[k]) for k in ("p50", "p95", "p99", "max")),
                value,
                r["goal"],
                met,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for i, row in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for r in rows:
        if r.get("note"):
            print(f"- {r['name']}: {r['note']}")


# --- the server ----------------------------------------------------------------------------
def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every descendant of `pid` (Linux /proc)."""
    by_parent: dict[int, list[tuple[int, str]]] = {}
    for other, (ppid, cmd, _) in processes().items():
        by_parent.setdefault(ppid, []).append((other, cmd))
    out: list[tuple[int, str]] = []
    todo = [pid]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            out.append(child)
            todo.append(child[0])
    return out


def cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    # utime + stime + the reaped children's (PostgreSQL's exited backends count to it).
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class Server:
    """`instasched run` in a temporary data dir, plus (optionally) the bare ceiling app."""

    def __init__(self, overrides: dict[str, str], extra_workers: int) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="instasched-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.prefix = "bench"
        self.overrides = overrides
        self.extra_workers = extra_workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.others: list[subprocess.Popen[bytes]] = []
        self.env: dict[str, str] = {}
        self.sandbox = f"{self.url}/sandbox"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_CLEAR}
        env.update(
            INSTASCHED_DATA_DIR=str(self.tmp / "data"),
            PORT=str(self.port),
            HOST="127.0.0.1",
            INSTAGRAM_SANDBOX="true",
            SANDBOX_PUBLISH_QUOTA="1000000",
            SANDBOX_CONTAINER_LIMIT="1000000",
            SCHEDULE_MIN_LEAD_SECONDS="0",
            QUEUE_PREFIX=self.prefix,
            LOG_LEVEL="WARNING",
            WORKER_METRICS_PORT=str(free_port()),
        )
        # The publishing rows (burst, spread, inflight) write their posts seconds ahead and enqueue
        # their publish jobs only, as bench/publish_bench.py does with staging off: they measure
        # publishing at the due time. With the server's image staging lead on (120 s), the
        # reconciler's pass found those posts without a staging job and added one for every post
        # still >= 5 s ahead, all due at once: up to ~9,000 staging jobs in the middle of the
        # spread row (the stall after the burst, docs/performance.md "Round 8"), and in the
        # inflight rows a second Graph call per account in flight and twice the PostgreSQL work
        # per post. The staged path has its own row (staged_reels, its own server).
        env.update(
            STAGING_LEAD_SECONDS_IMAGE="0",
            STAGING_LEAD_SECONDS_VIDEO="0",
            STAGING_LEAD_SECONDS_CAROUSEL="0",
        )
        env.update(self.overrides)
        self.log = open(self.tmp / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "instasched", "run"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=self.log,
        )

    async def wait_ready(self, http: httpx.AsyncClient) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                # The temp dir goes with the run (unless --keep): show the log's end here.
                tail = (self.tmp / "server.log").read_text(errors="replace").splitlines()[-30:]
                raise SystemExit("instasched run exited; its log ends:\n" + "\n".join(tail))
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/ready")).status_code == 200:
                    break
            await asyncio.sleep(0.3)
        else:
            raise SystemExit("instasched run was not ready within 180 s")
        # The API child's environment says where the embedded servers are.
        api = self.api_pids()
        if not api:
            raise SystemExit("no `instasched api` child found")
        raw = Path(f"/proc/{api[0]}/environ").read_bytes().split(b"\0")
        self.env = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
        self.sandbox = self.env.get("SANDBOX_URL") or f"{self.url}/sandbox"
        for _ in range(self.extra_workers):
            self.others.append(
                subprocess.Popen(
                    [sys.executable, "-m", "instasched", "worker"],
                    cwd=ROOT,
                    env={**self.env, "WORKER_METRICS_PORT": ""},
                    stdout=self.log,
                    stderr=self.log,
                )
            )

    def api_pids(self) -> list[int]:
        assert self.proc is not None
        tree = children(self.proc.pid)
        top = [pid for pid, cmd in tree if cmd.endswith("instasched api")]
        # uvicorn with API_WORKERS > 1: the supervisor and its worker processes.
        return top + [pid for root in top for pid, _ in children(root)]

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        own = [pid for pid, cmd in children(self.proc.pid) if cmd.endswith("instasched worker")]
        return own + [p.pid for p in self.others]

    def embedded_pids(self) -> dict[str, list[int]]:
        """The embedded servers' processes (their command line names the temp dir) + children."""
        out: dict[str, list[int]] = {"postgres": [], "redis": [], "s3": []}
        marker = str(self.tmp)
        for pid, (_, cmd, _) in processes().items():
            if marker not in cmd and not ("valkey-server" in cmd or "redis-server" in cmd):
                continue
            if "valkey-server" in cmd or "redis-server" in cmd:
                # Named by port only: ours is the one at REDIS_URL.
                port = self.env.get("REDIS_URL", "").rsplit(":", 1)[-1].split("/")[0]
                if not port or f":{port}" not in cmd:
                    continue
                kind = "redis"
            elif "bin/postgres" in cmd:
                kind = "postgres"
            elif "weed" in cmd:
                kind = "s3"
            else:
                continue
            out[kind] += [pid, *(child for child, _ in children(pid))]
        return out

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by the API, the worker(s) and each embedded server."""
        assert self.proc is not None
        sandbox = [p for p, cmd in children(self.proc.pid) if "instasched sandbox" in cmd]
        out = {
            "api": sum(cpu_seconds(p) for p in self.api_pids()),
            "worker": sum(cpu_seconds(p) for p in self.worker_pids()),
        }
        if sandbox:  # served alone with API_WORKERS > 1
            out["sandbox"] = sum(cpu_seconds(p) for p in sandbox)
        for kind, pids in self.embedded_pids().items():
            out[kind] = sum(cpu_seconds(p) for p in pids)
        return out

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    def start_bare(self) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "bare_app.py"), "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "BARE_DATABASE_URL": self.database_url},
            stdout=self.log,
            stderr=self.log,
        )
        self.others.append(proc)
        return proc, f"http://127.0.0.1:{port}"

    def stop(self, keep: bool) -> None:
        for proc in [*self.others, *([self.proc] if self.proc else [])]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.others, *([self.proc] if self.proc else [])]:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if keep:
            print(f"kept {self.tmp} (server.log, data)")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# --- the run -------------------------------------------------------------------------------


@dataclass
class Setup:
    headers: dict[str, str]
    user_id: uuid.UUID
    accounts: list[uuid.UUID]  # 0: create, 1: list, 2: optimal times, 3: single; rest: publish
    asset: dict[str, Any]
    # Where the accounts, media and posts are (docs/workspaces.md): the personal workspace (the
    # user's id) unless --workspace shared.
    workspace_id: uuid.UUID


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sizes = QUICK if args.quick else FULL
        self.only = set(args.only.split(",")) if args.only else set(DEFAULT_FIGURES)
        unknown = self.only - set(FIGURES)
        if unknown:
            raise SystemExit(f"unknown figures {sorted(unknown)}; choose from {FIGURES}")
        overrides = dict(item.split("=", 1) for item in args.env)
        self.server = Server(overrides, args.extra_workers)
        self.rows: list[dict[str, Any]] = []

    def add(self, figure: Figure) -> None:
        row = figure.as_json()
        self.rows.append(row)
        print(
            f"  {row['name']}: p50={_fmt(row['p50'])} p99={_fmt(row['p99'])} "
            f"max={_fmt(row['max'])} {row['unit']}"
            + (f", {_fmt(row.get('value'))} {row.get('value_unit')}" if "value" in row else "")
            + f" (goal {row['goal']}: {row['met']})",
            flush=True,
        )

    async def setup(self, http: httpx.AsyncClient) -> Setup:
        email, password = f"bench-{secrets.token_hex(6)}@example.com", secrets.token_urlsafe(16)
        self.password = password  # bench/scale's seeded users share its hash
        r = await http.post("/api/auth/register", json={"email": email, "password": password})
        r.raise_for_status()
        user_id = uuid.UUID(r.json()["id"])
        r = await http.post("/api/auth/login", json={"email": email, "password": password})
        r.raise_for_status()
        headers = {"Authorization": f"Bearer {r.json()['accessToken']}"}
        workspace_id = user_id
        if self.args.workspace == "personal":  # the header naming the personal one: no lookup
            headers["X-Workspace-Id"] = str(user_id)
        elif self.args.workspace == "shared":  # a workspace of its own: one membership read
            r = await http.post("/api/workspaces", json={"name": "bench"}, headers=headers)
            r.raise_for_status()
            workspace_id = uuid.UUID(r.json()["id"])
            headers["X-Workspace-Id"] = str(workspace_id)
        accounts: list[uuid.UUID] = []
        for i in range(4 + 20):
            r = await http.post(
                f"{self.server.sandbox}/_control/users",
                json={"username": f"bench_{secrets.token_hex(3)}_{i}", "followers": 1000},
            )
            r.raise_for_status()
            r = await http.post(
                "/api/instagram/accounts",
                json={"accessToken": r.json()["accessToken"], "timezone": "UTC"},
                headers=headers,
            )
            r.raise_for_status()
            accounts.append(uuid.UUID(r.json()["id"]))
        r = await http.post(
            f"{BASE}/media/upload",
            files={"file": ("bench.jpg", jpeg(), "image/jpeg")},
            headers=headers,
        )
        r.raise_for_status()
        return Setup(headers, user_id, accounts, r.json(), workspace_id)

    async def main(self) -> int:
        self.server.start()
        try:
            async with httpx.AsyncClient(base_url=self.server.url, timeout=120) as http:
                await self.server.wait_ready(http)
                s = await self.setup(http)
                print(
                    f"instasched run on {self.server.url} (data {self.server.tmp}); "
                    f"overrides {self.server.overrides or 'none'}",
                    flush=True,
                )
                steps = [
                    ("create", self.create),
                    ("list", self.list),
                    ("ceiling", self.ceiling),
                    ("render", self.render),
                    ("upload", self.upload),
                    ("optimal", self.optimal),
                    ("publish_single", self.publish_single),
                    ("burst", self.burst),
                    ("spread", self.spread),
                    ("scale", self.scale),
                    ("staged_reels", self.staged_reels),
                    ("import", self.import_csv),
                    ("inflight", self.inflight),
                ]
                for name, step in steps:
                    if name in self.only:
                        print(f"[{name}]", flush=True)
                        try:
                            await step(http, s)
                        except Exception as exc:  # one broken figure must not lose the others
                            print(f"  {name} failed: {exc!r}", flush=True)
                            self.rows.append(
                                Figure(
                                    name, "-", [], "-", False, extra={"note": repr(exc)}
                                ).as_json()
                            )
        finally:
            self.server.stop(self.args.keep)
        print()
        print_table(self.rows)
        out = Path(self.args.output)
        out.write_text(orjson.dumps(self.rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        print(f"\nwritten to {out}")
        return 0

    async def scale(self, http: httpx.AsyncClient, s: Setup) -> None:
        from scale_bench import scale

        await scale(self, http, s)

    # --- create / list ---------------------------------------------------------------------
    def create_request(self, s: Setup, *, bare: bool = False) -> Any:
        now = datetime.now(UTC)
        rng = random.Random(11)

        def make(i: int) -> loadgen.Request:
            when = now + timedelta(days=2, minutes=rng.randrange(0, 60 * 24 * 150))
            body: dict[str, Any] = {
                "instagramAccountId": str(s.accounts[0]),
                "scheduledFor": when.isoformat(),
                "caption": f"Bench post {i} #bench #instasched @someone",
                "mediaIds": [s.asset["id"]],
                "mediaType": "IMAGE",
            }
            if bare:
                body = {
                    **body,
                    "userId": str(s.workspace_id),
                    "mediaUrls": [s.asset["s3Url"]],
                }
                return ("POST", "/posts", loadgen.json_body(body))
            return ("POST", f"{BASE}/posts", loadgen.json_body(body))

        return make

    def list_request(self, s: Setup, *, bare: bool = False) -> Any:
        now = datetime.now(UTC)
        rng = random.Random(13)
        path = f"/posts/{s.accounts[1]}" if bare else f"{BASE}/posts/{s.accounts[1]}"

        def make(i: int) -> loadgen.Request:
            return ("GET", f"{path}?{urlencode(list_params(i, rng, now))}", None)

        return make

    def sample_figure(
        self,
        name: str,
        sample: loadgen.Sample,
        goal: str,
        met: bool,
        *,
        cpu: dict[str, float] | None = None,
        throughput: bool = False,
    ) -> Figure:
        done = len(sample.latencies_ms)
        extra: dict[str, Any] = {"errors": sample.errors}
        notes = []
        if sample.errors:
            notes.append(f"errors {sample.errors}, first: {sample.first_error}")
        if cpu:
            per = {k: round(v * 1000 / max(done, 1), 2) for k, v in cpu.items()}
            extra["cpu_ms_per_request"] = per
            notes.append(f"server CPU per request {per} ms")
        rate = done / sample.wall_seconds if sample.wall_seconds else 0.0
        if not throughput:
            notes.append(f"{rate:.0f} req/s achieved")
        if notes:
            extra["note"] = "; ".join(notes)
        return Figure(
            name,
            "ms",
            sample.latencies_ms,
            goal,
            met and not sample.errors,
            value=rate if throughput else None,
            value_unit="req/s" if throughput else None,
            extra=extra,
        )

    async def measured(
        self, coro: Any, label: str = "load"
    ) -> tuple[loadgen.Sample, dict[str, float]]:
        before = self.server.cpu()
        with self.profiling(label):
            sample = await coro
        after = self.server.cpu()
        return sample, {k: after[k] - before[k] for k in after}

    @contextlib.contextmanager
    def profiling(self, label: str) -> Any:
        """With --profile DIR: py-spy samples the API and the worker while the block runs."""
        if not self.args.profile:
            yield
            return
        out = Path(self.args.profile)
        out.mkdir(parents=True, exist_ok=True)
        spies = []
        targets = {"api": self.server.api_pids()[-1:], "worker": self.server.worker_pids()[:1]}
        for role, pids in targets.items():
            for pid in pids:
                spies.append(
                    subprocess.Popen(
                        [
                            str(Path(sys.executable).parent / "py-spy"),
                            *("record", "--pid", str(pid), "--rate", "250", "--format", "raw"),
                            *("--nonblocking", "-o", str(out / f"{label}-{role}.txt")),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
        try:
            yield
        finally:
            for spy in spies:
                spy.send_signal(signal.SIGINT)
            for spy in spies:
                try:
                    spy.wait(30)
                except subprocess.TimeoutExpired:
                    spy.kill()
                    spy.wait()

    async def create(self, http: httpx.AsyncClient, s: Setup) -> None:
        z = self.sizes
        make = self.create_request(s)
        # Warm-up: first-request costs (imports, pool connections, caches) are not the figure.
        await loadgen.closed_loop(
            self.server.url, s.headers, make, clients=10, total=200, max_seconds=20, expect=201
        )
        sample, cpu = await self.measured(
            loadgen.open_loop(
                self.server.url, s.headers, make, rate=100, seconds=z.create_seconds, expect=201
            )
        )
        p99 = pct(sample.latencies_ms, 99)
        self.add(
            self.sample_figure(
                "create post, open loop 100 req/s", sample, "p99 <= 25 ms", p99 <= 25, cpu=cpu
            )
        )
        sample, cpu = await self.measured(
            loadgen.closed_loop(
                self.server.url,
                s.headers,
                make,
                clients=50,
                total=z.closed_total,
                max_seconds=30,
                expect=201,
            ),
            "create",
        )
        rate = len(sample.latencies_ms) / sample.wall_seconds
        self.add(
            self.sample_figure(
                "create post, closed loop 50 clients",
                sample,
                ">= 500 posts/s",
                rate >= 500,
                cpu=cpu,
                throughput=True,
            )
        )

    async def seed_list(self, s: Setup) -> None:
        import asyncpg
        from posts_bench import seed

        from instasched.config import plain_database_url
        from instasched.worker.queue import PublishQueue

        started = time.perf_counter()
        await seed(
            self.server.database_url,
            workspace_id=str(s.workspace_id),
            account_id=str(s.accounts[1]),
            asset=s.asset,
            rows=self.sizes.list_seed,
        )
        # Like the API: every scheduled post has its delayed job (else the reconciler adds them
        # during the measurement).
        conn = await asyncpg.connect(plain_database_url(self.server.database_url))
        try:
            rows = await conn.fetch(
                "SELECT id, scheduled_for FROM instagram_scheduled_posts "
                "WHERE instagram_account_id = $1 AND status = 'scheduled'",
                s.accounts[1],
            )
        finally:
            await conn.close()
        queue = PublishQueue(self.server.env["REDIS_URL"], prefix=self.server.prefix)
        try:
            for i in range(0, len(rows), 5000):
                await queue.schedule_many(
                    [(r["id"], r["scheduled_for"]) for r in rows[i : i + 5000]]
                )
        finally:
            await queue.close()
        print(
            f"  seeded {self.sizes.list_seed} posts (+{len(rows)} jobs) in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        self.list_seeded = True

    async def list(self, http: httpx.AsyncClient, s: Setup) -> None:
        await self.seed_list(s)
        make = self.list_request(s)
        await loadgen.closed_loop(
            self.server.url, s.headers, make, clients=10, total=200, max_seconds=20, expect=200
        )
        sample, cpu = await self.measured(
            loadgen.open_loop(
                self.server.url,
                s.headers,
                make,
                rate=100,
                seconds=self.sizes.list_seconds,
                expect=200,
            )
        )
        p99 = pct(sample.latencies_ms, 99)
        self.add(
            self.sample_figure(
                f"list posts ({self.sizes.list_seed:,} in account), open loop 100 req/s",
                sample,
                "p99 <= 20 ms",
                p99 <= 20,
                cpu=cpu,
            )
        )
        sample, cpu = await self.measured(
            loadgen.closed_loop(
                self.server.url, s.headers, make, clients=50, total=5000, max_seconds=20, expect=200
            ),
            "list",
        )
        self.add(
            self.sample_figure(
                "list posts, closed loop 50 clients (info)",
                sample,
                "-",
                True,
                cpu=cpu,
                throughput=True,
            )
        )

    async def ceiling(self, http: httpx.AsyncClient, s: Setup) -> None:
        """The same create and list against a bare FastAPI + asyncpg app (same machine, DB)."""
        if not getattr(self, "list_seeded", False):
            await self.seed_list(s)
        proc, url = self.server.start_bare()
        async with httpx.AsyncClient(base_url=url, timeout=5) as bare:
            for _ in range(100):
                with contextlib.suppress(httpx.HTTPError):
                    if (await bare.get("/docs")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        make = self.create_request(s, bare=True)
        await loadgen.closed_loop(url, {}, make, clients=10, total=200, max_seconds=20, expect=201)
        sample = await loadgen.closed_loop(
            url, {}, make, clients=50, total=self.sizes.closed_total, max_seconds=30, expect=201
        )
        rate = len(sample.latencies_ms) / sample.wall_seconds
        ours = next((r for r in self.rows if r["name"].startswith("create post, closed")), None)
        fig = self.sample_figure(
            "ceiling: bare FastAPI+asyncpg insert, closed loop 50 clients",
            sample,
            "(ceiling)",
            True,
            throughput=True,
        )
        fig.met = None
        if ours and ours.get("value"):
            fig.extra["ratio_instasched_to_bare"] = round(ours["value"] / rate, 3)
            fig.extra["note"] = (
                fig.extra.get("note", "") + f" instasched reaches {ours['value'] / rate:.0%} "
                "of this ceiling"
            ).strip()
        self.add(fig)
        make = self.list_request(s, bare=True)
        sample = await loadgen.open_loop(
            url, {}, make, rate=100, seconds=self.sizes.list_seconds, expect=200
        )
        fig = self.sample_figure(
            "ceiling: bare FastAPI+asyncpg list, open loop 100 req/s", sample, "(ceiling)", True
        )
        fig.met = None
        self.add(fig)
        sample = await loadgen.closed_loop(
            url, {}, make, clients=50, total=5000, max_seconds=20, expect=200
        )
        fig = self.sample_figure(
            "ceiling: bare list, closed loop 50 clients", sample, "(ceiling)", True, throughput=True
        )
        fig.met = None
        ours = next((r for r in self.rows if r["name"].startswith("list posts, closed")), None)
        if ours and ours.get("value") and fig.value:
            fig.extra["ratio_instasched_to_bare"] = round(ours["value"] / fig.value, 3)
        self.add(fig)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)

    # --- CSV import (bench/import_bench.py) ---------------------------------------------------
    async def import_csv(self, http: httpx.AsyncClient, s: Setup) -> None:
        import import_bench

        rows = self.args.import_rows
        with self.profiling("import"):
            report = await import_bench.measure(
                http,
                sandbox=self.server.sandbox,
                headers=s.headers,
                asset_id=str(s.asset["id"]),
                rows=rows,
            )
        for label, key in (("dry run", "dry_run_seconds"), ("commit", "commit_seconds")):
            self.add(
                Figure(
                    f"CSV import {rows:,} rows, {label}",
                    "s",
                    [report[key]],
                    "<= 10 s",
                    report[key] <= 10,
                    value=rows / report[key],
                    value_unit="rows/s",
                    extra={"note": f"one request, {report['bytes']:,} bytes of CSV"},
                )
            )

    # --- render ----------------------------------------------------------------------------
    async def render(self, http: httpx.AsyncClient, s: Setup) -> None:
        from render_bench import build_template

        from instasched.templates.render import render

        template, values = build_template()
        for _ in range(1000):
            render(template, values)
        gc.collect()
        samples = []
        clock = time.perf_counter_ns
        for _ in range(self.sizes.renders):
            t0 = clock()
            render(template, values)
            samples.append((clock() - t0) / 1e6)
        self.add(
            Figure(
                "template render (2,200 chars, 50 variables)",
                "ms",
                samples,
                "<= 1 ms",
                max(samples) <= 1 or pct(samples, 99) <= 1,
                extra={"note": "in-process call of instasched.templates.render.render"},
            )
        )

    # --- upload ----------------------------------------------------------------------------
    async def upload(self, http: httpx.AsyncClient, s: Setup) -> None:
        from upload_bench import noisy_jpeg

        data = noisy_jpeg(10 * 1024 * 1024)
        limits = httpx.Limits(max_connections=self.sizes.concurrent_uploads + 5)
        created: list[str] = []
        async with httpx.AsyncClient(base_url=self.server.url, timeout=600, limits=limits) as up:

            async def one() -> tuple[float, int]:
                t0 = time.perf_counter()
                r = await up.post(
                    f"{BASE}/media/upload",
                    files={"file": ("bench.jpg", data, "image/jpeg")},
                    headers=s.headers,
                )
                if r.status_code == 201:
                    created.append(r.json()["id"])
                return (time.perf_counter() - t0) * 1000, r.status_code

            await one()  # warm-up
            single = [await one() for _ in range(self.sizes.uploads)]
            ok = [ms for ms, status in single if status == 201]
            self.add(
                Figure(
                    f"10 MB JPEG upload, one at a time ({len(data) / 1e6:.1f} MB)",
                    "ms",
                    ok,
                    "p99 <= 1000 ms",
                    len(ok) == len(single) and pct(ok, 99) <= 1000,
                    extra={"errors": len(single) - len(ok)},
                )
            )
            pids = self.server.api_pids()
            peak = 0
            sampling = True

            async def sample_rss() -> None:
                nonlocal peak
                while sampling:
                    peak = max(peak, sum(proc_kb(p, "VmRSS") or 0 for p in pids))
                    await asyncio.sleep(0.05)

            sampler = asyncio.create_task(sample_rss())
            t0 = time.perf_counter()
            results = await asyncio.gather(*(one() for _ in range(self.sizes.concurrent_uploads)))
            wall = time.perf_counter() - t0
            sampling = False
            await sampler
            hwm = sum(proc_kb(p, "VmHWM") or 0 for p in pids)
            peak_mb = max(peak, hwm) / 1024
            ok = [ms for ms, status in results if status == 201]
            n = self.sizes.concurrent_uploads
            self.add(
                Figure(
                    f"10 MB JPEG upload, {n} concurrent",
                    "ms",
                    ok,
                    f"all {n} succeed; API peak RSS <= 600 MB",
                    len(ok) == n and peak_mb <= 600,
                    value=peak_mb,
                    value_unit="MB peak RSS",
                    extra={
                        "succeeded": len(ok),
                        "note": f"{len(ok)}/{n} succeeded in {wall:.1f} s; API peak RSS "
                        f"{peak_mb:.0f} MB (VmHWM of the API process(es))",
                    },
                )
            )
            for i in range(0, len(created), 20):
                await asyncio.gather(
                    *(
                        up.delete(f"{BASE}/media/assets/{a}", headers=s.headers)
                        for a in created[i : i + 20]
                    )
                )

    # --- optimal times ---------------------------------------------------------------------
    async def optimal(self, http: httpx.AsyncClient, s: Setup) -> None:
        from optimal_times_bench import fake_posts
        from sqlalchemy import insert, text
        from sqlalchemy.ext.asyncio import create_async_engine

        from instasched.config import normalise_database_url
        from instasched.models import ScheduledPost

        account = s.accounts[2]
        engine = create_async_engine(normalise_database_url(self.server.database_url))
        try:
            async with engine.begin() as conn:
                rows = fake_posts(self.sizes.optimal_posts, s.workspace_id, account)
                for i in range(0, len(rows), 2000):
                    await conn.execute(insert(ScheduledPost), rows[i : i + 2000])
                await conn.execute(text("ANALYZE instagram_scheduled_posts"))
        finally:
            await engine.dispose()
        make = lambda i: ("GET", f"{BASE}/optimal-times/{account}", None)  # noqa: E731
        await loadgen.closed_loop(
            self.server.url, s.headers, make, clients=1, total=10, max_seconds=20, expect=200
        )
        sample, cpu = await self.measured(
            loadgen.closed_loop(
                self.server.url,
                s.headers,
                make,
                clients=1,
                total=self.sizes.optimal_requests,
                max_seconds=60,
                expect=200,
            )
        )
        self.add(
            self.sample_figure(
                f"optimal times over {self.sizes.optimal_posts:,} published posts",
                sample,
                "p99 <= 50 ms",
                pct(sample.latencies_ms, 99) <= 50,
                cpu=cpu,
            )
        )

    # --- publishing ------------------------------------------------------------------------
    async def publish_single(self, http: httpx.AsyncClient, s: Setup) -> None:
        import asyncpg

        from instasched.config import plain_database_url

        n = self.sizes.single_posts
        start = datetime.now(UTC) + timedelta(seconds=3)
        ids: list[str] = []
        for i in range(n):
            r = await http.post(
                f"{BASE}/posts",
                json={
                    "instagramAccountId": str(s.accounts[3]),
                    "scheduledFor": (start + timedelta(seconds=1.5 * i)).isoformat(),
                    "caption": f"single {i}",
                    "mediaIds": [s.asset["id"]],
                    "mediaType": "IMAGE",
                },
                headers=s.headers,
            )
            r.raise_for_status()
            ids.append(r.json()["id"])
        conn = await asyncpg.connect(plain_database_url(self.server.database_url))
        try:
            deadline = time.monotonic() + 3 + 1.5 * n + 30
            while time.monotonic() < deadline:
                left = await conn.fetchval(
                    "SELECT count(*) FROM instagram_scheduled_posts WHERE id = ANY($1::uuid[]) "
                    "AND status NOT IN ('published', 'failed')",
                    ids,
                )
                if not left:
                    break
                await asyncio.sleep(0.5)
            rows = await conn.fetch(
                "SELECT status, extract(epoch FROM publishing_started_at - scheduled_for) AS d, "
                "extract(epoch FROM published_at - scheduled_for) AS p "
                "FROM instagram_scheduled_posts WHERE id = ANY($1::uuid[])",
                ids,
            )
        finally:
            await conn.close()
        started = [float(r["d"]) * 1000 for r in rows if r["d"] is not None]
        published = [float(r["p"]) * 1000 for r in rows if r["p"] is not None]
        all_published = sum(r["status"] == "published" for r in rows) == n
        self.add(
            Figure(
                "one post alone: publish start after scheduled_for",
                "ms",
                started,
                "p99 <= 200 ms",
                all_published and pct(started, 99) <= 200,
                extra={
                    "note": f"{n} posts 1.5 s apart; published-at lateness p50 "
                    f"{pct(published, 50):.0f} ms, max {max(published, default=0):.0f} ms",
                },
            )
        )

    async def scenario(
        self,
        http: httpx.AsyncClient,
        s: Setup,
        name: str,
        count: int,
        spread: float,
        *,
        account_ids: list[uuid.UUID] | None = None,
        lead: float | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        from publish_bench import Bench
        from sqlalchemy.ext.asyncio import create_async_engine
        from sqlalchemy.pool import NullPool

        from instasched.config import normalise_database_url
        from instasched.models import MediaAsset
        from instasched.worker.queue import PublishQueue

        bench = Bench(
            argparse.Namespace(
                timeout=timeout or (60.0 if self.args.quick else 120.0),
                workers=1 + self.args.extra_workers,
            )
        )
        shutil.rmtree(bench.tmp, ignore_errors=True)
        bench.proc = self.server.proc
        bench.cpu_before = {}
        engine = create_async_engine(
            normalise_database_url(self.server.database_url), poolclass=NullPool
        )
        queue = PublishQueue(self.server.env["REDIS_URL"], prefix=self.server.prefix)
        asset = MediaAsset(id=uuid.UUID(s.asset["id"]), s3_url=s.asset["s3Url"])
        cpu_before = self.server.cpu()
        try:
            with self.profiling(name):
                report = await bench.scenario(
                    name,
                    count,
                    spread,
                    engine=engine,
                    queue=queue,
                    http=http,
                    user_id=s.workspace_id,
                    account_ids=account_ids or await self.publish_accounts(http, s),
                    asset=asset,
                    sandbox=self.server.sandbox,
                    lead=lead,
                )
        finally:
            await queue.close()
            await engine.dispose()
        cpu_after = self.server.cpu()
        report["cpu_ms_per_post"] = {
            k: round((cpu_after[k] - cpu_before[k]) * 1000 / count, 2) for k in cpu_after
        }
        return report

    def publish_figure(self, report: dict[str, Any], name: str, goal: str, met: bool) -> None:
        lat = report["published_lateness_ms"]
        self.add(
            Figure(
                name,
                "ms",
                lat,
                goal,
                met,
                value=report["publish_rate_per_s"],
                value_unit="posts/s",
                extra={
                    "exactly_once": report["exactly_once"],
                    "statuses": report["statuses"],
                    "duplicates": report["duplicates"],
                    "cpu_ms_per_post": report["cpu_ms_per_post"],
                    "note": (
                        f"published-at lateness; publish start p50 "
                        f"{report['dispatch_p50_ms']:.0f} ms p99 {report['dispatch_p99_ms']:.0f}"
                        f" ms; exactly once: {report['exactly_once']}, statuses "
                        f"{report['statuses']}, {report['publish_rate_per_s']:.0f} posts/s end "
                        f"to end, CPU per post {report['cpu_ms_per_post']} ms"
                    ),
                },
            )
        )

    async def burst(self, http: httpx.AsyncClient, s: Setup) -> None:
        n = self.sizes.burst
        report = await self.scenario(http, s, "burst", n, 0.0)
        lat = report["published_lateness_ms"]
        self.publish_figure(
            report,
            f"{n:,} posts due in the same second",
            "all once; last within 10 s (>= 200/s)",
            report["exactly_once"] and max(lat, default=1e9) <= 10_000,
        )

    async def spread(self, http: httpx.AsyncClient, s: Setup) -> None:
        n, secs = self.sizes.spread, self.sizes.spread_seconds
        report = await self.scenario(http, s, "spread", n, secs)
        lat = report["published_lateness_ms"]
        self.publish_figure(
            report,
            f"{n:,} posts due within {secs:.0f} s",
            "all once; lateness p99 <= 5 s",
            report["exactly_once"] and pct(lat, 99) <= 5000,
        )

    async def staged_reels(self, http: httpx.AsyncClient, s: Setup) -> None:
        """Pre-staged containers (docs/staging.md) under Meta-like timing: its own
        `instasched run` (bench/publish_bench.py) with the sandbox's latency on, reels written
        120 s ahead and staged at once, published at the due time with media_publish alone."""
        from publish_bench import Bench

        n = 20 if self.args.quick else 200
        args = argparse.Namespace(
            burst=0, spread=0, spread_seconds=0.0, reels=n, accounts=n, concurrency=400,
            workers=1 + self.args.extra_workers, due_in=120.0, profile=None, keep=False,
            timeout=120.0,
            env=["SANDBOX_LATENCY_MS=1500", "SANDBOX_VIDEO_PROCESSING_SECONDS=60", *self.args.env],
        )  # fmt: skip
        [report] = await Bench(args).run()
        report["cpu_ms_per_post"] = {
            k: round(v * 1000 / n, 2) for k, v in report["cpu_seconds"].items()
        }
        lat = report["published_lateness_ms"]
        self.publish_figure(
            report,
            f"{n} reels due in the same second over {n} accounts, 60 s processing, 1.5 s per "
            "call (staged ahead)",
            "all once; lateness p99 <= 3 s",
            report["exactly_once"] and pct(lat, 99) <= 3000,
        )

    # --- Meta-timed publishing (in flight) --------------------------------------------------
    async def inflight(self, http: httpx.AsyncClient, s: Setup) -> None:
        """Posts of many accounts under Meta-like timing (every Graph call 1.5 s): what bounds
        them is the number of publications in flight, one per account at a time."""
        rows = (self.sizes.inflight_burst, self.sizes.inflight_spread)
        accounts = await self.many_accounts(http, s, max(n for _, n, _ in rows))
        latency = f"{self.server.sandbox}/_control/latency"
        (await http.put(latency, json={"ms": INFLIGHT_LATENCY_MS})).raise_for_status()
        try:
            for index, (count, n_accounts, seconds) in enumerate(rows):
                await self.inflight_row(http, s, index, count, accounts[:n_accounts], seconds)
        finally:
            (await http.put(latency, json={"ms": 0})).raise_for_status()

    async def inflight_row(
        self,
        http: httpx.AsyncClient,
        s: Setup,
        index: int,
        count: int,
        accounts: list[uuid.UUID],
        seconds: float,
    ) -> None:
        control = f"{self.server.sandbox}/_control/concurrency"
        (await http.delete(control)).raise_for_status()
        pids = self.server.worker_pids()
        peak_kb = 0
        sampling = True

        async def sample_rss() -> None:
            nonlocal peak_kb
            while sampling:
                peak_kb = max(peak_kb, sum(proc_kb(p, "VmRSS") or 0 for p in pids))
                await asyncio.sleep(0.2)

        before_kb = sum(proc_kb(p, "VmRSS") or 0 for p in pids)
        sampler = asyncio.create_task(sample_rss())
        try:
            report = await self.scenario(
                http,
                s,
                f"inflight{index}",
                count,
                seconds,
                account_ids=accounts,
                lead=8.0 + count / 1000,
                timeout=180.0,
            )
        finally:
            sampling = False
            await sampler
        calls = (await http.get(control)).json()
        lat = report["published_lateness_ms"]
        per_account = max(calls["peakByAccount"].values(), default=0)
        peak_mb = peak_kb / 1024
        if seconds:
            name = (
                f"{count:,} image posts due within {seconds:.0f} s, {len(accounts):,} accounts, "
                f"{INFLIGHT_LATENCY_MS / 1000:.1f} s per Graph call"
            )
            goal = "all once; lateness p99 <= 20 s"
            met = pct(lat, 99) <= 20_000
        else:
            name = (
                f"{count:,} image posts due in the same second, {len(accounts):,} accounts, "
                f"{INFLIGHT_LATENCY_MS / 1000:.1f} s per Graph call"
            )
            goal = "all once; last <= 15 s, p50 <= 8 s"
            met = max(lat, default=1e9) <= 15_000 and pct(lat, 50) <= 8_000
        self.publish_figure(report, name, goal, report["exactly_once"] and met)
        row = self.rows[-1]
        row.update(
            worker_peak_rss_mb=round(peak_mb, 1),
            worker_rss_before_mb=round(before_kb / 1024, 1),
            graph_calls_waiting_peak=calls["peak"],
            graph_calls_waiting_peak_per_account=per_account,
        )
        row["note"] += (
            f"; Graph calls waiting at once: peak {calls['peak']} (per account at most "
            f"{per_account}); worker RSS {before_kb / 1024:.0f} MB before, peak "
            f"{peak_mb:.0f} MB ({len(pids)} processes)"
        )
        print(f"  {row['note']}", flush=True)

    async def publish_accounts(self, http: httpx.AsyncClient, s: Setup) -> list[uuid.UUID]:
        """The accounts the burst and spread rows publish to: PUBLISH_ACCOUNTS of them (20 before
        one publication per account at a time: 100 posts of one account due in one second is
        past Meta's own limits, and one at a time made the row measure 20 publications)."""
        if not hasattr(self, "_publish_accounts"):
            self._publish_accounts = await self.many_accounts(http, s, PUBLISH_ACCOUNTS)
        return self._publish_accounts

    async def many_accounts(self, http: httpx.AsyncClient, s: Setup, count: int) -> list[uuid.UUID]:
        """`count` sandbox accounts of the bench user: sandbox users made through the control
        API (50 at once), their rows written straight into PostgreSQL with the tokens encrypted
        as the accounts API does (connecting 5,000 through the API takes minutes)."""
        from sqlalchemy import insert
        from sqlalchemy.ext.asyncio import create_async_engine
        from sqlalchemy.pool import NullPool

        from instasched.config import normalise_database_url
        from instasched.models import InstagramAccount
        from instasched.security import TokenCipher

        cipher = TokenCipher(self.server.env["TOKEN_ENCRYPTION_KEY"])
        tag = secrets.token_hex(3)
        gate = asyncio.Semaphore(50)

        async def user(i: int) -> dict[str, Any]:
            async with gate:
                r = await http.post(
                    f"{self.server.sandbox}/_control/users",
                    json={"username": f"fl_{tag}_{i}"},
                )
                r.raise_for_status()
                body = r.json()
            return {
                "id": uuid.uuid4(),
                "workspace_id": s.workspace_id,
                "ig_user_id": body["igUserId"],
                "username": body["username"],
                "login_kind": "instagram",
                "access_token_encrypted": cipher.encrypt(body["accessToken"]),
                "token_expires_at": datetime.now(UTC) + timedelta(seconds=body["expiresIn"]),
                "timezone": "UTC",
                "publishing_quota": 1_000_000,
            }

        started = time.perf_counter()
        rows = await asyncio.gather(*(user(i) for i in range(count)))
        engine = create_async_engine(
            normalise_database_url(self.server.database_url), poolclass=NullPool
        )
        try:
            async with engine.begin() as conn:
                for i in range(0, len(rows), 1000):
                    await conn.execute(insert(InstagramAccount), rows[i : i + 1000])
        finally:
            await engine.dispose()
        print(f"  {count:,} accounts in {time.perf_counter() - started:.1f} s", flush=True)
        return [row["id"] for row in rows]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small counts (about 2 minutes)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(FIGURES)}")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="server setting"
    )
    parser.add_argument("--extra-workers", type=int, default=0, help="more `instasched worker`s")
    parser.add_argument("--import-rows", type=int, default=1000, help="rows of the import CSV")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument(
        "--scale-sizes",
        default="10000,1000000",
        help="scale: the post counts to seed and measure side by side (bench/scale_bench.py)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (server.log)")
    parser.add_argument(
        "--workspace",
        choices=("none", "personal", "shared"),
        default="none",
        help="X-Workspace-Id on every request: none (the personal workspace), personal (the "
        "header naming it: no lookup) or shared (a workspace of its own: a membership read)",
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="py-spy the API and worker (raw stacks into DIR)"
    )
    args = parser.parse_args()
    return asyncio.run(Run(args).main())


if __name__ == "__main__":
    raise SystemExit(main())
