"""Publications in flight (worker/inflight.py): one per account at a time across processes, many
at once per process (beyond the old 50), and none holding a database connection while it waits
on Instagram.

Latency comes from the sandbox (`latencyMs` faults); the checks are orderings and counts (the
sandbox's peak of calls waiting at once), never durations.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

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


@pytest.fixture
async def app(app_settings: Settings, live_server: Any) -> AsyncIterator[AppState]:
    """A worker's state, to play its part (as in test_staging.py)."""
    state = await AppState.create(app_settings)
    try:
        yield state
    finally:
        await state.close()


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
