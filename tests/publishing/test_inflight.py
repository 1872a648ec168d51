"""Publications in flight (worker/inflight.py): one per account at a time across processes, many
at once per process (beyond the old 50), and none holding a database connection while it waits
on Instagram.

Latency comes from the sandbox (`latencyMs` faults); the checks are orderings and counts (the
sandbox's peak of calls waiting at once), never durations.

Leases under load (issue 17: "per account at most 3" Graph calls at once in bench/run's
10,000-post row, docs/performance.md "Take-overs under load"): a lease renewal may wait (for its
connection, for the CPU); a write that waited for it on the attempt's lock fences with the
renewed lease, and a post taken over while its first worker may still be waiting on Instagram
is taken over under the account's slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg
import pytest

from instasched.config import Settings, plain_database_url
from instasched.models import ScheduledPost
from instasched.publishing import staging
from instasched.publishing.attempt import Attempt
from instasched.publishing.leases import LeaseKeeper
from instasched.publishing.service import Publisher
from instasched.state import AppState
from instasched.worker.inflight import AccountGate
from instasched.worker.reconciler import Reconciler
from instasched.worker.runner import renew_apart
from tests.conftest import BackgroundWorker
from tests.factories import Account, User
from tests.publishing.conftest import Publishing


def _gate(settings: Settings, prefix: str, *, ttl_seconds: float = 15.0) -> AccountGate:
    return AccountGate(
        settings.require_redis_url(), prefix=prefix, per_account=1, ttl_seconds=ttl_seconds
    )


async def test_gate_one_slot_per_account_across_processes(app_settings: Settings) -> None:
    prefix = "gate-" + secrets.token_hex(4)
    # Two gates on one prefix: two worker processes (or hosts).
    first, second = _gate(app_settings, prefix), _gate(app_settings, prefix)
    await first.start()
    await second.start()
    account, other = uuid.uuid4(), uuid.uuid4()
    order: list[str] = []
    try:
        held = asyncio.Event()
        release = asyncio.Event()

        async def holder() -> None:
            async with first.slot(account):
                order.append("first in")
                held.set()
                await release.wait()
                order.append("first out")

        async def waiter() -> None:
            async with second.slot(account):
                order.append("second in")

        task = asyncio.create_task(holder())
        await held.wait()
        waiting = asyncio.create_task(waiter())
        # Another account of the other process is not held up.
        async with second.slot(other):
            order.append("other account")
        await asyncio.sleep(0.3)
        assert not waiting.done()
        assert second.queued(account) == 1 and first.held == 1
        release.set()
        # The release message wakes the other process's waiter (or its retry does).
        await asyncio.wait_for(asyncio.gather(task, waiting), timeout=10)
        assert order == ["first in", "other account", "first out", "second in"]
        assert first.held == 0 and second.held == 0 and second.queued(account) == 0
    finally:
        await first.close()
        await second.close()


async def test_gate_slot_of_a_dead_process_frees_itself(app_settings: Settings) -> None:
    prefix = "gate-" + secrets.token_hex(4)
    dead = _gate(app_settings, prefix, ttl_seconds=1.0)  # never started: never renews
    alive = _gate(app_settings, prefix, ttl_seconds=1.0)
    await alive.start()
    account = uuid.uuid4()
    try:
        entered = asyncio.Event()

        async def crash() -> None:
            async with dead.slot(account):
                entered.set()
                await asyncio.Event().wait()  # the process "dies" holding the slot

        stuck = asyncio.create_task(crash())
        await entered.wait()
        # The slot is the dead process's until its expiry; then the living one takes it.
        async with alive.slot(account):
            assert await alive.redis.zcard(alive.key(account)) == 1
        # While held, a live process's slot is renewed: it outlasts its ttl.
        async with alive.slot(account):
            await asyncio.sleep(1.5)
            assert await alive.renew() == 0
            assert await alive.redis.zcard(alive.key(account)) == 1
        stuck.cancel()
        await asyncio.gather(stuck, return_exceptions=True)
    finally:
        await dead.close()
        await alive.close()


async def _accounts(publishing: Publishing, count: int) -> tuple[User, list[Account]]:
    user = await publishing.api.user()
    accounts = await asyncio.gather(*(publishing.api.account(user) for _ in range(count)))
    return user, list(accounts)


async def _slow(publishing: Publishing, account: Account, posts: int, ms: int) -> None:
    """Each of the account's next `posts` container creations and publications waits `ms`."""
    for endpoint in ("media", "media_publish"):
        await publishing.fault(account.ig_user_id, endpoint, count=posts, latencyMs=ms)


async def _concurrency(publishing: Publishing) -> dict[str, object]:
    r = await publishing.http.get("/sandbox/_control/concurrency")
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


async def test_one_publication_per_account_at_a_time(
    publishing: Publishing, worker: BackgroundWorker
) -> None:
    user, (busy, other) = await _accounts(publishing, 2)
    image = await publishing.image(user)
    await _slow(publishing, busy, 2, 400)
    await _slow(publishing, other, 1, 400)
    r = await publishing.http.delete("/sandbox/_control/concurrency")
    assert r.status_code == 200, r.text
    due = datetime.now(UTC) + timedelta(milliseconds=500)
    ids = [
        await publishing.post(user, account, "IMAGE", [image], due=due)
        for account in (busy, busy, other)
    ]
    posts = [await publishing.wait(post_id, "published", timeout=60) for post_id in ids]
    first, second, third = posts
    # The busy account's two publications took turns: one ended before the other was claimed.
    assert first.publishing_started_at and second.publishing_started_at
    assert first.published_at and second.published_at and third.published_at
    spans = sorted(
        [(p.publishing_started_at, p.published_at) for p in (first, second)],
        key=lambda span: span[0],
    )
    assert spans[0][1] <= spans[1][0]
    concurrency = await _concurrency(publishing)
    peaks = concurrency["peakByAccount"]
    assert isinstance(peaks, dict)
    assert peaks[busy.ig_user_id] == 1
    # ... while the other account's publication ran beside one of them.
    assert concurrency["peak"] >= 2  # type: ignore[operator]
    assert len(await publishing.media(busy.ig_user_id)) == 2
    assert len(await publishing.media(other.ig_user_id)) == 1


async def test_the_publish_job_carries_the_account(
    publishing: Publishing, worker: BackgroundWorker
) -> None:
    """The publish job says which account's slot to take (no read before it)."""
    user, (account,) = await _accounts(publishing, 1)
    image = await publishing.image(user)
    due = datetime.now(UTC) + timedelta(milliseconds=500)
    post_id = await publishing.post(user, account, "IMAGE", [image], due=due, enqueue=False)
    post = await publishing.get(post_id)
    # (Due in half a second: too soon for a staging job.)
    [job] = staging.jobs_for(post, settings=publishing.settings, now=datetime.now(UTC))
    assert job.account_id == account.id
    await publishing.queue.schedule_many([job])
    queued = await publishing.queue.get_job(post_id)
    assert queued is not None and queued.data["accountId"] == str(account.id)
    published = await publishing.wait(post_id, "published", timeout=60)
    assert published.publish_attempts == 1
    assert len(await publishing.media(account.ig_user_id)) == 1


async def test_a_post_moved_to_another_account_is_not_claimed_under_the_old_ones_slot(
    publishing: Publishing, app: AppState, no_worker: None
) -> None:
    """The claim is fenced by the account whose slot the job holds: a post moved to another
    account after its job was made is left unclaimed and named its new account; claimed under
    that one, it is published once."""
    user, (old, new) = await _accounts(publishing, 2)
    image = await publishing.image(user)
    due = datetime.now(UTC) + timedelta(milliseconds=200)
    post_id = await publishing.post(user, old, "IMAGE", [image], due=due, enqueue=False)
    async with publishing.sessions() as session:
        row = await session.get(ScheduledPost, post_id)
        assert row is not None
        row.instagram_account_id = new.id
        await session.commit()
    await asyncio.sleep(0.3)  # due
    publisher = Publisher(app)
    outcome = await publisher.process(post_id, account_id=old.id)
    assert outcome.kind == "other_account" and outcome.detail == str(new.id)
    post = await publishing.get(post_id)
    assert post.status == "scheduled" and post.publish_attempts == 0
    assert (await publisher.process(post_id, account_id=new.id)).kind == "published"
    post = await publishing.get(post_id)
    assert post.status == "published" and post.publish_attempts == 1
    assert await publishing.media(old.ig_user_id) == []
    assert len(await publishing.media(new.ig_user_id)) == 1


@pytest.fixture
def small_pool_worker(app_settings: Settings, no_worker: None) -> Iterator[BackgroundWorker]:
    """A worker whose pools hold at most 1 (SQLAlchemy) and 2 (asyncpg) connections."""
    background = BackgroundWorker(app_settings.model_copy(update={"database_pool_size": 1}))
    background.start()
    try:
        yield background
    finally:
        background.stop()


async def test_many_in_flight_without_holding_connections(
    publishing: Publishing, small_pool_worker: BackgroundWorker
) -> None:
    count = 70  # beyond the old 50 per process
    user, accounts = await _accounts(publishing, count)
    image = await publishing.image(user)
    await asyncio.gather(*(_slow(publishing, account, 1, 3000) for account in accounts))
    r = await publishing.http.delete("/sandbox/_control/concurrency")
    assert r.status_code == 200, r.text
    due = datetime.now(UTC) + timedelta(milliseconds=500)
    ids = [
        await publishing.post(user, account, "IMAGE", [image], due=due, enqueue=False)
        for account in accounts
    ]
    await publishing.queue.schedule_many([(post_id, due) for post_id in ids])
    for post_id in ids:
        await publishing.wait(post_id, "published", timeout=120)
    concurrency = await _concurrency(publishing)
    # With 2 database connections, more than 50 publications waited on Instagram at once.
    assert concurrency["peak"] > 50  # type: ignore[operator]
    for account in accounts:
        assert len(await publishing.media(account.ig_user_id)) == 1


async def test_lease_keeper_renews_in_one_statement_and_sees_a_take_over(
    publishing: Publishing, database_url: str
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    now = datetime.now(UTC)

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[Any]:
        conn = await asyncpg.connect(plain_database_url(database_url))
        try:
            yield conn
        finally:
            await conn.close()

    # Two posts being published, their leases a third of their length old (due for renewal);
    # not expired, so no worker's watch takes them over.
    leases = [now + timedelta(seconds=5), now + timedelta(seconds=6)]
    ids = [
        await publishing.post(
            user, account, "IMAGE", [image], due=now + timedelta(hours=1), enqueue=False
        )
        for _ in leases
    ]
    async with connect() as conn:
        for post_id, lease in zip(ids, leases, strict=True):
            await conn.execute(
                "UPDATE instagram_scheduled_posts SET status = 'publishing', "
                "lease_expires_at = $2 WHERE id = $1",
                post_id,
                lease,
            )
    attempts = [
        Attempt(post=await publishing.get(post_id), lease=lease)
        for post_id, lease in zip(ids, leases, strict=True)
    ]

    keeper = LeaseKeeper(connect, length=timedelta(seconds=10))
    # Another worker took the second post over (a new lease): the keeper must not renew it.
    async with connect() as conn:
        await conn.execute(
            "UPDATE instagram_scheduled_posts SET lease_expires_at = $2 WHERE id = $1",
            ids[1],
            now + timedelta(seconds=30),
        )
    async with keeper.hold(attempts[0]), keeper.hold(attempts[1]):
        assert await keeper.renew() == 1
    first, second = attempts
    assert not first.lost and first.lease > leases[0]
    assert (await publishing.get(ids[0])).lease_expires_at == first.lease
    assert second.lost and second.lease == leases[1]
    # A lease renewed a moment ago is not due again.
    async with keeper.hold(first):
        assert await keeper.renew() == 0


class _WatchedLock(asyncio.Lock):
    """An attempt's lock that notes when someone had to wait for it."""

    def __init__(self) -> None:
        super().__init__()
        self.contended = asyncio.Event()

    async def acquire(self) -> Literal[True]:
        if self.locked():
            self.contended.set()
        return await super().acquire()


class _HeldBack:
    """A connection whose statements wait for `until` first: a renewal slowed by load."""

    def __init__(self, conn: Any, until: asyncio.Event) -> None:
        self.conn = conn
        self.until = until

    async def fetch(self, *args: Any) -> Any:
        await self.until.wait()
        return await self.conn.fetch(*args)


async def _publishing_row(
    publishing: Publishing, user: User, account: Account, *, lease: datetime
) -> uuid.UUID:
    """An image post claimed (`publishing`, first attempt) with this lease, no container yet."""
    image = await publishing.image(user)
    post_id = await publishing.post(
        user, account, "IMAGE", [image], due=datetime.now(UTC) + timedelta(hours=1), enqueue=False
    )
    async with publishing.sessions() as session:
        row = await session.get(ScheduledPost, post_id)
        assert row is not None
        row.status = "publishing"
        row.publish_attempts = 1
        row.publishing_started_at = datetime.now(UTC)
        row.lease_expires_at = lease
        await session.commit()
    return post_id


async def test_a_write_that_waited_for_a_renewal_fences_with_the_renewed_lease(
    publishing: Publishing, app: AppState, no_worker: None
) -> None:
    """The container is stored although a renewal held the attempt's lock when Meta answered.

    Before, `_store_containers` read the lease before taking the lock: the renewal moved the
    lease meanwhile, the write's fence no longer matched, and a live worker gave its post up as
    "lease lost" (nobody had taken it over) with a container made and not recorded; the post
    waited for its renewed lease to expire and was taken over ~10 s later (bench/run at load)."""
    user, account = await publishing.user_account()
    # Half of the lease used: due for renewal at the keeper's first tick (1 s), while the
    # container's creation is still waiting (3 s).
    lease = datetime.now(UTC) + timedelta(seconds=5)
    post_id = await _publishing_row(publishing, user, account, lease=lease)
    await publishing.fault(account.ig_user_id, "media", count=1, latencyMs=3000)
    publisher = Publisher(app)
    lock = _WatchedLock()

    @contextlib.asynccontextmanager
    async def renewal_connection() -> AsyncIterator[Any]:
        # The renewal's UPDATE runs only once the publication's write waits for the lock.
        async with publisher.connect() as conn:
            yield _HeldBack(conn, lock.contended)

    publisher.leases = LeaseKeeper(renewal_connection, length=publisher.lease_length)
    attempt = Attempt(post=await publishing.get(post_id), lease=lease, lock=lock)
    outcome = await asyncio.wait_for(publisher.run(attempt), timeout=60)
    assert lock.contended.is_set()  # the write did wait for the renewal
    assert outcome.kind == "published", outcome
    post = await publishing.get(post_id)
    assert post.status == "published" and post.lease_expires_at is None
    # One container, published once.
    assert (await publishing.calls(account.ig_user_id)).get("media") == 1
    media = await publishing.media(account.ig_user_id)
    assert [m["containerId"] for m in media] == [post.container_id]
    assert post.instagram_media_id == media[0]["id"]


async def _until(check: Any, *, timeout: float = 30.0) -> None:
    """Poll `check` (an async predicate) until it holds."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def test_a_take_over_waits_for_the_accounts_slot(
    publishing: Publishing, app: AppState, app_settings: Settings, no_worker: None
) -> None:
    """A post whose lease expired while its worker still holds the account's slot (alive, still
    waiting on Instagram) is taken over only once that slot is given back: never two
    publications of one account at once. Before, the reconciler's take-over ran outside the
    account's slot, beside the first worker's Graph call and the account's next post."""
    user, account = await publishing.user_account()
    expired = datetime.now(UTC) - timedelta(seconds=1)
    post_id = await _publishing_row(publishing, user, account, lease=expired)
    prefix = "gate-" + secrets.token_hex(4)
    # The first worker's process (holding the account's slot) and the recovering one.
    first = AccountGate(app_settings.require_redis_url(), prefix=prefix, per_account=1)
    gate = AccountGate(app_settings.require_redis_url(), prefix=prefix, per_account=1)
    await first.start()
    await gate.start()
    reconciler = Reconciler(app, Publisher(app), gate)
    release = asyncio.Event()
    held = asyncio.Event()

    async def first_worker() -> None:
        async with first.slot(account.id):
            held.set()
            await release.wait()

    holder = asyncio.create_task(first_worker())
    try:
        await held.wait()
        calls = await publishing.calls(account.ig_user_id)  # the account's connection made some
        await reconciler.watch()

        async def waiting_or_done() -> bool:
            post = await publishing.get(post_id)
            return gate.queued(account.id) == 1 or post.lease_expires_at != expired

        await _until(waiting_or_done)
        # Waiting for the slot: not taken over, no Graph call for the account.
        assert gate.queued(account.id) == 1
        assert (await publishing.get(post_id)).lease_expires_at == expired
        assert await publishing.calls(account.ig_user_id) == calls
        release.set()
        post = await publishing.wait(post_id, "published", "failed", timeout=60)
        assert post.status == "published", post.last_publish_error
        assert len(await publishing.media(account.ig_user_id)) == 1
    finally:
        release.set()
        await holder
        await reconciler.close()
        await first.close()
        await gate.close()


async def test_a_renewal_waiting_for_its_connection_holds_no_lock(
    publishing: Publishing, app: AppState, no_worker: None
) -> None:
    """The renewal takes its connection before the attempts' locks: a publication's write is
    not held up while the renewal waits for a connection."""
    user, account = await publishing.user_account()
    lease = datetime.now(UTC) + timedelta(seconds=5)  # half used: due for renewal
    post_id = await _publishing_row(publishing, user, account, lease=lease)
    publisher = Publisher(app)
    waiting, go = asyncio.Event(), asyncio.Event()

    @contextlib.asynccontextmanager
    async def busy_pool() -> AsyncIterator[Any]:
        waiting.set()
        await go.wait()
        async with publisher.connect() as conn:
            yield conn

    keeper = LeaseKeeper(busy_pool, length=publisher.lease_length)
    attempt = Attempt(post=await publishing.get(post_id), lease=lease)
    async with keeper.hold(attempt):
        renewal = asyncio.create_task(keeper.renew())
        await waiting.wait()
        assert not attempt.lock.locked()
        go.set()
        await renewal  # (or the keeper's own tick renewed it: either way through busy_pool)
    assert attempt.lease > lease and not attempt.lost
    assert (await publishing.get(post_id)).lease_expires_at == attempt.lease


async def test_the_workers_renewals_do_not_queue_behind_the_publications_statements(
    publishing: Publishing, app: AppState, no_worker: None
) -> None:
    """Every connection of the publications' pool busy: the worker's lease renewal still runs,
    on its own connection (worker.runner.renew_apart)."""
    user, account = await publishing.user_account()
    lease = datetime.now(UTC) + timedelta(seconds=5)
    post_id = await _publishing_row(publishing, user, account, lease=lease)
    publisher = Publisher(app)
    renewals = renew_apart(publisher)
    pool = await app.driver_pool()
    busy = [await pool.acquire() for _ in range(pool.get_max_size())]
    attempt = Attempt(post=await publishing.get(post_id), lease=lease)
    try:
        async with publisher.leases.hold(attempt):
            # (This renewal or the keeper's own tick: either way on the renewals' connection.)
            await asyncio.wait_for(publisher.leases.renew(), timeout=30)
    finally:
        for conn in busy:
            await pool.release(conn)
        await renewals.close()
    assert attempt.lease > lease and not attempt.lost
    assert (await publishing.get(post_id)).lease_expires_at == attempt.lease
