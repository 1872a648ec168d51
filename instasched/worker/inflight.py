"""Publications in flight: bounded per account across every worker process and host, and per
process by `WORKER_MAX_IN_FLIGHT` (the bullmq concurrency), not by a small constant.

A publication mostly waits on Instagram (three Graph calls of 0.3-3 s for an image post) and holds
no database connection meanwhile (`Publisher.connect` in publishing/service.py takes one per
statement), so a process can wait on thousands at once; what bounds them is memory
(docs/performance.md has the RSS at the peak) and, per account, Meta: its rate and publishing
limits, and a publication of one account at a time (`WORKER_MAX_IN_FLIGHT_PER_ACCOUNT`, 1)
unless more is measured to be safe.

`AccountGate` holds an account's slots in Redis, so it works across processes and hosts:
- a slot is a member of the account's sorted set (`instasched:account-slots:<prefix>:<id>`),
  scored by its expiry in Redis's clock; taking one is one script (drop the expired members, add
  ours if fewer than the bound are left); a live process renews its slots every third of their
  ttl (the worker's is the lease's length, `PUBLISH_LEASE_SECONDS`; `SLOT_TTL_SECONDS`
  otherwise), so the slots of a process that died free themselves within that time, when its
  posts' leases expire: a take-over waits for the account's slot (worker/reconciler.py);
- a process that finds the account full marks it (a key); giving a slot back of a marked
  account publishes the account id on one channel per deployment (unmarked ones, the common
  case, send nothing); every process listens on it (one connection) and wakes its own waiters
  for that account, which try again (and, should a message be lost, every `RETRY_SECONDS`);
- within a process, the account's waiters queue on a local semaphore first, so at most the
  bound of them ask Redis; the others wait their turn without a round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from instasched.kit.redis import client as redis_client

log = logging.getLogger("instasched.worker.inflight")

SLOT_KEY = "instasched:account-slots"
FREE_CHANNEL = "instasched:account-free"
# A slot not renewed for this long is free again (its process died).
SLOT_TTL_SECONDS = 15.0
# A waiter tries again this often even without a message (a lost one, a dead holder's expiry).
RETRY_SECONDS = 1.0

# KEYS[1] the account's slots, KEYS[2] its "someone waits" mark; ARGV: bound, ttl ms, member.
# 1 when the slot was taken; else the mark is set, so that the slot's release announces itself.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
redis.call('SET', KEYS[2], '1', 'PX', tonumber(ARGV[2]))
return 0
"""
# KEYS[1] the account's slots, KEYS[2] its mark, KEYS[3] the channel; ARGV: member, account id.
# Announced only when someone waits (most releases have no waiter: no message to every process).
_GIVE_BACK = """
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('DEL', KEYS[2]) == 1 then
  redis.call('PUBLISH', KEYS[3], ARGV[2])
end
return removed
"""
# KEYS[1] the account's slots; ARGV: ttl ms, member. 0 when the slot had expired meanwhile.
_RENEW = """
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""


@dataclass
class _Account:
    """One account's waiters in this process."""

    turn: asyncio.Semaphore
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    users: int = 0


class AccountGate:
    """At most `per_account` publications of one account at a time, across processes."""

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str,
        per_account: int,
        ttl_seconds: float = SLOT_TTL_SECONDS,
    ) -> None:
        # Its own client: the listener's connection blocks, without the app's socket timeout.
        self.redis = redis_client(redis_url, decode_responses=True)  # Sentinel URLs too
        self.per_account = per_account
        self.ttl_ms = int(ttl_seconds * 1000)
        self.prefix = prefix
        self.channel = f"{FREE_CHANNEL}:{prefix}"
        self._take = self.redis.register_script(_TAKE)
        self._give_back = self.redis.register_script(_GIVE_BACK)
        self._renew = self.redis.register_script(_RENEW)
        self._accounts: dict[uuid.UUID, _Account] = {}
        self._held: dict[str, str] = {}  # member -> key
        self._ids = itertools.count()
        self._process = secrets.token_hex(6)
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()

    def key(self, account_id: uuid.UUID) -> str:
        return f"{SLOT_KEY}:{self.prefix}:{account_id}"

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="account-gate-listen"),
            asyncio.create_task(self._renew_loop(), name="account-gate-renew"),
        ]
        # Waiters rely on the messages; until subscribed they fall back on RETRY_SECONDS.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=5)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.redis.aclose()

    def queued(self, account_id: uuid.UUID) -> int:
        """Publications of the account in this process: holding a slot or waiting for one."""
        account = self._accounts.get(account_id)
        return account.users if account is not None else 0

    @property
    def held(self) -> int:
        return len(self._held)

    @contextlib.asynccontextmanager
    async def slot(self, account_id: uuid.UUID) -> AsyncIterator[None]:
        """Hold one of the account's slots for the block (waiting for one, if need be)."""
        account = self._accounts.get(account_id)
        if account is None:
            account = self._accounts[account_id] = _Account(asyncio.Semaphore(self.per_account))
        account.users += 1
        try:
            async with account.turn:
                member = await self._acquire(account_id, account)
                try:
                    yield
                finally:
                    await self._release(account_id, member)
        finally:
            account.users -= 1
            if account.users == 0:
                self._accounts.pop(account_id, None)

    async def _acquire(self, account_id: uuid.UUID, account: _Account) -> str:
        key = self.key(account_id)
        member = f"{self._process}:{next(self._ids)}"
        while True:
            account.wake.clear()
            taken = await self._take(
                keys=[key, f"{key}:waiting"], args=[self.per_account, self.ttl_ms, member]
            )
            if taken:
                self._held[member] = key
                return member
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(account.wake.wait(), timeout=RETRY_SECONDS)

    async def _release(self, account_id: uuid.UUID, member: str) -> None:
        key = self._held.pop(member, self.key(account_id))
        try:
            # Shielded: a cancelled publication still gives its slot back at once.
            await asyncio.shield(
                self._give_back(
                    keys=[key, f"{key}:waiting", self.channel], args=[member, str(account_id)]
                )
            )
        except (RedisError, OSError) as exc:  # the slot expires within its ttl
            log.warning("could not give an account slot back: %s", type(exc).__name__)

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                while True:
                    message: Any = await pubsub.get_message(timeout=RETRY_SECONDS)
                    if message is not None:
                        self._wake(message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarted: subscribe again
                log.warning("account gate listener: %s; subscribing again", type(exc).__name__)
                await asyncio.sleep(RETRY_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _wake(self, data: Any) -> None:
        try:
            account_id = uuid.UUID(str(data))
        except ValueError:
            return
        account = self._accounts.get(account_id)
        if account is not None:
            account.wake.set()

    async def _renew_loop(self) -> None:
        interval = self.ttl_ms / 3000
        while True:
            await asyncio.sleep(interval)
            try:
                await self.renew()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("account slots not renewed: %s", type(exc).__name__)

    async def renew(self) -> int:
        """Renew every slot this process holds (one pipelined round trip); answers how many
        had expired meanwhile (their accounts may briefly have one publication more)."""
        held = list(self._held.items())
        if not held:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for member, key in held:
            await self._renew(keys=[key], args=[self.ttl_ms, member], client=pipe)
        results = await pipe.execute()
        # A slot given back meanwhile is not lost (its release removed it).
        lost = sum(
            1
            for (member, _), r in zip(held, results, strict=True)
            if not r and member in self._held
        )
        if lost:
            log.warning("account slots expired before their renewal", extra={"lost": lost})
        return lost
