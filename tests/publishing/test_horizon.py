"""The dispatch horizon on the worker side: the promoter adds the jobs of posts entering it, the
reconciler restores only what is inside it, and promoters running at once create each job once.

Each test runs its own AppState (the worker's) on a queue prefix of its own, so the session's
worker neither consumes these jobs nor counts in them; its rows are cancelled at the end.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import update

from instasched.config import Settings
from instasched.models import ScheduledPost
from instasched.publishing.service import Publisher
from instasched.state import AppState
from instasched.worker.promoter import WATERMARK, Promoter
from instasched.worker.queue import QUEUE_NAME, job_id_for
from instasched.worker.reconciler import SENTINEL, Reconciler
from tests.publishing.conftest import Publishing


@pytest.fixture
async def horizon_settings(app_settings: Settings) -> Settings:
    return app_settings.model_copy(
        update={
            "queue_prefix": f"{app_settings.queue_prefix}h{secrets.token_hex(4)}",
            "dispatch_horizon_seconds": 3600.0,
        }
    )


@pytest.fixture
async def worker_app(horizon_settings: Settings) -> AsyncIterator[AppState]:
    app = await AppState.create(horizon_settings)
    try:
        yield app
    finally:
        await forget_queue(app)
        await app.close()


@pytest.fixture
async def rows(publishing: Publishing) -> AsyncIterator[list[uuid.UUID]]:
    """Posts the test writes (ids appended); cancelled afterwards so no worker publishes them."""
    created: list[uuid.UUID] = []
    yield created
    async with publishing.sessions() as session:
        await session.execute(
            update(ScheduledPost)
            .where(ScheduledPost.id.in_(created), ScheduledPost.status == "scheduled")
            .values(status="cancelled", cancelled_at=datetime.now(UTC))
        )
        await session.commit()


async def forget_queue(app: AppState) -> None:
    """What FLUSHALL does to this queue (the server is shared: only this prefix's keys go), the
    reconciler's sentinel key and the promoter's watermark included."""
    prefix = app.settings.queue_prefix
    keys = [k async for k in app.redis.scan_iter(match=f"{prefix}:{QUEUE_NAME}:*", count=1000)]
    keys += [f"{SENTINEL}:{prefix}", f"{WATERMARK}:{prefix}"]
    await app.redis.delete(*keys)


async def write_posts(
    publishing: Publishing, rows: list[uuid.UUID], dues: list[datetime]
) -> list[uuid.UUID]:
    """Scheduled posts written straight to PostgreSQL (no job), as an import would."""
    user, account = await publishing.user_account()
    posts = [
        ScheduledPost(
            instagram_account_id=account.id,
            workspace_id=user.id,
            scheduled_for=due,
            caption=f"horizon {i}",
            media_urls=["https://example.com/a.jpg"],
            media_type="IMAGE",
            status="scheduled",
        )
        for i, due in enumerate(dues)
    ]
    async with publishing.sessions() as session:
        session.add_all(posts)
        await session.commit()
    rows.extend(p.id for p in posts)
    return [p.id for p in posts]


async def with_jobs(app: AppState, post_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    present = await app.queue.existing_job_ids(post_ids)
    return {p for p in post_ids if job_id_for(p) in present}


async def job_due(app: AppState, post_id: uuid.UUID) -> datetime:
    job = await app.queue.get_job(post_id)
    assert job is not None
    return datetime.fromtimestamp((job.timestamp + job.delay) / 1000, UTC)


async def test_a_far_post_gets_its_job_when_it_enters_the_horizon(
    publishing: Publishing, worker_app: AppState, rows: list[uuid.UUID]
) -> None:
    now = datetime.now(UTC)
    near, entering, far = await write_posts(
        publishing,
        rows,
        [now + timedelta(minutes=30), now + timedelta(hours=2), now + timedelta(days=30)],
    )
    promoter = Promoter(worker_app)
    await promoter.run_once()  # no watermark yet: the whole horizon
    assert await with_jobs(worker_app, [near, entering, far]) == {near}
    # Two hours later, as the promoter sees it: the horizon's end has passed `entering`'s time.
    worker_app.queue.horizon = timedelta(hours=3)
    assert await promoter.run_once() >= 1
    assert await with_jobs(worker_app, [near, entering, far]) == {near, entering}
    assert abs(await job_due(worker_app, entering) - (now + timedelta(hours=2))) < timedelta(
        seconds=1
    )
    # The next pass starts from the watermark: nothing more to add for these posts.
    await promoter.run_once()
    assert await with_jobs(worker_app, [near, entering, far]) == {near, entering}


async def test_after_the_queue_is_lost_reconciler_and_promoter_restore_the_horizon_only(
    publishing: Publishing, worker_app: AppState, rows: list[uuid.UUID]
) -> None:
    now = datetime.now(UTC)
    inside = await write_posts(
        publishing, rows, [now + timedelta(minutes=m) for m in (10, 20, 40, 59)]
    )
    beyond = await write_posts(publishing, rows, [now + timedelta(hours=h) for h in (2, 24, 2000)])
    # A retry waiting beyond the horizon counts by its next attempt, not its original time.
    async with publishing.sessions() as session:
        await session.execute(
            update(ScheduledPost)
            .where(ScheduledPost.id == inside[0])
            .values(next_attempt_at=now + timedelta(hours=5))
        )
        await session.execute(
            update(ScheduledPost)
            .where(ScheduledPost.id == beyond[0])
            .values(next_attempt_at=now + timedelta(minutes=5))
        )
        await session.commit()
    expected = {*inside[1:], beyond[0]}
    every = inside + beyond
    reconciler = Reconciler(worker_app, Publisher(worker_app))
    try:
        report = await reconciler.run_once()
        assert report.jobs_recreated >= len(expected)
        assert await with_jobs(worker_app, every) == expected
        assert abs(await job_due(worker_app, beyond[0]) - (now + timedelta(minutes=5))) < (
            timedelta(seconds=1)
        )

        await forget_queue(worker_app)  # FLUSHALL, for this queue
        assert await with_jobs(worker_app, every) == set()
        await reconciler.watch()  # the sentinel is gone: one pass at once
        assert await with_jobs(worker_app, every) == expected

        await forget_queue(worker_app)
        await Promoter(worker_app).run_once()  # the watermark is gone too: the whole horizon
        assert await with_jobs(worker_app, every) == expected
    finally:
        await reconciler.close()


async def test_promoters_running_at_once_create_each_job_once(
    publishing: Publishing,
    horizon_settings: Settings,
    worker_app: AppState,
    rows: list[uuid.UUID],
) -> None:
    now = datetime.now(UTC)
    post_ids = await write_posts(
        publishing, rows, [now + timedelta(seconds=600 + i) for i in range(300)]
    )
    others = [await AppState.create(horizon_settings) for _ in range(2)]
    try:
        await asyncio.gather(*(Promoter(app).run_once() for app in [worker_app, *others]))
    finally:
        for app in others:
            await app.close()
    assert await with_jobs(worker_app, post_ids) == set(post_ids)
    # Each job was created once: one "delayed" event per job id in the queue's event stream
    # (bullmq's add script ignores an id that exists, atomically).
    events_key = f"{horizon_settings.queue_prefix}:{QUEUE_NAME}:events"
    entries: list[Any] = await worker_app.redis.xrange(events_key)
    added: dict[str, int] = {}
    for _, fields in entries:
        if fields.get("event") == "delayed":
            added[fields["jobId"]] = added.get(fields["jobId"], 0) + 1
    mine = {job_id_for(p) for p in post_ids}
    assert {j: n for j, n in added.items() if j in mine} == dict.fromkeys(mine, 1)


def test_the_horizon_must_cover_the_promoter_period() -> None:
    with pytest.raises(ValidationError, match="DISPATCH_HORIZON_SECONDS"):
        Settings(dispatch_horizon_seconds=60, reconcile_interval_seconds=60)
    assert Settings(dispatch_horizon_seconds=0, reconcile_interval_seconds=60)
    assert Settings(dispatch_horizon_seconds=120, reconcile_interval_seconds=60)


async def test_a_shortened_horizon_is_read_whole_and_no_horizon_enqueues_everything(
    publishing: Publishing, worker_app: AppState, rows: list[uuid.UUID]
) -> None:
    now = datetime.now(UTC)
    near, far = await write_posts(
        publishing, rows, [now + timedelta(minutes=20), now + timedelta(days=20)]
    )
    # A watermark from a longer horizon (a day) than today's (an hour): the pass starts over.
    watermark = f"{WATERMARK}:{worker_app.settings.queue_prefix}"
    await worker_app.redis.set(watermark, repr((now + timedelta(days=1)).timestamp()))
    await Promoter(worker_app).run_once()
    assert await with_jobs(worker_app, [near, far]) == {near}
    # DISPATCH_HORIZON_SECONDS=0: no promoter work; every post is enqueued when scheduled.
    worker_app.queue.horizon = None
    assert worker_app.queue.horizon_end() is None
    assert await Promoter(worker_app).run_once() == 0
    assert await worker_app.queue.schedule_many([(far, now + timedelta(days=20))]) == 1
    assert await with_jobs(worker_app, [near, far]) == {near, far}
