"""Redis on a request's path: bounded in time, and a 503 the client can retry when it fails.

A hung Redis (accepts, never answers) held login and /metrics for 40 s, and a stopped one made
login a 500 (issue 24). The client has socket timeouts (`AppState.create`), but redis-py retries
a timed-out command, so the whole call is bounded here as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from instasched.exceptions import ServiceUnavailable, TooManyRequests
from instasched.kit.text import counted

T = TypeVar("T")

RETRY_AFTER_SECONDS = 5
SENTINEL_SCHEME = "redis+sentinel://"


def is_sentinel_url(url: str) -> bool:
    return url.startswith(SENTINEL_SCHEME)


def client(url: str, **options: Any) -> aioredis.Redis:
    """A client for `REDIS_URL`: `redis://`, `rediss://`, `unix://`, or
    `redis+sentinel://[:password@]host:port[,host:port...]/master_name[/db]` (Redis Sentinel:
    the client asks the sentinels for the master and follows a failover: a connection to a
    demoted master fails and the retry reconnects to the new one)."""
    if not is_sentinel_url(url):
        return aioredis.from_url(url, **options)
    rest = url.removeprefix(SENTINEL_SCHEME)
    rest, _, query = rest.partition("?")
    password: str | None = None
    if "@" in rest:
        auth, rest = rest.rsplit("@", 1)
        password = unquote(auth.partition(":")[2]) or None
    hosts, _, path = rest.partition("/")
    parts = [p for p in path.split("/") if p]
    if not hosts or not parts:
        raise ValueError(
            "a Sentinel REDIS_URL names its sentinels and the master: "
            "redis+sentinel://host:26379,host2:26379/mymaster/0"
        )
    sentinels = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":")
        sentinels.append((name or host, int(port) if name else 26379))
    db = int(parts[1]) if len(parts) > 1 else 0
    sentinel_password = parse_qs(query).get("sentinel_password", [None])[0]
    sentinel_options: dict[str, Any] = {
        k: options[k] for k in ("socket_timeout", "socket_connect_timeout") if k in options
    }
    if sentinel_password:
        sentinel_options["password"] = sentinel_password
    options.setdefault("retry", Retry(ExponentialBackoff(cap=2, base=0.1), 10))
    options.setdefault("retry_on_error", [RedisConnectionError, RedisTimeoutError])
    sentinel = Sentinel(sentinels, sentinel_kwargs=sentinel_options)  # type: ignore[no-untyped-call]
    master: aioredis.Redis = sentinel.master_for(parts[0], db=db, password=password, **options)
    return master


def bullmq_connection(url: str) -> str | aioredis.Redis:
    """What bullmq's `connection` option takes for `REDIS_URL`: the URL itself (bullmq makes its
    own clients), or, for Sentinel, a client bullmq uses as it is (it shares the client's pool
    between its commands and the worker's blocking wait)."""
    if not is_sentinel_url(url):
        return url
    return client(url, decode_responses=True)


async def bounded(call: Awaitable[T], *, wait_seconds: float) -> T:
    """`call`'s result, or `RedisUnavailable` after `wait_seconds` or on a Redis error."""
    try:
        return await asyncio.wait_for(call, timeout=wait_seconds)
    except (TimeoutError, RedisError, OSError) as exc:
        raise RedisUnavailable() from exc


class RedisUnavailable(ServiceUnavailable):
    def __init__(self) -> None:
        super().__init__(
            "A service this request needs (Redis) is unavailable; try again in a moment",
            detail={"component": "redis"},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `max` attempts per `window` seconds under `key`; `refusal` is the 429's message,
    with `{minutes}` filled in ("12 minutes", "1 minute")."""

    key: str
    max: int
    window: int
    refusal: str


async def count_attempt(
    redis: aioredis.Redis, limits: Sequence[Limit], *, wait_seconds: float
) -> None:
    """Count this attempt against every limit, then refuse it (429, Retry-After) if one is over.

    Counting first, in one atomic step per key (INCR), is what makes the limit hold under
    concurrency: read-check-increment let 100 concurrent wrong passwords all be checked against
    a limit of 10 (issue 24). The window starts at a key's first attempt.
    """
    counts = await _count(redis, limits, wait_seconds)
    for limit, (count, reset) in zip(limits, counts, strict=True):
        if count > limit.max:
            raise TooManyRequests(
                limit.refusal.format(minutes=counted(reset // 60 + 1, "minute")),
                headers={"Retry-After": str(reset)},
            )


async def _count(
    redis: aioredis.Redis, limits: Sequence[Limit], wait_seconds: float
) -> list[tuple[int, int]]:
    """Each limit's count with this attempt, and the seconds until its window ends."""
    pipe = redis.pipeline(transaction=True)
    for limit in limits:
        pipe.incr(limit.key)
        pipe.expire(limit.key, limit.window, nx=True)
        pipe.ttl(limit.key)
    results = await bounded(pipe.execute(), wait_seconds=wait_seconds)
    found = []
    for index, limit in enumerate(limits):
        count, _, ttl = results[3 * index : 3 * index + 3]
        found.append((int(count), int(ttl) if int(ttl) > 0 else limit.window))
    return found


async def rate_limit(redis: aioredis.Redis, limit: Limit, *, wait_seconds: float) -> dict[str, str]:
    """Count a request against `limit`: its `RateLimit-*` headers (IETF draft: the limit, what
    is left, seconds until the window ends), or a 429 carrying them and `Retry-After`."""
    [(count, reset)] = await _count(redis, [limit], wait_seconds)
    headers = {
        "RateLimit-Limit": str(limit.max),
        "RateLimit-Remaining": str(max(0, limit.max - count)),
        "RateLimit-Reset": str(reset),
    }
    if count > limit.max:
        raise TooManyRequests(
            limit.refusal.format(seconds=counted(reset, "second")),
            headers={**headers, "Retry-After": str(reset)},
        )
    return headers


# DECR only a live counter: a counter that expired meanwhile is not recreated without a TTL.
_TAKE_BACK = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end"


async def forget_attempt(
    redis: aioredis.Redis, *, reset: Sequence[str], take_back: Sequence[str], wait_seconds: float
) -> None:
    """After a success: delete the `reset` counters, take this attempt back from `take_back`'s."""
    pipe = redis.pipeline(transaction=True)
    if reset:
        pipe.delete(*reset)
    for key in take_back:
        pipe.eval(_TAKE_BACK, 1, key)
    await bounded(pipe.execute(), wait_seconds=wait_seconds)
