"""bench/run's rows of single features: `render` (a template rendered in this process),
`upload` (10 MB JPEGs one at a time and all at once, with the API's peak RSS), `optimal` (best
times over 10,000 published posts) and `import` (a CSV import's dry run and commit,
bench/import_bench.py)."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import TYPE_CHECKING

import httpx
import loadgen
from benchlib import proc_kb
from harness import BASE, PeakRss
from report import Figure, pct, sample_figure
from seeding import Setup

if TYPE_CHECKING:
    from suite import Run


async def import_csv(run: Run, http: httpx.AsyncClient, s: Setup) -> None:
    import import_bench

    rows = run.args.import_rows
    with run.profiling("import"):
        report = await import_bench.measure(
            http,
            sandbox=run.server.sandbox,
            headers=s.headers,
            asset_id=str(s.asset["id"]),
            rows=rows,
        )
    for label, key in (("dry run", "dry_run_seconds"), ("commit", "commit_seconds")):
        run.add(
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


async def render(run: Run, http: httpx.AsyncClient, s: Setup) -> None:
    from render_bench import build_template

    from instasched.templates.render import render as render_template

    template, values = build_template()
    for _ in range(1000):
        render_template(template, values)
    gc.collect()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(run.sizes.renders):
        t0 = clock()
        render_template(template, values)
        samples.append((clock() - t0) / 1e6)
    run.add(
        Figure(
            "template render (2,200 chars, 50 variables)",
            "ms",
            samples,
            "<= 1 ms",
            max(samples) <= 1 or pct(samples, 99) <= 1,
            extra={"note": "in-process call of instasched.templates.render.render"},
        )
    )


async def upload(run: Run, http: httpx.AsyncClient, s: Setup) -> None:
    from upload_bench import noisy_jpeg

    data = noisy_jpeg(10 * 1024 * 1024)
    limits = httpx.Limits(max_connections=run.sizes.concurrent_uploads + 5)
    created: list[str] = []
    async with httpx.AsyncClient(base_url=run.server.url, timeout=600, limits=limits) as up:

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
        single = [await one() for _ in range(run.sizes.uploads)]
        ok = [ms for ms, status in single if status == 201]
        run.add(
            Figure(
                f"10 MB JPEG upload, one at a time ({len(data) / 1e6:.1f} MB)",
                "ms",
                ok,
                "p99 <= 1000 ms",
                len(ok) == len(single) and pct(ok, 99) <= 1000,
                extra={"errors": len(single) - len(ok)},
            )
        )
        pids = run.server.api_pids()
        async with PeakRss(pids, 0.05) as rss:
            t0 = time.perf_counter()
            results = await asyncio.gather(*(one() for _ in range(run.sizes.concurrent_uploads)))
            wall = time.perf_counter() - t0
        peak = rss.peak_kb
        hwm = sum(proc_kb(p, "VmHWM") or 0 for p in pids)
        peak_mb = max(peak, hwm) / 1024
        ok = [ms for ms, status in results if status == 201]
        n = run.sizes.concurrent_uploads
        run.add(
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


async def optimal(run: Run, http: httpx.AsyncClient, s: Setup) -> None:
    from optimal_times_bench import fake_posts
    from sqlalchemy import insert, text
    from sqlalchemy.ext.asyncio import create_async_engine

    from instasched.config import normalise_database_url
    from instasched.models import ScheduledPost

    account = s.accounts[2]
    engine = create_async_engine(normalise_database_url(run.server.database_url))
    try:
        async with engine.begin() as conn:
            rows = fake_posts(run.sizes.optimal_posts, s.workspace_id, account)
            for i in range(0, len(rows), 2000):
                await conn.execute(insert(ScheduledPost), rows[i : i + 2000])
            await conn.execute(text("ANALYZE instagram_scheduled_posts"))
    finally:
        await engine.dispose()
    make = lambda i: ("GET", f"{BASE}/optimal-times/{account}", None)  # noqa: E731
    await loadgen.closed_loop(
        run.server.url, s.headers, make, clients=1, total=10, max_seconds=20, expect=200
    )
    sample, cpu = await run.measured(
        loadgen.closed_loop(
            run.server.url,
            s.headers,
            make,
            clients=1,
            total=run.sizes.optimal_requests,
            max_seconds=60,
            expect=200,
        )
    )
    run.add(
        sample_figure(
            f"optimal times over {run.sizes.optimal_posts:,} published posts",
            sample,
            "p99 <= 50 ms",
            pct(sample.latencies_ms, 99) <= 50,
            cpu=cpu,
        )
    )
