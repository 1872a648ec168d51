"""bench/run's publishing rows: `publish_single` (a lone post's publish start), `burst` and
`spread` (thousands of posts due at once or within a minute, through bench/publish_bench.py's
scenario), `staged_reels` (pre-staged reels under Meta-like timing, its own server) and
`inflight` (thousands of accounts with every Graph call 1.5 s, containers staged ahead, its own
server)."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from harness import BASE, PeakRss, Server, rss_kb
from report import Figure, pct
from seeding import Setup, many_accounts, setup

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from suite import Run

    from instasched.config import Settings

# Added latency of every sandbox Graph call in the `inflight` rows (ms): an image post is 3
# calls (container, media_publish, fields), ~4.5 s in all.
INFLIGHT_LATENCY_MS = 1500.0
# The `inflight` rows' image staging lead with --quick (s), given to their server; the full run
# keeps the product's default (STAGING_LEAD_SECONDS_IMAGE, 120 s).
INFLIGHT_QUICK_LEAD = 30.0
# The burst and spread rows' accounts (10 posts each in the burst, 50 over the spread's minute).
PUBLISH_ACCOUNTS = 200


async def publish_single(run: Run, http: httpx.AsyncClient, s: Setup) -> None:
    import asyncpg

    from instasched.config import plain_database_url

    n = run.sizes.single_posts
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
    conn = await asyncpg.connect(plain_database_url(run.server.database_url))
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
    run.add(
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
    run: Run,
    http: httpx.AsyncClient,
    s: Setup,
    name: str,
    count: int,
    spread: float,
    *,
    account_ids: list[uuid.UUID] | None = None,
    lead: float | None = None,
    timeout: float | None = None,
    server: Server | None = None,
    staging: Settings | None = None,
    at_due: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """A `publish_bench` scenario against `server` (default: bench/run's), with the server's
    CPU per post (`cpu_ms_per_post`; and, given `at_due`, `cpu_ms_per_post_from_due`: from
    just before the first due time on, without the staging ahead)."""
    from publish_bench import Bench
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from instasched.config import normalise_database_url
    from instasched.models import MediaAsset
    from instasched.worker.queue import PublishQueue

    bench = Bench(
        argparse.Namespace(
            timeout=timeout or (60.0 if run.args.quick else 120.0),
            workers=1 + run.args.extra_workers,
        )
    )
    shutil.rmtree(bench.tmp, ignore_errors=True)
    server = server or run.server
    bench.proc = server.proc
    bench.cpu_before = {}
    engine = create_async_engine(normalise_database_url(server.database_url), poolclass=NullPool)
    queue = PublishQueue(server.env["REDIS_URL"], prefix=server.prefix)
    asset = MediaAsset(id=uuid.UUID(s.asset["id"]), s3_url=s.asset["s3Url"])
    cpu_before = server.cpu()
    cpu_at_due: dict[str, float] = {}

    async def due() -> None:
        cpu_at_due.update(server.cpu())
        assert at_due is not None
        await at_due()

    try:
        with server.profiling(run.args.profile, name):
            report = await bench.scenario(
                name,
                count,
                spread,
                engine=engine,
                queue=queue,
                http=http,
                user_id=s.workspace_id,
                account_ids=account_ids or await publish_accounts(run, http, s),
                asset=asset,
                sandbox=server.sandbox,
                lead=lead,
                staging=staging,
                at_due=due if at_due is not None else None,
            )
    finally:
        await queue.close()
        await engine.dispose()
    cpu_after = server.cpu()
    report["cpu_ms_per_post"] = {
        k: round((cpu_after[k] - cpu_before[k]) * 1000 / count, 2) for k in cpu_after
    }
    if cpu_at_due:
        report["cpu_ms_per_post_from_due"] = {
            k: round((cpu_after[k] - cpu_at_due[k]) * 1000 / count, 2) for k in cpu_after
        }
    return report


def publish_figure(run: Run, report: dict[str, Any], name: str, goal: str, met: bool) -> None:
    lat = report["published_lateness_ms"]
    run.add(
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
    if "staged_ahead" in report:  # posts with staging jobs (bench/publish_bench.py)
        row = run.rows[-1]
        keys = ("staged_ahead", "staged_at_due", "staging_statuses")
        row.update({k: report[k] for k in (*keys, "staged_min_seconds_before_due")})
        row["note"] += (
            f"; staged ahead {report['staged_ahead']} of {report['posts']} (the latest "
            f"{report['staged_min_seconds_before_due']} s before its due time), containers at "
            f"the due time {report['staged_at_due']}, staging statuses "
            f"{report['staging_statuses']}"
        )


async def burst(run: Run, http: httpx.AsyncClient, s: Setup) -> None:
    n = run.sizes.burst
    report = await scenario(run, http, s, "burst", n, 0.0)
    lat = report["published_lateness_ms"]
    publish_figure(
        run,
        report,
        f"{n:,} posts due in the same second",
        "all once; last within 10 s (>= 200/s)",
        report["exactly_once"] and max(lat, default=1e9) <= 10_000,
    )


async def spread(run: Run, http: httpx.AsyncClient, s: Setup) -> None:
    n, secs = run.sizes.spread, run.sizes.spread_seconds
    report = await scenario(run, http, s, "spread", n, secs)
    lat = report["published_lateness_ms"]
    publish_figure(
        run,
        report,
        f"{n:,} posts due within {secs:.0f} s",
        "all once; lateness p99 <= 5 s",
        report["exactly_once"] and pct(lat, 99) <= 5000,
    )


async def staged_reels(run: Run, http: httpx.AsyncClient, s: Setup) -> None:
    """Pre-staged containers (docs/staging.md) under Meta-like timing: its own
    `instasched run` (bench/publish_bench.py) with the sandbox's latency on, reels written
    120 s ahead and staged at once, published at the due time with media_publish alone."""
    from publish_bench import Bench

    n = 20 if run.args.quick else 200
    args = argparse.Namespace(
        burst=0, spread=0, spread_seconds=0.0, reels=n, accounts=n, concurrency=400,
        workers=1 + run.args.extra_workers, due_in=120.0, profile=None, keep=run.args.keep,
        timeout=120.0,
        env=["SANDBOX_LATENCY_MS=1500", "SANDBOX_VIDEO_PROCESSING_SECONDS=60", *run.args.env],
    )  # fmt: skip
    [report] = await Bench(args).run()
    report["cpu_ms_per_post"] = {
        k: round(v * 1000 / n, 2) for k, v in report["cpu_seconds"].items()
    }
    lat = report["published_lateness_ms"]
    publish_figure(
        run,
        report,
        f"{n} reels due in the same second over {n} accounts, 60 s processing, 1.5 s per "
        "call (staged ahead)",
        "all once; lateness p99 <= 3 s",
        report["exactly_once"] and pct(lat, 99) <= 3000,
    )


async def inflight(run: Run, http: httpx.AsyncClient, s: Setup) -> None:
    """Posts of many accounts under Meta-like timing (every Graph call 1.5 s), by default as the
    product runs them: on a server of their own with the image staging lead (120 s, the
    default; 30 s with --quick, or --inflight-lead), the posts written that lead (and a few
    seconds) before their due time, their containers made ahead by the worker's staging jobs,
    so that at the due time media_publish remains. `--inflight-lead 0`: the fallback, containers
    made at the due time (container, media_publish, details read one after the other per
    account), on bench/run's server (staging off)."""
    from instasched.config import Settings

    lead = run.args.inflight_lead
    if lead is None:
        lead = INFLIGHT_QUICK_LEAD if run.args.quick else None  # None: the product's default
    if lead == 0:
        await inflight_rows(run, run.server, http, s, None)
        return
    overrides = dict(run.server.overrides)
    if lead is not None:
        overrides["STAGING_LEAD_SECONDS_IMAGE"] = f"{lead:g}"
    server = Server(overrides, run.args.extra_workers, staging=True)
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as own:
            await server.wait_ready(own)
            own_setup = await setup(own, server, run.args.workspace)
            # The STAGING_* the server runs with (the defaults unless overridden).
            staging_env = {k: v for k, v in server.env.items() if k.startswith("STAGING_")}
            await inflight_rows(run, server, own, own_setup, Settings(**staging_env))
    finally:
        server.stop(run.args.keep)


async def inflight_rows(
    run: Run, server: Server, http: httpx.AsyncClient, s: Setup, staging: Settings | None
) -> None:
    rows = (run.sizes.inflight_burst, run.sizes.inflight_spread)
    accounts = await many_accounts(http, server, s, max(n for _, n, _ in rows))
    latency = f"{server.sandbox}/_control/latency"
    (await http.put(latency, json={"ms": INFLIGHT_LATENCY_MS})).raise_for_status()
    try:
        for index, (count, n_accounts, seconds) in enumerate(rows):
            await inflight_row(
                run, server, http, s, index, count, accounts[:n_accounts], seconds, staging
            )
    finally:
        (await http.put(latency, json={"ms": 0})).raise_for_status()


async def inflight_row(
    run: Run,
    server: Server,
    http: httpx.AsyncClient,
    s: Setup,
    index: int,
    count: int,
    accounts: list[uuid.UUID],
    seconds: float,
    staging: Settings | None,
) -> None:
    """One Meta-timed row; with `staging`, the posts are written its image lead (+ a margin)
    ahead and the sandbox's Graph-call peaks are read for the staging phase and from the
    due time on apart."""
    control = f"{server.sandbox}/_control/concurrency"
    (await http.delete(control)).raise_for_status()
    pids = server.worker_pids()
    before_kb = rss_kb(pids)
    lead_s = staging.staging_lead_seconds_image if staging is not None else 0.0
    staging_calls: dict[str, Any] = {}

    async def at_due() -> None:
        staging_calls.update((await http.get(control)).json())
        (await http.delete(control)).raise_for_status()

    async with PeakRss(pids, 0.2) as rss:
        report = await scenario(
            run,
            http,
            s,
            f"inflight{index}",
            count,
            seconds,
            account_ids=accounts,
            # Staged: the stage jobs fall due `10 s + 1 ms a post` after the posts are written.
            lead=lead_s + 8.0 + count / 1000 + (2.0 if staging is not None else 0.0),
            timeout=180.0,
            server=server,
            staging=staging,
            at_due=at_due if staging is not None else None,
        )
    peak_kb = rss.peak_kb
    calls = (await http.get(control)).json()
    lat = report["published_lateness_ms"]
    per_account = max(calls["peakByAccount"].values(), default=0)
    peak_mb = peak_kb / 1024
    how = (
        f", staged {lead_s:.0f} s ahead" if staging is not None else ", containers at the due time"
    )
    if seconds:
        name = (
            f"{count:,} image posts due within {seconds:.0f} s, {len(accounts):,} accounts, "
            f"{INFLIGHT_LATENCY_MS / 1000:.1f} s per Graph call{how}"
        )
        goal = "all once; lateness p99 <= 20 s"
        met = pct(lat, 99) <= 20_000
    else:
        name = (
            f"{count:,} image posts due in the same second, {len(accounts):,} accounts, "
            f"{INFLIGHT_LATENCY_MS / 1000:.1f} s per Graph call{how}"
        )
        goal = "all once; last <= 15 s, p50 <= 8 s"
        met = max(lat, default=1e9) <= 15_000 and pct(lat, 50) <= 8_000
    publish_figure(run, report, name, goal, report["exactly_once"] and met)
    row = run.rows[-1]
    row.update(
        worker_peak_rss_mb=round(peak_mb, 1),
        worker_rss_before_mb=round(before_kb / 1024, 1),
        graph_calls_waiting_peak=calls["peak"],
        graph_calls_waiting_peak_per_account=per_account,
        staging_lead_seconds=lead_s,
    )
    since = " from the due time on" if staging is not None else ""
    row["note"] += (
        f"; Graph calls waiting at once{since}: peak {calls['peak']} (per account at most "
        f"{per_account})"
    )
    if staging_calls:
        staging_per_account = max(staging_calls["peakByAccount"].values(), default=0)
        row.update(
            graph_calls_waiting_peak_staging=staging_calls["peak"],
            graph_calls_waiting_peak_per_account_staging=staging_per_account,
            cpu_ms_per_post_from_due=report["cpu_ms_per_post_from_due"],
        )
        row["note"] += (
            f", while staging: peak {staging_calls['peak']} (per account at most "
            f"{staging_per_account}); CPU per post from the due time on "
            f"{report['cpu_ms_per_post_from_due']} ms"
        )
    row["note"] += (
        f"; worker RSS {before_kb / 1024:.0f} MB before, peak {peak_mb:.0f} MB "
        f"({len(pids)} processes)"
    )
    print(f"  {row['note']}", flush=True)


async def publish_accounts(run: Run, http: httpx.AsyncClient, s: Setup) -> list[uuid.UUID]:
    """The accounts the burst and spread rows publish to: PUBLISH_ACCOUNTS of them (20 before
    one publication per account at a time: 100 posts of one account due in one second is
    past Meta's own limits, and one at a time made the row measure 20 publications)."""
    if run.publish_account_ids is None:
        run.publish_account_ids = await many_accounts(http, run.server, s, PUBLISH_ACCOUNTS)
    return run.publish_account_ids
