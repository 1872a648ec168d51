"""Periodic worker tasks run once per interval across every worker process."""

from __future__ import annotations

import asyncio
import secrets
from types import SimpleNamespace
from typing import Any

import redis.asyncio as redis

from instasched.config import Settings
from instasched.worker.runner import RECONCILE_LOCK, _first_this_interval


async def test_one_worker_per_interval_gets_the_periodic_task(app_settings: Settings) -> None:
    client = redis.from_url(app_settings.require_redis_url())
    try:
        prefix = "locks-" + secrets.token_hex(4)
        workers: list[Any] = [
            SimpleNamespace(redis=client, settings=SimpleNamespace(queue_prefix=prefix))
            for _ in range(3)
        ]
        first = await asyncio.gather(
            *(_first_this_interval(w, RECONCILE_LOCK, 1.0) for w in workers)
        )
        assert sorted(first) == [False, False, True]
        # The key expires before the next interval: the next pass is taken again (by one).
        await asyncio.sleep(0.6)
        again = await asyncio.gather(
            *(_first_this_interval(w, RECONCILE_LOCK, 1.0) for w in workers)
        )
        assert sorted(again) == [False, False, True]
        # Another deployment (queue prefix) has its own lock.
        other: Any = SimpleNamespace(
            redis=client, settings=SimpleNamespace(queue_prefix=prefix + "x")
        )
        assert await _first_this_interval(other, RECONCILE_LOCK, 1.0)
    finally:
        await client.aclose()
