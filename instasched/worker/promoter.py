"""The promoter: posts entering the dispatch horizon get their jobs (PostgreSQL -> Redis).

Redis holds jobs only for posts due within `DISPATCH_HORIZON_SECONDS` (a post created or moved
inside it is enqueued at once by the API, `PublishQueue.schedule`). Every
`RECONCILE_INTERVAL_SECONDS` one worker reads the `scheduled` posts whose due time entered the
horizon since the last pass, an indexed range scan (idx_scheduled_posts_due), and adds the jobs
that are missing through `PublishQueue.schedule_many`, the one enqueue function.

Safe in many processes on many hosts at once: adding a job id that exists is ignored by bullmq's
add script (atomic in Redis), so two passes over the same range create each job once. The last
pass's end (the watermark) is kept in Redis; each pass starts `OVERLAP` before it, so a post
committed while a pass was reading, or clocks a few minutes apart between hosts, are covered; a
lost watermark (Redis lost its data) means one pass over the whole horizon. The reconciler checks
the whole horizon each interval too, so a post the promoter missed still gets its job long before
it is due.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from instasched.kit.time import utcnow
from instasched.publishing import repository
from instasched.publishing.staging import jobs_for
from instasched.state import AppState
from instasched.worker.queue import PostJob

log = logging.getLogger("instasched.promoter")

BATCH = 2000
WATERMARK = "instasched:promoter-watermark"
# Each pass re-reads this much before the last pass's end (commit latency, clock skew).
OVERLAP = timedelta(minutes=5)


async def due_batches(
    app: AppState, *, due_from: datetime | None, due_before: datetime | None
) -> AsyncIterator[list[Any]]:
    """The `scheduled` posts due in [due_from, due_before), BATCH at a time, in due order (rows
    of `repository.scheduled_due_batch`)."""
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        async with app.session_factory() as session:
            batch = await repository.scheduled_due_batch(
                session, due_from=due_from, due_before=due_before, after=after, limit=BATCH
            )
        if batch:
            yield batch
        if len(batch) < BATCH:
            return
        after = (batch[-1].due, batch[-1].id)


async def add_missing(app: AppState, batch: list[Any]) -> tuple[int, list[PostJob]]:
    """Add the jobs (`publishing.staging.jobs_for`: publish, and staging while the containers
    are to be made ahead) that the posts in `batch` lack: (jobs added, jobs already there)."""
    queue, now = app.queue, utcnow()
    jobs = [job for row in batch for job in jobs_for(row, settings=app.settings, now=now)]
    present = await queue.existing(job.job_id for job in jobs)
    missing = [job for job in jobs if job.job_id not in present]
    added = await queue.schedule_many(missing) if missing else 0
    return added, [job for job in jobs if job.job_id in present]


class Promoter:
    def __init__(self, app: AppState) -> None:
        self.app = app

    @property
    def _watermark(self) -> str:
        return f"{WATERMARK}:{self.app.settings.queue_prefix}"

    async def run_once(self) -> int:
        """One pass: jobs for the posts that entered the horizon; returns how many were added."""
        end = self.app.queue.horizon_end()
        if end is None:  # no horizon: every post got its job when it was scheduled
            return 0
        start: datetime | None = None
        raw = await self.app.redis.get(self._watermark)
        if raw is not None:
            start = datetime.fromtimestamp(float(raw), UTC) - OVERLAP
            if start > end:  # the horizon was shortened: read all of it once
                start = None
        added = 0
        async for batch in due_batches(self.app, due_from=start, due_before=end):
            added += (await add_missing(self.app, batch))[0]
        # Concurrent passes may write their ends in any order: an older end only widens the
        # next pass's range.
        await self.app.redis.set(self._watermark, repr(end.timestamp()))
        if added:
            log.info("promoted posts into the dispatch horizon", extra={"jobs_added": added})
        return added
