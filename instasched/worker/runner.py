"""The worker process: a bullmq Worker on "instagram-publishing", the reconciler, token refresh.

`instasched worker` runs `run_worker(settings)` until SIGTERM/SIGINT (or `stop` is set).

bullmq settings, on purpose (design.md):
- the blocking connection reads the server version before `run()`, so delayed jobs start within
  milliseconds of their due time instead of up to a second late;
- `lockDuration` 30 s (renewed every 15 s) and `stalledInterval` 15 s: a job whose worker died is
  re-run after ~30-45 s; our own lease (`PUBLISH_LEASE_SECONDS`, 10 s, renewed every third of
  it) and the reconciler's watch recover the post sooner, and a re-run is harmless (the
  processor is idempotent);
- a job that finds PostgreSQL unreachable runs again after 1-2 s, not after bullmq's backoff;
- `maxStalledCount` 5: a stalled job is re-run rather than failed (the post is the truth).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import logging
import random
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from bullmq import Worker
from bullmq.custom_errors import DelayedError
from bullmq.timer import Timer
from bullmq.utils import extract_result
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from instasched.config import Settings
from instasched.db import is_connection_error
from instasched.kit.memory import freeze_startup_objects
from instasched.kit.redis import bullmq_connection
from instasched.kit.time import utcnow
from instasched.observability.metrics import IN_FLIGHT
from instasched.ops.health import check_publishing_health
from instasched.posts import approvals
from instasched.publishing import repository as publishing_repository
from instasched.publishing.attempt import Outcome
from instasched.publishing.insights import refresh_due
from instasched.publishing.leases import RenewalConnections
from instasched.publishing.service import Publisher
from instasched.publishing.stager import Stager
from instasched.state import AppState
from instasched.webhooks import delivery as webhook_delivery
from instasched.worker.inflight import AccountGate
from instasched.worker.promoter import Promoter
from instasched.worker.queue import QUEUE_NAME, STAGE_JOB_NAME, post_id_from_job
from instasched.worker.reconciler import Reconciler

log = logging.getLogger("instasched.worker")

LOCK_DURATION_MS = 30_000
STALLED_INTERVAL_MS = 15_000
TOKEN_REFRESH_LOCK = "instasched:token-refresh-lock"
RECONCILE_LOCK = "instasched:reconcile-lock"
PROMOTE_LOCK = "instasched:promote-lock"
HEALTH_LOCK = "instasched:health-lock"
# Fetches (moveToActive scripts) one worker runs at once while jobs are due (PublishWorker).
FETCHES_AHEAD = 16
# After a wake-up by a job that is not due yet, wait this long before waiting again (below).
MARKER_SETTLE_SECONDS = 0.025
# A job that found PostgreSQL unreachable runs again after 1-2 s (jittered).
DATABASE_RETRY_SECONDS = 1.0
# Expired leases and the queue's sentinel key (Redis lost its data) are checked this often.
WATCH_INTERVAL_SECONDS = 1.0
# At most this many posts of one account wait in one process (for the account's slot); more are
# put back for 2-4 s, so one account's pile never fills the slots other accounts' posts need.
ACCOUNT_QUEUE_MAX = 64
ACCOUNT_BUSY_DELAY_SECONDS = 2.0


class PublishWorker(Worker):  # type: ignore[misc]
    """bullmq's Worker without the idle fetch stampede.

    bullmq-python's run loop starts one fetch per free slot (`concurrency` of them) before any
    runs: the first blocks on the queue's marker, every other one finds it waiting and calls the
    moveToActive Lua script at once. With nothing due that repeats on every wake-up, and adding
    any delayed job wakes the worker: ~49 scripts per created post (measured: 4 ms worker CPU and
    1.7 ms Redis CPU per create; bench/README.md). While one fetch already waits on the marker
    and the last fetch found the queue drained, the others stand down; a wake-up with due work
    fetches one job, the queue is no longer drained, and the next fetches take more at once.

    Also, with the queue drained, the run loop no longer starts those fetches at all: it
    starts fetches until `waiting` is set, which the first one sets only once it runs, so every
    wake-up (each added delayed job wakes an idle worker) created ~49 tasks and waited on all of
    them (~0.5 ms of worker CPU per created post, measured). A fetch created and not yet started
    now counts as waiting while the queue is drained.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._waiting: Any = None
        self._created: list[Any] = []  # retryIfFailed coroutines, possibly not started yet
        self._fetches = 0  # fetches created and not finished
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def waiting(self) -> Any:
        if self._waiting is None:
            if self.drained and self._fetch_created():
                return _STARTING
            # With work due, the run loop also starts one fetch per free slot, each a
            # moveToActive script: with thousands of slots (WORKER_MAX_IN_FLIGHT) that was ~1,000
            # scripts each time a job ended, and a job due 0.2 s later started ~1 s late
            # (measured). At most FETCHES_AHEAD fetches run at once; each that ends makes room.
            if not self.drained and self._fetches >= FETCHES_AHEAD:
                return _STARTING
        return self._waiting

    @waiting.setter
    def waiting(self, value: Any) -> None:
        self._waiting = value

    def _fetch_created(self) -> bool:
        self._created = [
            c for c in self._created if inspect.getcoroutinestate(c) == inspect.CORO_CREATED
        ]
        return bool(self._created)

    def retryIfFailed(self, fn: Any, opts: Any = None) -> Any:
        """Called by the run loop to create each fetch's coroutine (run later as a task)."""
        coroutine = self._counted(super().retryIfFailed(fn, opts))
        self._fetches += 1
        if len(self._created) >= 64:
            self._fetch_created()  # forget the started ones
        self._created.append(coroutine)
        return coroutine

    async def _counted(self, fetch: Any) -> Any:
        try:
            return await fetch
        finally:
            self._fetches -= 1

    async def getNextJob(self, token: str) -> Any:
        if self.waiting and self.drained:
            return None
        return await super().getNextJob(token)

    async def run(self) -> None:
        """bullmq's run loop, with the finished tasks handed over by a callback.

        bullmq waits on every task in flight (`asyncio.wait(..., FIRST_COMPLETED)`) each time
        one ends, and builds a new set of them: O(tasks in flight) per finished job or fetch,
        ~0.3 ms each at 1,000 in flight (measured), more CPU than the publication's own work.
        Here each task reports itself when done; the loop is otherwise bullmq 3.4.4's."""
        if self.running:  # type: ignore[has-type]
            raise RuntimeError("Worker is already running")
        await self._ensure_client_names()
        self.lockManager.start()
        self.stalledCheckTimer = Timer(
            self.opts.get("stalledInterval") / 1000, self.runStalledJobsCheck, self.emit
        )
        self.running = True
        finished: collections.deque[asyncio.Future[Any]] = collections.deque()
        wake = asyncio.Event()

        def done(task: asyncio.Future[Any]) -> None:
            finished.append(task)
            wake.set()

        def start(coroutine: Any) -> None:
            task = asyncio.ensure_future(coroutine)
            task.add_done_callback(done)
            self.processing.add(task)

        serial = 0
        try:
            while not self.closed:
                if self.paused and not self.closing:
                    await self.resume_event.wait()
                    continue
                while (
                    not self.waiting
                    and len(self.processing) < self.opts.get("concurrency")
                    and not self.closing
                    and not self.paused
                ):
                    serial += 1
                    start(self._fetch(f"{self.id}:{serial}"))
                if not finished:
                    if not self.processing:
                        await asyncio.sleep(0)
                    else:
                        wake.clear()
                        await wake.wait()
                jobs = []
                while finished:
                    task = finished.popleft()
                    self.processing.discard(task)
                    job = extract_result(task, self.emit)
                    if job is not None:
                        jobs.append(job)
                for job in jobs:
                    start(self.processJob(job, job.token))
                if (not jobs or not self.processing) and self.closing:
                    break
        finally:
            self.running = False
            if not self.closing:
                for task in self.processing:
                    if not task.done():
                        task.cancel()
                if self.waiting and not self.waiting.done():
                    self.waiting.cancel()
                if self.processing:
                    await asyncio.gather(*self.processing, return_exceptions=True)
                self.processing.clear()
            if self.stalledCheckTimer is not None:
                with contextlib.suppress(Exception):
                    self.stalledCheckTimer.stop()
            await self.lockManager.close()

    def _fetch(self, token: str) -> Any:
        async def next_job() -> Any:
            return await self.getNextJob(token)

        return self.retryIfFailed(
            next_job, {"delay_in_ms": self.opts.get("runRetryDelay"), "only_emit_error": True}
        )

    async def waitForJob(self) -> int:
        """The queue's marker, as bullmq reads it, then a short settle when it is not due.

        Adding a delayed job re-creates the marker, and a new marker wakes a waiting worker
        (BZPOPMIN), even when the job is due in days: a wake-up and a fresh wait per created
        post (~0.3-0.45 ms of worker CPU per create at 50 concurrent creates, bench/run). After
        such a wake-up the worker waits `MARKER_SETTLE_SECONDS` before waiting again, so the
        jobs added meanwhile cost one wake-up together. A job due now that is added in that
        window starts at most that much later (its marker is read right after); a wake-up that
        is due (work to do) never settles.
        """
        next_due_ms = await super().waitForJob()
        if next_due_ms > time.time() * 1000 + MARKER_SETTLE_SECONDS * 1000:
            await asyncio.sleep(MARKER_SETTLE_SECONDS)
        return int(next_due_ms)


class _Starting:
    """What `waiting` shows for a fetch about to start: bullmq only tests `waiting` for truth,
    `done()` and `cancel()` (nothing to cancel: the fetch itself is a task of the run loop)."""

    def done(self) -> bool:
        return True

    def cancel(self) -> bool:
        return False


_STARTING = _Starting()


def make_processor(publisher: Publisher, gate: AccountGate | None = None) -> Any:
    """The job's work; with a `gate`, a publication waits for a slot of its account first
    (worker/inflight.py), holding no database connection while it waits."""
    # Staging jobs (containers made ahead of the due time) share the queue: docs/staging.md.
    stager = Stager(publisher)

    async def process(job: Any, token: str) -> dict[str, Any]:
        try:
            return await _process(job, token)
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            # PostgreSQL is unreachable (restart, failover): look again in a second or two,
            # not after bullmq's backoff (PUBLISH_RETRY_BASE_SECONDS: a minute by default). A post
            # the attempt had claimed keeps its lease until it expires, then is taken over.
            log.warning(
                "database unavailable; the job runs again shortly", extra={"job_id": job.id}
            )
            due = time.time() + DATABASE_RETRY_SECONDS * (1 + random.random())
            await job.moveToDelayed(int(due * 1000), token)
            raise DelayedError from None

    async def _process(job: Any, token: str) -> dict[str, Any]:
        data = job.data or {}
        try:
            post_id = (
                uuid.UUID(str(data["postId"]))
                if data.get("postId")
                else post_id_from_job(str(job.id))
            )
        except ValueError:
            log.error("job without a valid post id", extra={"job_id": job.id})
            return {"result": "skipped"}
        if job.name == STAGE_JOB_NAME:
            # Staging takes no account slot: it never publishes, and a reel's processing would
            # hold the account's publications back.
            outcome = await stager.stage(post_id)
        else:
            outcome = await _publish(job, token, post_id)
        if outcome.kind in ("retry", "rescheduled", "not_due") and outcome.due_at is not None:
            # Same job id, new due time: the job waits in the delayed set (attempt not used).
            await job.moveToDelayed(int(outcome.due_at.timestamp() * 1000), token)
            raise DelayedError
        return {"result": outcome.kind, "detail": outcome.detail}

    async def _publish(job: Any, token: str, post_id: uuid.UUID) -> Outcome:
        if gate is None:
            return await publisher.process(post_id)
        # The publish job carries the post's account (queue.PostJob): reading it here was one
        # more round trip per publication, ~0.2 ms of worker CPU and ~0.1 ms of PostgreSQL's
        # (bench/claim_roundtrips.py, docs/performance.md round 8). The claim is fenced by it
        # (`account_id`): a post moved to another account meanwhile is not claimed under this
        # account's slot. A job without it (enqueued by older code) reads it as before.
        account_id = _account_hint(job.data or {})
        if account_id is None:  # a job enqueued without it (older code)
            async with publisher.connect() as conn:
                account_id = await publishing_repository.account_of(conn, post_id)
            if account_id is None:  # gone, published, failed...: nothing to wait for
                return await publisher.process(post_id)
        for _ in range(3):
            outcome = await _gated(job, token, post_id, account_id)
            if outcome.kind != "other_account" or outcome.detail is None:
                return outcome
            account_id = uuid.UUID(outcome.detail)  # moved: its new account's slot
        return Outcome("not_due", due_at=utcnow() + timedelta(seconds=1))

    async def _gated(job: Any, token: str, post_id: uuid.UUID, account_id: uuid.UUID) -> Outcome:
        assert gate is not None
        if gate.queued(account_id) >= ACCOUNT_QUEUE_MAX:
            # Many of one account's posts in this process already: let other accounts' posts
            # have the slots; this one comes back shortly (its due time is unchanged).
            due = time.time() + ACCOUNT_BUSY_DELAY_SECONDS * (1 + random.random())
            await job.moveToDelayed(int(due * 1000), token)
            raise DelayedError
        IN_FLIGHT.labels(state="waiting_for_account").inc()
        waiting = True
        try:
            async with gate.slot(account_id):
                IN_FLIGHT.labels(state="waiting_for_account").dec()
                waiting = False
                IN_FLIGHT.labels(state="publishing").inc()
                try:
                    return await publisher.process(post_id, account_id=account_id)
                finally:
                    IN_FLIGHT.labels(state="publishing").dec()
        finally:
            if waiting:
                IN_FLIGHT.labels(state="waiting_for_account").dec()

    return process


def _account_hint(data: dict[str, Any]) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(data["accountId"])) if data.get("accountId") else None
    except ValueError:
        return None


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[asyncio.Task[Any]]:
    """Run a bullmq `worker` (made with `autorun: False`) for the block; close it after (30 s at
    most for the jobs in flight), then end its run task."""
    # Without this the blocking wait is rounded to whole seconds (up to 1 s late).
    if worker.blockingRedisConnection is not None:
        await worker.blockingRedisConnection.getRedisVersion()
    task = asyncio.create_task(worker.run(), name="bullmq-worker")
    try:
        yield task
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker.close(), timeout=30)
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def run_worker(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_started: Callable[[Worker], None] | None = None,
) -> None:
    """Run until `stop` is set or the process gets SIGTERM/SIGINT.

    `on_started` receives the bullmq `Worker` once it runs (tests pause and resume it).
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    app = await AppState.create(settings)
    publisher = Publisher(app)
    renewals = renew_apart(publisher)
    gate = AccountGate(
        settings.require_redis_url(),
        prefix=settings.queue_prefix,
        per_account=settings.worker_max_in_flight_per_account,
        # A dead process's slots free themselves when its leases expire: a take-over, which
        # waits for the account's slot (worker/reconciler.py), is not later than the lease.
        ttl_seconds=settings.publish_lease_seconds,
    )
    reconciler = Reconciler(app, publisher, gate)
    worker = PublishWorker(
        QUEUE_NAME,
        make_processor(publisher, gate),
        {
            "connection": bullmq_connection(settings.require_redis_url()),
            "prefix": settings.queue_prefix,
            # Publications in flight in this process (they mostly wait on Instagram).
            "concurrency": settings.worker_max_in_flight,
            "lockDuration": LOCK_DURATION_MS,
            "stalledInterval": STALLED_INTERVAL_MS,
            "maxStalledCount": 5,
            "autorun": False,
        },
    )
    worker.on("error", lambda err, *a: log.error("bullmq worker error: %s", err))
    try:
        await gate.start()
        async with running(worker):
            _serve_metrics(settings)
            loops = _start_loops(settings, app, reconciler, stop)
            freeze_startup_objects()
            if on_started is not None:
                on_started(worker)
            log.info(
                "worker started",
                extra={
                    "max_in_flight": settings.worker_max_in_flight,
                    "max_in_flight_per_account": settings.worker_max_in_flight_per_account,
                    "queue_prefix": settings.queue_prefix,
                },
            )
            try:
                await stop.wait()
            finally:
                log.info("worker stopping")
                for task in loops:
                    task.cancel()
                await asyncio.gather(*loops, return_exceptions=True)
    finally:
        await reconciler.close()
        await gate.close()
        await renewals.close()
        await app.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        log.info("worker stopped")


def renew_apart(publisher: Publisher) -> RenewalConnections:
    """The publisher's lease renewals on a connection of their own, not queued behind the
    publications' statements in their pool (publishing/leases.py `RenewalConnections`)."""
    renewals = RenewalConnections(publisher.app.engine)
    publisher.leases.connect = renewals.connect
    publisher.staging_leases.connect = renewals.connect
    return renewals


def _serve_metrics(settings: Settings) -> None:
    if settings.worker_metrics_port:
        from prometheus_client import start_http_server

        from instasched.observability.metrics import REGISTRY

        start_http_server(settings.worker_metrics_port, addr=settings.host, registry=REGISTRY)
        log.info("worker metrics on port %s", settings.worker_metrics_port)


def _start_loops(
    settings: Settings, app: AppState, reconciler: Reconciler, stop: asyncio.Event
) -> list[asyncio.Task[None]]:
    """The periodic work: reconcile and promote (one worker per interval each), the
    reconciler's once-a-second watch (expired leases, a lost queue), the publishing alerts,
    token refresh, post insights."""
    promoter = Promoter(app)
    return [
        asyncio.create_task(_every(WATCH_INTERVAL_SECONDS, lambda: _watch(reconciler), stop)),
        asyncio.create_task(
            _every(
                settings.reconcile_interval_seconds,
                lambda: _reconcile_once_across_workers(app, reconciler),
                stop,
            )
        ),
        asyncio.create_task(
            _every(
                settings.reconcile_interval_seconds,
                lambda: _promote_once_across_workers(app, promoter),
                stop,
            )
        ),
        asyncio.create_task(
            _every(settings.reconcile_interval_seconds, lambda: _check_health(app), stop)
        ),
        asyncio.create_task(
            _every(settings.token_refresh_interval_seconds, lambda: _refresh_tokens(app), stop)
        ),
        # Every process: each pass claims its own rows (FOR UPDATE SKIP LOCKED).
        asyncio.create_task(
            _every(settings.insights_refresh_interval_seconds, lambda: refresh_due(app), stop)
        ),
        # Posts awaiting approval whose time came: approval_expired, with an alert. Every
        # process (SKIP LOCKED); a partial index read, so its cost follows those posts.
        asyncio.create_task(
            _every(settings.reconcile_interval_seconds, lambda: _expire_approvals(app), stop)
        ),
        # Webhook deliveries (issue 21): their own task, never in a publication's way.
        asyncio.create_task(webhook_delivery.run(app, stop)),
    ]


async def _every(interval: float, fn: Any, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await fn()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("periodic task failed; it runs again at the next interval")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def _watch(reconciler: Reconciler) -> None:
    """A second's check; an unreachable PostgreSQL or Redis is one warning, not a traceback a
    second (the check runs again when they are back)."""
    try:
        await reconciler.watch()
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("reconciler watch: Redis unavailable (%s)", type(exc).__name__)
    except Exception as exc:
        if not is_connection_error(exc):
            raise
        log.warning("reconciler watch: database unavailable (%s)", type(exc).__name__)


async def _check_health(app: AppState) -> None:
    """The publishing alerts (instasched.ops.health), by one worker per interval."""
    if await _first_this_interval(app, HEALTH_LOCK, app.settings.reconcile_interval_seconds):
        await check_publishing_health(app)


async def _expire_approvals(app: AppState) -> None:
    """Posts still awaiting approval at their time are never published (posts.approvals)."""
    async with app.session_factory() as session:
        expired = await approvals.expire_due(session, events=app.events)
    if expired:
        log.warning("posts not published for want of approval", extra={"expired": expired})


async def _first_this_interval(app: AppState, lock: str, interval_seconds: float) -> bool:
    """True for one worker per interval (a Redis key that expires just before the next one)."""
    ttl_ms = max(500, int(interval_seconds * 1000) - 500)
    got = await app.redis.set(f"{lock}:{app.settings.queue_prefix}", "1", nx=True, px=ttl_ms)
    return bool(got)


async def _reconcile_once_across_workers(app: AppState, reconciler: Reconciler) -> None:
    """One pass per interval across all workers (each pass scans every scheduled post; with
    WORKER_PROCESSES=2 that was done twice). Concurrent passes would be safe, only wasted."""
    if await _first_this_interval(app, RECONCILE_LOCK, app.settings.reconcile_interval_seconds):
        await reconciler.run_once()


async def _promote_once_across_workers(app: AppState, promoter: Promoter) -> None:
    """Posts entering the dispatch horizon get their jobs: one pass per interval across all
    workers (concurrent passes would be safe, only wasted: instasched.worker.promoter)."""
    if await _first_this_interval(app, PROMOTE_LOCK, app.settings.reconcile_interval_seconds):
        await promoter.run_once()


async def _refresh_tokens(app: AppState) -> None:
    """Once per interval across all workers (a Redis lock), if the accounts module has it."""
    try:
        from instasched.accounts.tasks import refresh_expiring_tokens
    except ImportError:
        return
    if not await _first_this_interval(
        app, TOKEN_REFRESH_LOCK, app.settings.token_refresh_interval_seconds
    ):
        return
    await refresh_expiring_tokens(app.session_factory, app.graph, app.cipher)
