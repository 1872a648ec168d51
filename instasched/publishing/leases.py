"""Lease renewal of every publication in flight in one process: one UPDATE a second at most.

Each publication holds its post with a lease (`PUBLISH_LEASE_SECONDS`), renewed every third of it
while it works, so a dead worker's posts are taken over within a lease (worker/reconciler.py).
A renewal per publication (a timer and an UPDATE each) cost ~300 statements a second per
process at 1,000 publications in flight (WORKER_MAX_IN_FLIGHT), each waiting for a pooled
connection. Here one task per process renews, once a second, every lease due for renewal (a
third of its length old) in one statement, fenced as before: a row whose lease changed (taken
over) is not renewed, and its publication learns it has lost the post.

A publication writing right now (its `lock` taken) is renewed at the next tick; a renewal that
fails (a database blip) is tried again at the next tick. The renewal takes its connection
before the attempts' locks, so a publication's write never waits while the renewal waits for
a connection; in the worker the renewals have a connection of their own
(`RenewalConnections`), apart from the pool of the publications' statements.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from instasched.db import create_driver_pool, is_connection_error
from instasched.kit.time import utcnow
from instasched.publishing import repository

log = logging.getLogger("instasched.publishing")

TICK_SECONDS = 1.0


class Held(Protocol):
    """What the keeper needs of an attempt (publishing.attempt.Attempt)."""

    lease: datetime
    lost: bool
    lock: asyncio.Lock

    @property
    def post_id(self) -> uuid.UUID: ...


class LeaseKeeper:
    def __init__(
        self,
        connect: Callable[[], AbstractAsyncContextManager[Any]],
        *,
        length: timedelta,
        staging: bool = False,
    ) -> None:
        self.connect = connect
        # The staging leases of `scheduled` posts being staged ahead (publishing/stager.py)
        # rather than the leases of `publishing` posts.
        self.staging = staging
        self.length = length
        self.every = timedelta(seconds=max(1.0, length.total_seconds() / 3))
        self._held: dict[int, Held] = {}
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def hold(self, attempt: Held) -> AsyncIterator[None]:
        """Keep the attempt's lease renewed for the block."""
        self._held[id(attempt)] = attempt
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="lease-keeper")
        try:
            yield
        finally:
            self._held.pop(id(attempt), None)

    async def _run(self) -> None:
        while self._held:
            await asyncio.sleep(TICK_SECONDS)
            try:
                await self.renew()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a database blip: the next tick tries again
                if is_connection_error(exc):
                    log.warning("lease renewal failed: database unavailable")
                else:
                    log.exception("lease renewal failed")

    def _due(self) -> list[Held]:
        now = utcnow()
        return [
            attempt
            for attempt in list(self._held.values())
            if not attempt.lost
            and not attempt.lock.locked()
            and attempt.lease - now <= self.length - self.every
        ]

    async def renew(self) -> int:
        """Renew the leases due for it (one statement); answers how many were renewed."""
        if not self._due():
            return 0
        # The connection first: the attempts' locks are held for the statement only, not while
        # waiting for a connection (their writes would wait behind it).
        async with self.connect() as conn:
            due = self._due()  # again: some may be writing now
            for attempt in due:
                await attempt.lock.acquire()  # free (checked above): taken without waiting
            try:
                new_lease = utcnow() + self.length
                renewed = await repository.renew_leases(
                    conn,
                    [(a.post_id, a.lease) for a in due],
                    lease_until=new_lease,
                    staging=self.staging,
                )
                for attempt in due:
                    if attempt.post_id in renewed:
                        attempt.lease = new_lease
                    else:
                        attempt.lost = True  # taken over: its next write stops it
                return len(renewed)
            finally:
                for attempt in due:
                    attempt.lock.release()


class RenewalConnections:
    """The lease renewals' own connection (an asyncpg pool of one, opened at first use).

    In the pool of the publications' statements a renewal queued behind them: bench/run's
    inflight rows (1,500 posts, 2 connections per worker process, load average ~12) saw
    renewals wait up to 5.4 s for a connection, past the lease's slack (two thirds of it,
    3.3 s at PUBLISH_LEASE_SECONDS=5), and leases expired under live workers. One connection
    per worker process more (both keepers, one statement a second each at most).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._pool: Any = None
        self._opening = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[Any]:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await create_driver_pool(self.engine, max_size=1)
        async with self._pool.acquire() as conn:
            yield conn

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
