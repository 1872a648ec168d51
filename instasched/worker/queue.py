"""Delayed bullmq jobs per post; job ids derived from the post id.

A post has its publish job (`publish_<id>`, due at its due time) and, while its containers are
to be created ahead of time, a staging job (`stage_<id>`, due `scheduled_for` minus the staging
lead; instasched.publishing.staging decides which jobs a post needs: `jobs_for`).

Redis is a fast dispatcher, not the source of truth: PostgreSQL is. Every change is made after the
database commit (see `instasched.db.after_commit`); a lost or failed enqueue is repaired by the
reconciler. Facts that shaped this (design.md): adding an existing job id is silently ignored, so
rescheduling is remove + add; `remove()` fails while a worker holds the job.

The dispatch horizon (`DISPATCH_HORIZON_SECONDS`, docs/scaling.md): `schedule` and
`schedule_many` are the one way a post's job gets into Redis (the API after its commit, the
promoter, the reconciler), and they add a job only for a post due within the horizon; a post
moved beyond it loses its job, and the promoter (`instasched.worker.promoter`) adds it once it
enters the horizon. So Redis holds what is due soon, PostgreSQL everything.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bullmq import Job, Queue

from instasched.kit.redis import bullmq_connection

QUEUE_NAME = "instagram-publishing"
JOB_NAME = "publishing.publish_post"
STAGE_JOB_NAME = "publishing.stage_post"
JobKind = Literal["publish", "stage"]
JOB_KINDS: tuple[JobKind, ...] = ("publish", "stage")
_JOB_NAMES: dict[JobKind, str] = {"publish": JOB_NAME, "stage": STAGE_JOB_NAME}


def job_id_for(post_id: uuid.UUID | str, kind: JobKind = "publish") -> str:
    return f"{kind}_{post_id}"


def post_id_from_job(job_id: str) -> uuid.UUID:
    return uuid.UUID(job_id.removeprefix("publish_").removeprefix("stage_"))


@dataclass(frozen=True, slots=True)
class PostJob:
    """One job a post needs: its kind, when it is due, and (a publish job) the post's account,
    carried in the job's data so that the worker takes the account's slot without reading it
    first (worker/runner.py)."""

    kind: JobKind
    post_id: uuid.UUID
    due_at: datetime
    account_id: uuid.UUID | None = None

    @property
    def job_id(self) -> str:
        return job_id_for(self.post_id, self.kind)


def delay_ms(due_at: datetime, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    return max(0, int((due_at - now).total_seconds() * 1000))


class PublishQueue:
    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = "bull",
        attempts: int = 3,
        backoff_ms: int = 60_000,
        horizon_seconds: float = 0,
    ) -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        # 0: no horizon (every post is enqueued, whenever it is due).
        self.horizon = timedelta(seconds=horizon_seconds) if horizon_seconds else None
        self.queue = Queue(
            QUEUE_NAME, {"connection": bullmq_connection(redis_url), "prefix": prefix}
        )
        self.job_opts: dict[str, Any] = {
            # A safety net for unexpected crashes inside the processor; domain retries
            # (with their own counting in PostgreSQL) move the job to delayed themselves.
            "attempts": attempts,
            "backoff": {"type": "exponential", "delay": backoff_ms},
            "removeOnComplete": True,
            "removeOnFail": {"count": 10_000},
        }

    async def close(self) -> None:
        await self.queue.close()

    def horizon_end(self, now: datetime | None = None) -> datetime | None:
        """Jobs due before this are in Redis; None: no horizon."""
        if self.horizon is None:
            return None
        return (now or datetime.now(UTC)) + self.horizon

    def within_horizon(self, due_at: datetime, now: datetime | None = None) -> bool:
        end = self.horizon_end(now)
        return end is None or due_at < end

    def _job(
        self,
        post_id: uuid.UUID | str,
        due_at: datetime,
        kind: JobKind = "publish",
        account_id: uuid.UUID | None = None,
    ) -> dict[str, Any]:
        data = {"postId": str(post_id), "dueAt": due_at.isoformat()}
        if account_id is not None:
            data["accountId"] = str(account_id)
        return {
            "name": _JOB_NAMES[kind],
            "data": data,
            "opts": {
                **self.job_opts,
                "jobId": job_id_for(post_id, kind),
                "delay": delay_ms(due_at),
                "timestamp": int(time.time() * 1000),
            },
        }

    async def schedule(
        self,
        post_id: uuid.UUID | str,
        due_at: datetime,
        kind: JobKind = "publish",
        account_id: uuid.UUID | None = None,
    ) -> None:
        """Make the post's job of this kind due at `due_at` (replacing any waiting or delayed
        one); beyond the horizon it has no job until the promoter adds it."""
        await self.queue.remove(job_id_for(post_id, kind))
        if not self.within_horizon(due_at):
            return
        spec = self._job(post_id, due_at, kind, account_id)
        await self.queue.add(spec["name"], spec["data"], spec["opts"])

    async def set_jobs(self, post_id: uuid.UUID, jobs: Iterable[PostJob]) -> None:
        """Make the post's jobs these (`jobs_for`): each replaced at its due time (within the
        horizon), a kind not among them removed. A job a worker holds stays; the reconciler
        looks again."""
        wanted = {job.kind: job for job in jobs}
        for kind in JOB_KINDS:
            job = wanted.get(kind)
            if job is not None:
                await self.schedule(post_id, job.due_at, kind, job.account_id)
            else:
                await self.queue.remove(job_id_for(post_id, kind))

    async def schedule_many(
        self, items: Iterable[tuple[uuid.UUID | str, datetime] | PostJob]
    ) -> int:
        """Add the jobs due within the horizon, in bulk (ids already present are left as they
        are); a pair (post id, due time) is the post's publish job. Returns how many were sent."""
        end = self.horizon_end()
        jobs = []
        for item in items:
            if not isinstance(item, PostJob):
                item = PostJob("publish", uuid.UUID(str(item[0])), item[1])
            if end is None or item.due_at < end:
                jobs.append(self._job(item.post_id, item.due_at, item.kind, item.account_id))
        if not jobs:
            return 0
        if len(jobs) == 1:  # one new post: a plain add is half the CPU of a MULTI bulk of one
            await self.queue.add(jobs[0]["name"], jobs[0]["data"], jobs[0]["opts"])
            return 1
        for start in range(0, len(jobs), 1000):
            await self.queue.addBulk(jobs[start : start + 1000])
        return len(jobs)

    async def remove(self, post_id: uuid.UUID | str) -> bool:
        """Remove the post's jobs (publish and staging); False when there was no publish job
        or a worker holds it."""
        removed = await self.queue.remove(job_id_for(post_id))
        await self.queue.remove(job_id_for(post_id, "stage"))
        return bool(removed)

    async def remove_many(self, post_ids: Iterable[uuid.UUID | str]) -> None:
        """Remove these posts' jobs, 1,000 per pipelined round trip (bullmq's removeJob script,
        as `remove` runs it); a job that a worker holds stays (it finds its post gone)."""
        ids = [job_id_for(post_id, kind) for post_id in post_ids for kind in JOB_KINDS]
        scripts = self.queue.scripts
        remove_job = scripts.commands["removeJob"]
        for start in range(0, len(ids), 1000):
            pipe = self.queue.client.pipeline(transaction=False)
            for job_id in ids[start : start + 1000]:
                await remove_job(  # buffered in the pipeline
                    keys=[scripts.toKey(job_id), scripts.keys["repeat"]],
                    args=[job_id, 1, scripts.keys[""]],
                    client=pipe,
                )
            await pipe.execute()

    async def get_job(self, post_id: uuid.UUID | str) -> Job | None:
        job: Job | None = await self.queue.getJob(job_id_for(post_id))
        return job

    async def job_state(self, post_id: uuid.UUID | str) -> str:
        """bullmq's state name ("delayed", "waiting", "active", ...) or "unknown"."""
        state: str = await self.queue.getJobState(job_id_for(post_id))
        return state

    async def existing_job_ids(self, post_ids: list[uuid.UUID]) -> set[str]:
        """Which of these posts have a publish job (any state) in Redis: one round trip."""
        return await self.existing(job_id_for(p) for p in post_ids)

    async def existing(self, job_ids: Iterable[str]) -> set[str]:
        """Which of these job ids are in Redis (any state): one round trip."""
        ids = list(job_ids)
        if not ids:
            return set()
        client = self.queue.client
        pipe = client.pipeline(transaction=False)
        for job_id in ids:
            pipe.exists(f"{self.prefix}:{QUEUE_NAME}:{job_id}")
        results = await pipe.execute()
        return {job_id for job_id, present in zip(ids, results, strict=True) if present}

    async def counts(self) -> dict[str, int]:
        counts: dict[str, int] = await self.queue.getJobCounts(
            "delayed", "waiting", "active", "failed", "completed", "prioritized"
        )
        return {k: int(v) for k, v in counts.items()}
