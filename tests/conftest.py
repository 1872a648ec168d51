"""Test fixtures: real PostgreSQL, Redis and S3 (embedded unless the URLs are set), a live server.

Isolation: each run gets its own database (`instasched_test_<hex>`, migrated with Alembic and
dropped at the end), its own queue prefix in Redis and its own S3 bucket, so several runs can
share servers. Tests isolate from each other by creating their own users (unique emails).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from instasched.config import Settings, database_url_for, normalise_database_url
from instasched.embedded import EmbeddedServers
from instasched.embedded._proc import free_port
from instasched.kit.http_limits import uvicorn_options
from tests.factories import Api

RUN_ID = secrets.token_hex(4)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last. Sync Playwright leaves its event loop running in the main thread,
    and an async test after it fails with "Runner.run() cannot be called from a running event
    loop" (tests/workspaces, sorted after tests/web, did). The sort is stable: each group keeps
    its order."""
    items.sort(key=lambda item: item.nodeid.replace("\\", "/").startswith("tests/web/"))


@pytest.fixture(scope="session")
def servers() -> Iterator[dict[str, str]]:
    """URLs of real servers: from the environment, else embedded ones started for this run."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k in ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY")
    }
    # A private folder, not pytest's basetemp: another pytest run on this machine prunes old
    # basetemp folders, which would pull the data dir from under a running PostgreSQL.
    root = Path(tempfile.mkdtemp(prefix="instasched-test-servers-"))
    embedded = EmbeddedServers(root, database="postgres")
    env.update(
        embedded.start(
            need_postgres="DATABASE_URL" not in env,
            need_redis="REDIS_URL" not in env,
            need_s3="S3_ENDPOINT" not in env,
        )
    )
    try:
        yield env
    finally:
        embedded.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(servers: dict[str, str]) -> Iterator[str]:
    """A fresh database for this run, migrated to head with Alembic; dropped afterwards."""
    import asyncpg

    admin_url = servers["DATABASE_URL"]
    name = f"instasched_test_{RUN_ID}"
    plain = admin_url.replace("postgresql+asyncpg://", "postgresql://")

    async def _admin(sql: str) -> None:
        conn = await asyncpg.connect(plain)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = database_url_for(admin_url, name)
    from instasched.migrate import upgrade

    upgrade(url)
    try:
        yield normalise_database_url(url)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def app_settings(servers: dict[str, str], database_url: str) -> Iterator[Settings]:
    port = free_port()
    # The run's own data dir: the sandbox keeps its state there (sandbox.sqlite3).
    data_dir = Path(tempfile.mkdtemp(prefix="instasched-test-data-"))
    yield Settings(
        environment="test",
        host="127.0.0.1",
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        database_pool_size=5,
        redis_url=servers["REDIS_URL"],
        queue_prefix=f"test{RUN_ID}",
        s3_endpoint=servers["S3_ENDPOINT"],
        s3_access_key=servers.get("S3_ACCESS_KEY"),
        s3_secret_key=servers.get("S3_SECRET_KEY"),
        s3_bucket=f"test-{RUN_ID}",
        jwt_secret="test-secret-" + RUN_ID + "-" + "x" * 32,
        token_encryption_key=Fernet.generate_key().decode(),
        instagram_sandbox="true",
        instagram_app_id=None,
        instagram_app_secret=None,
        schedule_min_lead_seconds=300,
        publish_retry_base_seconds=0.2,
        sandbox_video_processing_seconds=0.3,
        reconcile_interval_seconds=1.0,
        # Pre-staged containers (docs/staging.md): a minute ahead for every kind, so the
        # staging tests (tests/publishing/test_staging.py) stage posts due in seconds.
        staging_lead_seconds_image=60.0,
        staging_lead_seconds_video=60.0,
        staging_lead_seconds_carousel=60.0,
        # The insights tests run their passes themselves (tests/publishing/test_insights.py).
        insights_refresh_interval_seconds=3600.0,
        log_format="console",
        login_max_failures=10,
        register_max_per_hour=100_000,  # every test registers its users from 127.0.0.1
        admin_emails="ops-admin@example.com",
        # Webhooks are delivered to receivers on 127.0.0.1 (tests/automation), retried quickly.
        webhook_allow_private_targets=True,
        webhook_retry_base_seconds=0.2,
        webhook_poll_interval_seconds=0.2,
    )
    shutil.rmtree(data_dir, ignore_errors=True)


class LiveServer:
    """The real app (API + mounted sandbox) served by uvicorn in a thread, over real HTTP."""

    def __init__(self, settings: Settings) -> None:
        from instasched.app import create_app, proxy_options

        self.settings = settings
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=settings.port,
            log_level="warning",
            lifespan="on",
            loop="asyncio",
            **proxy_options(settings),  # as `instasched api` serves it
            **uvicorn_options(settings),  # the header / body limits `instasched api` runs with
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)
        self.url = f"http://127.0.0.1:{settings.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    @property
    def state(self) -> Any:
        return self.app.state.instasched


@pytest.fixture(scope="session")
def live_server(app_settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(app_settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        _drop_bucket(app_settings)


def _drop_bucket(settings: Settings) -> None:
    from instasched.integrations.storage import Storage

    async def _drop() -> None:
        storage = Storage.for_settings(settings)
        await storage.start()
        try:
            keys = [o.key for o in await storage.list_keys()]
            await storage.delete(*keys)
            await storage.client.delete_bucket(Bucket=settings.s3_bucket)
        except Exception:
            pass
        finally:
            await storage.close()

    asyncio.run(_drop())


class BackgroundWorker:
    """`run_worker(settings)` (bullmq worker + reconciler) in a thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._setup()

    def _setup(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.bullmq: Any = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name="publish-worker", daemon=True)

    def _main(self) -> None:
        from instasched.worker.runner import run_worker

        asyncio.set_event_loop(self.loop)
        self._stop = asyncio.Event()

        def started(worker: Any) -> None:
            self.bullmq = worker
            self._started.set()

        try:
            self.loop.run_until_complete(
                run_worker(self.settings, stop=self._stop, on_started=started)
            )
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._started.set()

    def start(self) -> None:
        self.thread.start()
        if not self._started.wait(60) or self._error is not None:
            raise RuntimeError(f"the worker did not start: {self._error!r}")

    def call(self, coro: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the worker's loop (e.g. `worker.bullmq.pause()`)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def pause(self) -> None:
        self.call(self.bullmq.pause(True))

    def resume(self) -> None:
        self.loop.call_soon_threadsafe(self.bullmq.resume)

    def stop(self) -> None:
        if self._stop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(60)

    def restart(self) -> None:
        self.stop()
        self._setup()
        self.start()


_WORKERS: list[BackgroundWorker] = []


@pytest.fixture
def no_worker() -> Iterator[None]:
    """For tests that play the worker's part themselves (or need a job to stay in Redis): the
    session worker, if a test before started it, is stopped meanwhile and started again after."""
    running = [w for w in _WORKERS if w.thread.is_alive()]
    for background in running:
        background.stop()
    try:
        yield
    finally:
        for background in running:
            background.restart()


@pytest.fixture(scope="session")
def worker(live_server: LiveServer, app_settings: Settings) -> Iterator[BackgroundWorker]:
    """The publishing worker, running against the live server's sandbox for the whole session."""
    background = BackgroundWorker(app_settings)
    background.start()
    _WORKERS.append(background)
    try:
        yield background
    finally:
        _WORKERS.remove(background)
        background.stop()


@pytest.fixture(scope="session")
async def http(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
async def api(http: httpx.AsyncClient) -> Api:
    """Helpers that drive the public API (register users, connect sandbox accounts, ...)."""
    return Api(http)


@pytest.fixture(scope="session")
async def db_engine(database_url: str) -> AsyncIterator[Any]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db(db_engine: Any) -> AsyncIterator[AsyncSession]:
    """A session on the test database, for inspecting rows the API wrote."""
    factory = async_sessionmaker(db_engine, expire_on_commit=False)
    async with factory() as session:
        yield session


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A private INSTASCHED_DATA_DIR for one test (e.g. a sandbox state of its own)."""
    path = Path(tempfile.mkdtemp(prefix="instasched-test-data-dir-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class SandboxApps:
    """Sandbox apps (`create_sandbox_app`) served in-process through httpx's ASGI transport."""

    def __init__(self) -> None:
        self.made: list[Any] = []

    def client(self, settings: Settings) -> httpx.AsyncClient:
        """A client of a new sandbox app on `settings` (its data dir holds the state)."""
        from instasched.sandbox.app import create_sandbox_app

        app = create_sandbox_app(settings)
        self.made.append(app)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")


@pytest.fixture
async def sandbox_apps() -> AsyncIterator[SandboxApps]:
    apps = SandboxApps()
    yield apps
    for app in apps.made:
        await app.state.sandbox.shutdown()
