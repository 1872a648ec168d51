"""Recovery does not wait for the reconciler's interval: a lost queue is restored and an expired
lease taken over within seconds; PostgreSQL being unreachable delays a job by seconds, not by
bullmq's backoff. The workers here reconcile once an hour, so only the watch can act."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from instasched.config import Settings
from instasched.embedded._proc import free_port
from instasched.worker.queue import QUEUE_NAME, PublishQueue, job_id_for
from instasched.worker.reconciler import SENTINEL
from instasched.worker.runner import HEALTH_LOCK, RECONCILE_LOCK, TOKEN_REFRESH_LOCK
from tests.conftest import BackgroundWorker
from tests.publishing.conftest import Publishing
from tests.publishing.test_recovery import _stuck_post, lose_the_queue

HOURLY = {"reconcile_interval_seconds": 3600.0, "publish_lease_seconds": 5}


@pytest.fixture
def hourly_worker(no_worker: None, app_settings: Settings) -> Iterator[BackgroundWorker]:
    background = BackgroundWorker(app_settings.model_copy(update=HOURLY))
    background.start()
    try:
        yield background
    finally:
        background.stop()
        # Its once-per-interval locks would hold the session worker's passes off for an hour.
        asyncio.run(_drop_interval_locks(app_settings))


async def _drop_interval_locks(settings: Settings) -> None:
    client = aioredis.from_url(settings.require_redis_url())
    try:
        for lock in (RECONCILE_LOCK, HEALTH_LOCK, TOKEN_REFRESH_LOCK):
            await client.delete(f"{lock}:{settings.queue_prefix}")
    finally:
        await client.aclose()


async def test_a_flushed_queue_is_restored_at_once(
    publishing: Publishing, hourly_worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    due = datetime.now(UTC) + timedelta(seconds=2)
    post_ids = [
        await publishing.post(user, account, "IMAGE", [image], due=due, caption=f"flushed {i}")
        for i in range(3)
    ]
    await asyncio.sleep(1.5)  # after the worker's first pass
    # What FLUSHALL does to this run's keys: the jobs and the sentinel.
    await lose_the_queue(publishing, f"{SENTINEL}:{publishing.settings.queue_prefix}")
    assert await publishing.queue.existing_job_ids(post_ids) == set()
    for post_id in post_ids:
        post = await publishing.wait(post_id, "published", "failed", timeout=15)
        assert post.status == "published", post.last_publish_error
    assert len(await publishing.media(account.ig_user_id)) == 3


async def test_an_expired_lease_is_taken_over_between_passes(
    publishing: Publishing, hourly_worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    post_id = await publishing.post(
        user, account, "IMAGE", [image], due=datetime.now(UTC) + timedelta(days=1), enqueue=False
    )
    await asyncio.sleep(1.5)  # after the worker's first pass
    await _stuck_post(publishing, post_id, "")
    post = await publishing.wait(post_id, "published", "failed", timeout=10)
    assert post.status == "published", post.last_publish_error
    assert len(await publishing.media(account.ig_user_id)) == 1


async def test_an_unreachable_database_delays_the_job_by_seconds(
    publishing: Publishing, no_worker: None, app_settings: Settings
) -> None:
    # A worker whose PostgreSQL refuses connections (nothing listens on the port), with the
    # default retry base of 60 s: bullmq's own backoff would put the job a minute away.
    prefix = f"{app_settings.queue_prefix}db"
    down = app_settings.model_copy(
        update={
            "database_url": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/gone",
            "queue_prefix": prefix,
            "publish_retry_base_seconds": 60.0,
            **HOURLY,
        }
    )
    queue = PublishQueue(app_settings.require_redis_url(), prefix=prefix, backoff_ms=60_000)
    background = BackgroundWorker(down)
    background.start()
    try:
        post_id = "00000000-0000-4000-8000-00000000db01"
        await queue.schedule(post_id, datetime.now(UTC))
        delayed = f"{prefix}:{QUEUE_NAME}:delayed"
        seen: list[float] = []
        deadline = time.monotonic() + 10
        while len(seen) < 2 and time.monotonic() < deadline:
            score = await queue.queue.client.zscore(delayed, job_id_for(post_id))
            if score is not None:
                due_ms = int(score) >> 12  # bullmq keeps (timestamp << 12) + counter
                seen.append(due_ms / 1000 - time.time())
                await asyncio.sleep(2.5)  # it runs again, fails again, and waits again
            else:
                await asyncio.sleep(0.05)
        job = await queue.get_job(post_id)
        assert job is not None
        assert len(seen) == 2 and all(0 < s <= 2.1 for s in seen), seen
        assert job.attemptsMade == 0  # not bullmq's retry: no attempt counted
    finally:
        background.stop()
        await queue.queue.obliterate(force=True)
        await queue.close()


async def test_a_live_worker_on_a_slow_graph_call_keeps_its_lease(
    publishing: Publishing, hourly_worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    # media_publish answers after 7 s, longer than the 5 s lease: renewals keep the post.
    await publishing.fault(account.ig_user_id, "media_publish", latencyMs=7000)
    post_id = await publishing.post(user, account, "IMAGE", [image])
    post = await publishing.wait(post_id, "published", "failed", timeout=30)
    assert post.status == "published", post.last_publish_error
    assert post.publish_attempts == 1
    assert "recoveredFromContainer" not in (post.meta or {})
    calls = await publishing.calls(account.ig_user_id)
    assert calls["media_publish"] == 1 and "container_status" not in calls, calls
    assert len(await publishing.media(account.ig_user_id)) == 1
