"""The reconciler: PostgreSQL is the truth, Redis only dispatches.

Every `RECONCILE_INTERVAL_SECONDS` (one worker per interval; all of it is safe to run
concurrently):
1. each `scheduled` post due within the dispatch horizon (`DISPATCH_HORIZON_SECONDS`; the
   promoter adds the later ones as they enter it) must have the jobs
   `publishing.staging.jobs_for` says (its publish job, and its staging job while its
   containers are to be made ahead): missing ones (Redis lost them) are re-created, and a job
   left in bullmq's `failed` set for a post that is still
   scheduled is replaced;
2. each `publishing` post whose lease expired (its worker died) is taken over, with a
   conditional update on the old lease, and recovered through the container check: never blind.

Between passes, every second (`watch`, in every worker): the expired leases of 2. (one indexed
query; a live worker renews its lease every third of `PUBLISH_LEASE_SECONDS`, so a dead one's
posts are taken over within a lease and a second), and the queue's sentinel key: a key the
passes write, gone when Redis lost its data (FLUSHALL, a restart without persistence). Then
one worker runs the pass at once, instead of up to an interval later.

A take-over holds the account's slot (worker/inflight.py), as a job's publication does: a lease
also expires under load while its worker is alive and still waiting on Instagram, holding
that slot; the take-over waits for it, so the account keeps one publication at a time (without
it, the take-over's Graph calls ran beside the first worker's and the account's next post's),
and the live worker, if it finishes first, keeps its post (its fence still holds: nobody took
it). A dead process's slots free themselves within a lease (the gate's ttl is the lease's).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from instasched.kit.time import utcnow
from instasched.publishing import repository
from instasched.publishing.attempt import Outcome
from instasched.publishing.service import Publisher
from instasched.state import AppState
from instasched.worker.inflight import AccountGate
from instasched.worker.promoter import add_missing, due_batches
from instasched.worker.queue import QUEUE_NAME, PostJob

log = logging.getLogger("instasched.reconciler")

RECOVERY_BATCH = 200
SENTINEL = "instasched:queue-sentinel"
# One worker restores a lost queue; another may take over if it has not finished by then.
RESTORE_LOCK_MS = 30_000


@dataclass
class ReconcileReport:
    jobs_recreated: int = 0
    jobs_replaced: int = 0
    recovered: int = 0


class Reconciler:
    def __init__(
        self, app: AppState, publisher: Publisher, gate: AccountGate | None = None
    ) -> None:
        self.app = app
        self.publisher = publisher
        self.gate = gate
        self._recovering: set[uuid.UUID] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def _sentinel(self) -> str:
        return f"{SENTINEL}:{self.app.settings.queue_prefix}"

    async def run_once(self) -> ReconcileReport:
        report = ReconcileReport()
        # Written before the pass: a flush during the pass removes it, and `watch` sees that.
        await self.app.redis.set(self._sentinel, "1")
        await self._restore_jobs(report)
        await self._recover_stuck(report)
        if report.jobs_recreated or report.jobs_replaced or report.recovered:
            log.info(
                "reconciled",
                extra={
                    "jobs_recreated": report.jobs_recreated,
                    "jobs_replaced": report.jobs_replaced,
                    "recovering": report.recovered,
                },
            )
        return report

    async def watch(self) -> None:
        """The once-a-second checks: Redis lost the queue (restore it now), expired leases."""
        if not await self.app.redis.exists(self._sentinel):
            lock = f"{self._sentinel}:restoring"
            if await self.app.redis.set(lock, "1", nx=True, px=RESTORE_LOCK_MS):
                log.warning("the queue's sentinel key is gone (Redis lost its data): reconciling")
                try:
                    await self.run_once()
                except BaseException:
                    await self.app.redis.delete(self._sentinel)  # the next second tries again
                    raise
                finally:
                    await self.app.redis.delete(lock)
        report = ReconcileReport()
        await self._recover_stuck(report)
        if report.recovered:
            log.info("taking over expired leases", extra={"recovering": report.recovered})

    async def _restore_jobs(self, report: ReconcileReport) -> None:
        """Every `scheduled` post due within the dispatch horizon (overdue ones included) has a
        job; beyond it the promoter adds them, so this pass grows with the posts due soon."""
        queue = self.app.queue
        failed_key = f"{queue.prefix}:{QUEUE_NAME}:failed"
        async for batch in due_batches(self.app, due_from=None, due_before=queue.horizon_end()):
            added, in_queue = await add_missing(self.app, batch)
            report.jobs_recreated += added
            if in_queue:
                pipe = queue.queue.client.pipeline(transaction=False)
                for job in in_queue:
                    pipe.zscore(failed_key, job.job_id)
                scores = await pipe.execute()
                for job, score in zip(in_queue, scores, strict=True):
                    if score is not None:
                        await self._replace_job(job)
                        report.jobs_replaced += 1

    async def _replace_job(self, job: PostJob) -> None:
        try:
            await self.app.queue.schedule(job.post_id, job.due_at, job.kind, job.account_id)
        except Exception:  # a worker holds it right now: the next pass looks again
            log.warning("could not replace the failed job", extra={"post_id": str(job.post_id)})

    async def _recover_stuck(self, report: ReconcileReport) -> None:
        async with self.app.session_factory() as session:
            now = utcnow()
            stuck = await repository.expired_leases(
                session,
                now=now,
                stale_before=now - self.publisher.lease_length,
                limit=RECOVERY_BATCH,
            )
        for post_id, lease in stuck:
            if post_id in self._recovering:
                continue
            self._recovering.add(post_id)
            report.recovered += 1
            task = asyncio.create_task(self._recover(post_id, lease))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _recover(self, post_id: uuid.UUID, lease: datetime | None) -> None:
        try:
            outcome = await self._take_over(post_id, lease)
            await self._requeue_if_needed(post_id, outcome)
        except Exception:
            log.exception(
                "recovery failed; the next pass tries again", extra={"post_id": str(post_id)}
            )
        finally:
            self._recovering.discard(post_id)

    async def _take_over(self, post_id: uuid.UUID, lease: datetime | None) -> Outcome:
        """`Publisher.recover` under the account's slot (waiting for it, holding nothing)."""
        if self.gate is None:
            return await self.publisher.recover(post_id, lease)
        async with self.publisher.connect() as conn:
            account_id = await repository.account_of(conn, post_id)
        if account_id is None:  # published, failed or deleted meanwhile
            return Outcome("skipped", detail="no longer publishing")
        async with self.gate.slot(account_id):
            return await self.publisher.recover(post_id, lease)

    async def _requeue_if_needed(self, post_id: uuid.UUID, outcome: Outcome) -> None:
        if outcome.kind in ("retry", "rescheduled", "not_due") and outcome.due_at is not None:
            try:
                await self.app.queue.schedule(post_id, outcome.due_at)
            except Exception:  # the job is running somewhere: it will see the new due time
                log.info("job busy; reconciler will check again", extra={"post_id": str(post_id)})

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
