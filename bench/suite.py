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

This file holds the run (the counts of each row, the order of the rows, the CPU and py-spy
around a load phase) and the command line; the rest, by what it is about:

    harness.py        the server under measurement and its processes (start, CPU, py-spy, stop)
    seeding.py        the bench user, its accounts and media; posts and accounts seeded by SQL
    report.py         a row's figure, the line printed per row and the table at the end
    rows_posts.py     create, list, ceiling
    rows_features.py  render, upload, optimal, import
    rows_publish.py   publish_single, burst, spread, staged_reels, inflight
    scale_bench.py    scale
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import loadgen  # noqa: E402
import rows_features  # noqa: E402
import rows_posts  # noqa: E402
import rows_publish  # noqa: E402
from harness import Server  # noqa: E402
from report import Figure, print_table, progress_line  # noqa: E402
from seeding import Setup, setup  # noqa: E402

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

Step = Callable[["Run", httpx.AsyncClient, Setup], Awaitable[None]]


async def scale(run: Run, http: httpx.AsyncClient, s: Setup) -> None:
    from scale_bench import scale

    await scale(run, http, s)


# In the order they run (--only picks some, never reorders them).
STEPS: tuple[tuple[str, Step], ...] = (
    ("create", rows_posts.create),
    ("list", rows_posts.list_posts),
    ("ceiling", rows_posts.ceiling),
    ("render", rows_features.render),
    ("upload", rows_features.upload),
    ("optimal", rows_features.optimal),
    ("publish_single", rows_publish.publish_single),
    ("burst", rows_publish.burst),
    ("spread", rows_publish.spread),
    ("scale", scale),
    ("staged_reels", rows_publish.staged_reels),
    ("import", rows_features.import_csv),
    ("inflight", rows_publish.inflight),
)


class Run:
    """One bench/run: its arguments and counts, the server, the rows measured so far."""

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
        # What the rows seed once and share (rows_posts.seeded_list, rows_publish.publish_accounts).
        self.list_seeded = False
        self.publish_account_ids: list[uuid.UUID] | None = None

    def add(self, figure: Figure) -> None:
        row = figure.as_json()
        self.rows.append(row)
        print(progress_line(row), flush=True)

    @contextlib.contextmanager
    def profiling(self, label: str) -> Iterator[None]:
        """With --profile DIR: py-spy samples the API and the worker while the block runs."""
        with self.server.profiling(self.args.profile, label):
            yield

    async def measured(
        self, coro: Any, label: str = "load"
    ) -> tuple[loadgen.Sample, dict[str, float]]:
        before = self.server.cpu()
        with self.profiling(label):
            sample = await coro
        after = self.server.cpu()
        return sample, {k: after[k] - before[k] for k in after}

    async def main(self) -> int:
        self.server.start()
        try:
            async with httpx.AsyncClient(base_url=self.server.url, timeout=120) as http:
                await self.server.wait_ready(http)
                s = await setup(http, self.server, self.args.workspace)
                print(
                    f"instasched run on {self.server.url} (data {self.server.tmp}); "
                    f"overrides {self.server.overrides or 'none'}",
                    flush=True,
                )
                for name, step in STEPS:
                    if name in self.only:
                        print(f"[{name}]", flush=True)
                        try:
                            await step(self, http, s)
                        # One broken figure must not lose the others (a row's own server
                        # that does not start raises SystemExit: staged_reels, inflight).
                        except (Exception, SystemExit) as exc:
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
    parser.add_argument(
        "--inflight-lead",
        type=float,
        metavar="SECONDS",
        help="inflight: the image staging lead of the rows' own server (default: the "
        "product's, 120 s; 30 s with --quick); 0: containers made at the due time, on this "
        "run's server (the at-due fallback)",
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
