"""Leases and account slots of publications in flight under load (issue 17: "per account at
most 3" Graph calls waiting at once in bench/run's 10,000-post row, docs/performance.md
"Publications in flight").

Under load a lease renewal waits (for a pooled connection, for the CPU) while it holds the
attempts' locks; a publication's write that waited on that lock must fence with the renewed
lease, not the one it read before waiting. A post taken over while its first worker may still
be waiting on Instagram is taken over under the account's slot, so the account keeps one
publication at a time. Checks are orderings and counts, never durations.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest

from instasched.config import Settings
from instasched.models import ScheduledPost
from instasched.publishing.leases import LeaseKeeper
from instasched.publishing.service import Attempt, Publisher
from instasched.state import AppState
from instasched.worker.inflight import AccountGate
from instasched.worker.reconciler import Reconciler
from instasched.worker.runner import renew_apart
from tests.factories import Account, User
from tests.publishing.conftest import Publishing


@pytest.fixture
async def app(app_settings: Settings, live_server: Any) -> AsyncIterator[AppState]:
    """A worker's state, to play its part (as in test_inflight.py)."""
    state = await AppState.create(app_settings)
    try:
        yield state
    finally:
        await state.close()


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
