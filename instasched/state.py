"""Process-wide clients, created once in the app's lifespan (or the worker's start)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from instasched.config import Settings
from instasched.db import create_driver_pool, create_engine, create_session_factory
from instasched.integrations.instagram import GraphClient, login_kinds
from instasched.integrations.storage import Storage
from instasched.kit.redis import client as redis_client
from instasched.observability.alerts import AlertSender
from instasched.observability.events import Events
from instasched.security import TokenCipher
from instasched.worker.queue import PublishQueue


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    queue: PublishQueue
    storage: Storage
    graph: GraphClient
    cipher: TokenCipher
    events: Events = field(default_factory=Events)
    extras: dict[str, Any] = field(default_factory=dict)
    _driver_pool: asyncpg.Pool | None = None
    _driver_pool_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def driver_pool(self) -> asyncpg.Pool:
        """The asyncpg pool (`db.create_driver_pool`) of the worker's statements and the API's
        reads before a request's session begins (`db.driver_connection`), opened at first use."""
        if self._driver_pool is None:
            async with self._driver_pool_lock:
                if self._driver_pool is None:
                    self._driver_pool = await create_driver_pool(
                        self.engine, max_size=self.settings.database_pool_size * 2
                    )
        return self._driver_pool

    @classmethod
    async def create(cls, settings: Settings) -> AppState:
        engine = create_engine(
            settings.require_database_url(), pool_size=settings.database_pool_size
        )
        redis_url = settings.require_redis_url()
        storage = Storage.for_settings(settings)
        await storage.start()
        if not settings.token_encryption_key:
            raise RuntimeError("TOKEN_ENCRYPTION_KEY is not set")
        alerts = AlertSender(settings.alert_webhook_url)
        alerts.start()
        return cls(
            settings=settings,
            events=Events(alerts),
            engine=engine,
            session_factory=create_session_factory(engine),
            # Timeouts: a hung Redis must not hold a request (kit/redis.bounded bounds the
            # call with its retries). Blocking commands use the queue's own connections.
            redis=redis_client(
                redis_url,
                decode_responses=True,
                socket_timeout=settings.redis_timeout_seconds,
                socket_connect_timeout=settings.redis_timeout_seconds,
            ),
            queue=PublishQueue(
                redis_url,
                prefix=settings.queue_prefix,
                attempts=settings.publish_max_attempts,
                backoff_ms=int(settings.publish_retry_base_seconds * 1000),
                horizon_seconds=settings.dispatch_horizon_seconds,
            ),
            storage=storage,
            graph=graph_client_for(settings),
            cipher=TokenCipher(settings.token_encryption_key),
        )

    def graph_for(self, login_kind: str) -> GraphClient:
        """The Graph client of an account's login kind (its host, its parameters)."""
        return self.graph.for_kind(login_kind)

    async def close(self) -> None:
        await self.events.alerts.stop()
        await self.graph.close()
        await self.queue.close()
        await self.storage.close()
        await self.redis.aclose()
        if self._driver_pool is not None:
            await self._driver_pool.close()
            self._driver_pool = None
        await self.engine.dispose()


def graph_client_for(settings: Settings, *, login_kind: str = login_kinds.INSTAGRAM) -> GraphClient:
    """The client of one Graph host: graph.instagram.com (Instagram Login) or graph.facebook.com
    (Facebook Login); in sandbox mode the sandbox plays both (`/facebook` is its
    graph.facebook.com). Its `for_kind` makes the other one with the same settings."""
    client = _graph_client(settings, login_kind)
    client.sibling_factory = lambda kind: _graph_client(settings, kind)
    return client


def _graph_client(settings: Settings, login_kind: str) -> GraphClient:
    base, app_id, app_secret, token_url = _graph_host(settings, login_kind)
    return GraphClient(
        base_url=base,
        version=settings.instagram_api_version,
        app_id=app_id,
        app_secret=app_secret,
        token_url=token_url,
        timeout=settings.graph_timeout_seconds,
        login_kind=login_kind,
        # A connection per publication in flight (each waits on its own call), and some spare.
        max_connections=max(200, settings.worker_max_in_flight + 50),
    )


def _graph_host(
    settings: Settings, login_kind: str
) -> tuple[str, str | None, str | None, str | None]:
    """Where the login kind's Graph API answers, with which app: (base URL, app id, app secret,
    token URL; None: the client's default)."""
    if settings.sandbox_enabled:
        base = sandbox_base_url(settings)
        if login_kind == login_kinds.FACEBOOK:
            base = f"{base}{SANDBOX_FACEBOOK_PREFIX}"
        return base, "sandbox-app", "sandbox-secret", f"{base}/oauth/access_token"
    if login_kind == login_kinds.FACEBOOK:
        return (
            settings.facebook_graph_url,
            settings.facebook_app_id,
            settings.facebook_app_secret,
            None,
        )
    return (
        settings.instagram_graph_url,
        settings.instagram_app_id,
        settings.instagram_app_secret,
        settings.instagram_token_url,
    )


# The sandbox's graph.facebook.com: the same app under this prefix (sandbox/app.py FacebookHost).
SANDBOX_FACEBOOK_PREFIX = "/facebook"


def sandbox_base_url(settings: Settings) -> str:
    """Where the sandbox answers: SANDBOX_URL if set, else /sandbox on this service."""
    return (settings.sandbox_url or f"{settings.base_url}/sandbox").rstrip("/")
