"""PublishWorker: an idle worker woken by new delayed jobs starts one fetch, not one per free
slot; with jobs due it still takes up to `concurrency` of them at once."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bullmq import Job

from instasched.config import Settings
from instasched.worker.queue import QUEUE_NAME, PublishQueue
from instasched.worker.runner import PublishWorker, running


class CountingWorker(PublishWorker):
    fetches = 0

    def retryIfFailed(self, fn: Any, opts: Any = None) -> Any:
        type(self).fetches += 1
        return super().retryIfFailed(fn, opts)


@contextlib.asynccontextmanager
async def running_worker(
    worker_class: type[PublishWorker],
    process: Callable[[Job, str], Awaitable[None]],
    *,
    redis_url: str,
    prefix: str,
    concurrency: int,
) -> AsyncIterator[PublishQueue]:
    """A worker of `worker_class` running on its own queue prefix; yields that queue, closes
    both and removes the queue's keys afterwards."""
    queue = PublishQueue(redis_url, prefix=prefix)
    worker = worker_class(
        QUEUE_NAME,
        process,
        {"connection": redis_url, "prefix": prefix, "concurrency": concurrency, "autorun": False},
    )
    try:
        async with running(worker):
            await asyncio.sleep(0.3)  # idle: one fetch blocks on the queue's marker
            yield queue
    finally:
        await queue.queue.obliterate(force=True)
        await queue.close()


async def test_idle_wake_ups_start_one_fetch_and_due_jobs_run_concurrently(
    app_settings: Settings,
) -> None:
    running, most = 0, 0
    done: list[str] = []

    async def process(job: Job, token: str) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.3)
        running -= 1
        done.append(job.data["postId"])

    async with running_worker(
        CountingWorker,
        process,
        redis_url=app_settings.require_redis_url(),
        prefix=f"fetch{secrets.token_hex(4)}",
        concurrency=50,
    ) as queue:
        CountingWorker.fetches = 0
        later = datetime.now(UTC) + timedelta(days=1)
        for _ in range(20):  # each add of a delayed job wakes the idle worker
            await queue.schedule_many([(uuid.uuid4(), later)])
            await asyncio.sleep(0.05)
        # bullmq's loop started ~50 fetches per wake-up (~1,000 here); now about one each.
        assert CountingWorker.fetches <= 3 * 20, CountingWorker.fetches
        assert not done

        due = [uuid.uuid4() for _ in range(30)]
        await queue.schedule_many([(post_id, datetime.now(UTC)) for post_id in due])
        for _ in range(100):
            if len(done) == 30:
                break
            await asyncio.sleep(0.1)
        assert sorted(done) == sorted(str(p) for p in due)
        assert most >= 10, most  # taken together, not one fetch at a time


async def test_jobs_added_together_cost_one_wake_up_and_a_due_one_still_starts_at_once(
    app_settings: Settings, monkeypatch: Any
) -> None:
    """Each delayed job re-creates the queue's marker and wakes a waiting worker; after a wake-up
    by a job that is not due the worker settles MARKER_SETTLE_SECONDS, so the jobs added
    meanwhile cost one wake-up. A job due now is taken without settling."""
    from bullmq.backends.redis_backend import RedisBackend

    from instasched.worker import runner

    monkeypatch.setattr(runner, "MARKER_SETTLE_SECONDS", 1.0)  # wide enough to tell apart
    started: dict[str, float] = {}
    reads: list[float] = []
    read_marker = RedisBackend.waitForJob

    async def counted(self: Any, timeout: float) -> Any:
        result = await read_marker(self, timeout)
        reads.append(asyncio.get_running_loop().time())
        return result

    monkeypatch.setattr(RedisBackend, "waitForJob", counted)

    async def process(job: Job, token: str) -> None:
        started[job.data["postId"]] = asyncio.get_running_loop().time()

    async with running_worker(
        PublishWorker,
        process,
        redis_url=app_settings.require_redis_url(),
        prefix=f"settle{secrets.token_hex(4)}",
        concurrency=10,
    ) as queue:
        reads.clear()
        later = datetime.now(UTC) + timedelta(days=1)
        for _ in range(20):  # 20 delayed jobs within ~0.4 s
            await queue.schedule_many([(uuid.uuid4(), later)])
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        # one wake-up per added job before (20); now one per settle window (~0.4 s / 1 s)
        assert 1 <= len(reads) <= 3, len(reads)

        await asyncio.sleep(1.5)  # settled and blocked on the marker again
        due = uuid.uuid4()
        added = asyncio.get_running_loop().time()
        await queue.schedule_many([(due, datetime.now(UTC))])
        for _ in range(150):
            if str(due) in started:
                break
            await asyncio.sleep(0.02)
        assert str(due) in started, "the due job did not start within 3 s"
        assert started[str(due)] - added < 0.6  # not held for the 1 s settle
