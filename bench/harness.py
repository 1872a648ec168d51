"""The server bench/run measures and its processes: `Server` starts `instasched run` in a
temporary data dir (free port, embedded PostgreSQL, Redis and S3, the in-process sandbox, staging
off unless asked for), finds its API, worker and embedded-server processes (Linux /proc), sums
their CPU, samples them with py-spy (--profile), starts the bare ceiling app and stops everything
it started by PID. bench/web_views.py starts its server the same way."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from benchlib import proc_kb, processes

from instasched.embedded._proc import free_port

ROOT = Path(__file__).resolve().parents[1]
# The scheduling API's prefix (posts, media, optimal times).
BASE = "/api/instagram/scheduling"
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


def rss_kb(pids: list[int]) -> int:
    """The summed VmRSS of `pids` in kB (a process gone counts 0)."""
    return sum(proc_kb(p, "VmRSS") or 0 for p in pids)


class PeakRss:
    """`async with PeakRss(pids, every) as rss:` samples the summed VmRSS of `pids` every
    `every` seconds while the block runs; `rss.peak_kb` is the highest sample."""

    def __init__(self, pids: list[int], every: float) -> None:
        self.pids = pids
        self.every = every
        self.peak_kb = 0
        self.sampling = False
        self.task: asyncio.Task[None] | None = None

    async def sample(self) -> None:
        while self.sampling:
            self.peak_kb = max(self.peak_kb, rss_kb(self.pids))
            await asyncio.sleep(self.every)

    async def __aenter__(self) -> PeakRss:
        self.sampling = True
        self.task = asyncio.create_task(self.sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.sampling = False
        assert self.task is not None
        await self.task


class Server:
    """`instasched run` in a temporary data dir, plus (optionally) the bare ceiling app."""

    def __init__(
        self, overrides: dict[str, str], extra_workers: int, *, staging: bool = False
    ) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="instasched-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.prefix = "bench"
        self.overrides = overrides
        self.extra_workers = extra_workers
        # The product's staging leads and Meta's 400 containers per account (the `inflight`
        # rows' own server) instead of staging off and no container limit.
        self.staging = staging
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
        # per post. The staged path has its own servers: staged_reels's, and the inflight rows'
        # (`staging=True`: the leads as the product's defaults, or as `overrides` say).
        if not self.staging:
            env.update(
                SANDBOX_CONTAINER_LIMIT="1000000",
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

    @contextlib.contextmanager
    def profiling(self, directory: str | None, label: str) -> Iterator[None]:
        """With a directory (--profile DIR): py-spy samples the API and the worker while the
        block runs, raw stacks into DIR/<label>-<role>.txt."""
        if not directory:
            yield
            return
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        spies = []
        targets = {"api": self.api_pids()[-1:], "worker": self.worker_pids()[:1]}
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
