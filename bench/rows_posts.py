"""bench/run's rows of the posts API: `create` (open loop 100 req/s, closed loop 50 clients),
`list` (pages of an account of 100,000 posts) and `ceiling` (the same create and list against
bench/bare_app.py, a bare FastAPI + asyncpg app on the same database: what the framework and the
machine allow)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import loadgen
from harness import BASE
from posts_bench import list_params
from report import pct, sample_figure
from seeding import Setup, seed_list

if TYPE_CHECKING:
    from suite import Run


def create_request(s: Setup, *, bare: bool = False) -> Any:
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


def list_request(s: Setup, *, bare: bool = False) -> Any:
    now = datetime.now(UTC)
    rng = random.Random(13)
    path = f"/posts/{s.accounts[1]}" if bare else f"{BASE}/posts/{s.accounts[1]}"

    def make(i: int) -> loadgen.Request:
        return ("GET", f"{path}?{urlencode(list_params(i, rng, now))}", None)

    return make


async def seeded_list(run: Run, s: Setup) -> None:
    """The list rows' posts (`list` and `ceiling`), seeded once."""
    if not run.list_seeded:
        await seed_list(run.server, s, run.sizes.list_seed)
        run.list_seeded = True


async def create(run: Run, http: httpx.AsyncClient, s: Setup) -> None:
    z = run.sizes
    make = create_request(s)
    # Warm-up: first-request costs (imports, pool connections, caches) are not the figure.
    await loadgen.closed_loop(
        run.server.url, s.headers, make, clients=10, total=200, max_seconds=20, expect=201
    )
    sample, cpu = await run.measured(
        loadgen.open_loop(
            run.server.url, s.headers, make, rate=100, seconds=z.create_seconds, expect=201
        )
    )
    p99 = pct(sample.latencies_ms, 99)
    run.add(
        sample_figure(
            "create post, open loop 100 req/s", sample, "p99 <= 25 ms", p99 <= 25, cpu=cpu
        )
    )
    sample, cpu = await run.measured(
        loadgen.closed_loop(
            run.server.url,
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
    run.add(
        sample_figure(
            "create post, closed loop 50 clients",
            sample,
            ">= 500 posts/s",
            rate >= 500,
            cpu=cpu,
            throughput=True,
        )
    )


async def list_posts(run: Run, http: httpx.AsyncClient, s: Setup) -> None:
    await seeded_list(run, s)
    make = list_request(s)
    await loadgen.closed_loop(
        run.server.url, s.headers, make, clients=10, total=200, max_seconds=20, expect=200
    )
    sample, cpu = await run.measured(
        loadgen.open_loop(
            run.server.url,
            s.headers,
            make,
            rate=100,
            seconds=run.sizes.list_seconds,
            expect=200,
        )
    )
    p99 = pct(sample.latencies_ms, 99)
    run.add(
        sample_figure(
            f"list posts ({run.sizes.list_seed:,} in account), open loop 100 req/s",
            sample,
            "p99 <= 20 ms",
            p99 <= 20,
            cpu=cpu,
        )
    )
    sample, cpu = await run.measured(
        loadgen.closed_loop(
            run.server.url, s.headers, make, clients=50, total=5000, max_seconds=20, expect=200
        ),
        "list",
    )
    run.add(
        sample_figure(
            "list posts, closed loop 50 clients (info)",
            sample,
            "-",
            True,
            cpu=cpu,
            throughput=True,
        )
    )


async def ceiling(run: Run, http: httpx.AsyncClient, s: Setup) -> None:
    """The same create and list against a bare FastAPI + asyncpg app (same machine, DB)."""
    await seeded_list(run, s)
    proc, url = run.server.start_bare()
    async with httpx.AsyncClient(base_url=url, timeout=5) as bare:
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                if (await bare.get("/docs")).status_code == 200:
                    break
            await asyncio.sleep(0.1)
    make = create_request(s, bare=True)
    await loadgen.closed_loop(url, {}, make, clients=10, total=200, max_seconds=20, expect=201)
    sample = await loadgen.closed_loop(
        url, {}, make, clients=50, total=run.sizes.closed_total, max_seconds=30, expect=201
    )
    rate = len(sample.latencies_ms) / sample.wall_seconds
    ours = next((r for r in run.rows if r["name"].startswith("create post, closed")), None)
    fig = sample_figure(
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
    run.add(fig)
    make = list_request(s, bare=True)
    sample = await loadgen.open_loop(
        url, {}, make, rate=100, seconds=run.sizes.list_seconds, expect=200
    )
    fig = sample_figure(
        "ceiling: bare FastAPI+asyncpg list, open loop 100 req/s", sample, "(ceiling)", True
    )
    fig.met = None
    run.add(fig)
    sample = await loadgen.closed_loop(
        url, {}, make, clients=50, total=5000, max_seconds=20, expect=200
    )
    fig = sample_figure(
        "ceiling: bare list, closed loop 50 clients", sample, "(ceiling)", True, throughput=True
    )
    fig.met = None
    ours = next((r for r in run.rows if r["name"].startswith("list posts, closed")), None)
    if ours and ours.get("value") and fig.value:
        fig.extra["ratio_instasched_to_bare"] = round(ours["value"] / fig.value, 3)
    run.add(fig)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
