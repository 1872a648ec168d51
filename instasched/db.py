"""Engine, session factory and the request-scoped session.

The request dependency owns the transaction: it commits after the endpoint returned and before the
response is sent, then runs the after-commit hooks (queue adds). Services never commit.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import orjson
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from instasched.exceptions import ServiceUnavailable

log = logging.getLogger(__name__)
RowT = TypeVar("RowT")

AfterCommit = Callable[[], Awaitable[Any]]
_AFTER_COMMIT_KEY = "after_commit"


# Set on every connection of the app (as the session starts, no round trip per query).
# Without it PostgreSQL may list an account's posts by walking idx_scheduled_posts_scheduled_for
# (or the reconciler's partial index) in time order, filtering by account and fixing the id order
# with an incremental sort, assuming the account's rows are spread evenly in time: with other
# accounts' posts interleaved that read 80,000 rows for one page (273 ms against 0.8 ms,
# measured). With incremental sort off only the composite index gives the (scheduled_for, id)
# order without sorting, so it is always chosen (tests/posts/test_list_plan.py). Needs
# PostgreSQL 13 or newer.
PLANNER_SETTINGS = {"enable_incremental_sort": "off"}
# Every connection of the app, the engine's and the driver pool's alike.
SERVER_SETTINGS = {"application_name": "instasched", **PLANNER_SETTINGS}


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    engine = create_async_engine(
        url,
        # The same maximum as pool_size + pool_size overflow, all kept open: an overflow
        # connection is closed when returned to a full pool and opened again at the next peak (a
        # new PostgreSQL backend each time; under 50 concurrent requests or publications that
        # churn cost ~2 ms of PostgreSQL CPU per request, measured by bench/run).
        pool_size=pool_size * 2,
        max_overflow=0,
        # No pool_pre_ping: its SELECT 1 is a round trip on every checkout (~5 % of the
        # worker's CPU per publication, measured). `_drop_closed_connection` below catches what
        # it caught in practice, a connection the server closed (restart, idle kill).
        pool_recycle=1800,
        # JSONB columns decoded by orjson (the stdlib decoder was ~4 % of a list request's CPU).
        json_deserializer=orjson.loads,
        echo=echo,
        connect_args={"server_settings": SERVER_SETTINGS},
    )
    event.listen(engine.sync_engine, "checkout", _drop_closed_connection)
    return engine


async def create_driver_pool(engine: AsyncEngine, *, max_size: int) -> asyncpg.Pool:
    """asyncpg's own pool on the engine's database, for the worker's per-publication statements
    (publishing/repository.py), each its own transaction, and the API's reads and single-statement
    writes outside a session's transaction (`driver_connection`).

    A checkout from SQLAlchemy's pool costs ~120 µs of CPU and asyncpg's default pool ~105 µs (its
    release sends a RESET ALL round trip); this pool, whose statements leave no session state to
    reset, ~40 µs (measured), three times per publication. Connections are set up as the
    engine's: same address and credentials, server settings, and JSON codecs (JSON text in,
    orjson out), so the repository's statements run unchanged on either. A connection the server
    closed is replaced by asyncpg at acquire.
    """
    args, params = engine.dialect.create_connect_args(engine.url)
    params.pop("prepared_statement_cache_size", None)  # SQLAlchemy's adapter option
    params.pop("async_creator_fn", None)
    return await asyncpg.create_pool(
        *args,
        **params,
        min_size=1,
        max_size=max_size,
        server_settings=SERVER_SETTINGS,
        init=_json_codecs,
        reset=_no_reset,
    )


async def _json_codecs(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "json", encoder=str.encode, decoder=orjson.loads, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda text: b"\x01" + text.encode(),  # the binary format's version byte
        decoder=lambda data: orjson.loads(data[1:]),
        schema="pg_catalog",
        format="binary",
    )


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Nothing to reset: the pool's statements set no session state (an open transaction is
    still rolled back by asyncpg before this)."""


def _drop_closed_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection whose socket the server has closed is replaced at checkout.

    asyncpg learns of a server-side close as soon as the event loop sees the socket's EOF, so
    `is_closed()` answers without a round trip. The pool retries the checkout with a new
    connection when this raises `DisconnectionError`. A connection that dies mid-request is
    still an error for that request (503), and SQLAlchemy then invalidates the whole pool.
    """
    raw = getattr(dbapi_connection, "driver_connection", None)
    if raw is not None and raw.is_closed():
        raise DisconnectionError("connection closed by the server")


DriverPool = Callable[[], Awaitable[asyncpg.Pool]]
_DRIVER_POOL_KEY = "driver_pool"
_DRIVER_CONNECTION_KEY = "driver_connection"


async def driver_connection(session: AsyncSession, *, write: bool = False) -> Any:
    """An asyncpg connection for the few hot statements where SQLAlchemy's per-statement cost
    matters (~200 µs of CPU against ~45 µs for the same query through asyncpg, measured): the
    ORM is bypassed, not the transaction.

    - Once the session has begun (any ORM use, or a `write=True` call), it is the connection under
      the session, so a statement here sees and joins the session's transaction.
    - Before that, a read (`write=False`) of a request session (`session_scope(...,
      driver_pool=...)`) runs on a connection of the driver pool, acquired at first use and held
      until the session ends: a request that only reads, or writes in one statement (a new post),
      never checks out a SQLAlchemy connection (~120 µs against ~40 µs) or opens its session
      transaction (~200 µs more). Reads here are single statements outside any transaction, as
      they were on the session's connection before its BEGIN.

    SQLAlchemy sends BEGIN lazily, with its first statement. `write=True` makes sure it has been
    sent, so a write here commits or rolls back with the session's other changes even when it
    is the session's first statement.
    """
    if not write and not session.in_transaction():
        held = session.info.get(_DRIVER_CONNECTION_KEY)
        if held is not None:
            return held
        pool_of = session.info.get(_DRIVER_POOL_KEY)
        if pool_of is not None:
            conn = await (await pool_of()).acquire()
            session.info[_DRIVER_CONNECTION_KEY] = conn
            return conn
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    adapted = raw.dbapi_connection
    if write and adapted is not None and getattr(adapted, "_transaction", True) is None:
        await adapted._start_transaction()  # what SQLAlchemy's own first statement would do
    return raw.driver_connection


async def _release_driver_connection(session: AsyncSession) -> None:
    conn = session.info.pop(_DRIVER_CONNECTION_KEY, None)
    if conn is not None:
        pool_of: DriverPool = session.info[_DRIVER_POOL_KEY]
        await (await pool_of()).release(conn)


async def release_connections(session: AsyncSession) -> None:
    """Return every connection the session holds, before a long wait without the database (a
    streamed upload body, publish-now's wait for the worker): a driver connection held since
    the user lookup (`driver_connection`) and the session's read-only transaction. Without
    this, 25 uploads sending 100 B/s held every connection of the pool and other users'
    requests waited for them (issue 24). A later statement checks a connection out again.
    """
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("release_connections would drop the session's pending changes")
    if session.in_transaction():
        await session.rollback()
    await _release_driver_connection(session)


async def add_row(session: AsyncSession, row: RowT) -> RowT:
    """Add a new ORM row, write it (flush) and read it back (refresh: what the database filled
    in, e.g. `created_at`)."""
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def after_commit(session: AsyncSession, hook: AfterCommit, *, timeout: float | None = None) -> None:
    """Run `hook` once the session's transaction has committed (dropped on rollback).

    With `timeout`, a hook that has not finished by then is abandoned (and logged), so a server
    that does not answer cannot hold the response.
    """
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append((hook, timeout))


async def run_after_commit_hooks(session: AsyncSession) -> None:
    hooks: list[tuple[AfterCommit, float | None]] = session.info.pop(_AFTER_COMMIT_KEY, [])
    for hook, timeout in hooks:
        try:
            await asyncio.wait_for(hook(), timeout=timeout)
        except TimeoutError:
            log.warning(
                "after-commit hook did not finish in %.0f s; the reconciler will repair it",
                timeout,
            )
        except Exception:  # the reconciler repairs whatever a hook failed to do
            log.exception("after-commit hook failed; the reconciler will repair it")


def discard_after_commit_hooks(session: AsyncSession) -> None:
    session.info.pop(_AFTER_COMMIT_KEY, None)


async def _commit(session: AsyncSession) -> None:
    """Commit; a failed commit drops the after-commit hooks."""
    try:
        await session.commit()
    except BaseException:
        discard_after_commit_hooks(session)
        raise


async def commit(session: AsyncSession) -> None:
    """Commit, then run the after-commit hooks; the session holds no connection afterwards."""
    await _commit(session)
    await _release_driver_connection(session)
    await run_after_commit_hooks(session)


async def session_scope(
    factory: async_sessionmaker[AsyncSession], *, driver_pool: DriverPool | None = None
) -> AsyncGenerator[AsyncSession, None]:
    """A unit of work: commit on success (then hooks), roll back on error.

    With `driver_pool` (the request sessions of the API), reads through `driver_connection`
    before the session begins use a connection of that pool, returned before the hooks run.
    """
    async with factory() as session:
        if driver_pool is not None:
            session.info[_DRIVER_POOL_KEY] = driver_pool
        try:
            try:
                yield session
            except BaseException:
                discard_after_commit_hooks(session)
                await session.rollback()
                raise
            if session.in_transaction():
                try:
                    await _commit(session)
                except (OperationalError, DBAPIError, OSError) as exc:
                    if is_connection_error(exc):
                        raise ServiceUnavailable(
                            "The database is unavailable; try again in a moment",
                            detail={"component": "database"},
                        ) from exc
                    raise
        finally:
            await _release_driver_connection(session)
        await run_after_commit_hooks(session)


_CONNECTION_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
    errno.EPIPE,
}


def is_connection_error(exc: BaseException) -> bool:
    """A lost or refused database connection, not any OSError: a file name too long or a full
    disk is a bug or an outage of another kind, not "the database is unavailable"."""
    if isinstance(exc, OSError):
        if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
            return True
        return exc.errno in _CONNECTION_ERRNOS
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):  # a query through
        # driver_connection: class 08 (connection exception), 57P01-03 (server shut down)
        state = str(getattr(exc, "sqlstate", None) or "")
        return (
            state.startswith("08")
            or state in ("57P01", "57P02", "57P03")
            or "connection is closed" in str(exc).lower()
        )
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    text = str(exc).lower()
    return any(
        marker in text
        for marker in (
            "connection refused",
            "connection was closed",
            "connection is closed",
            "cannot connect",
            "the database system is",
            "terminating connection",
            "connectiondoesnotexist",
            "connection_lost",
        )
    )
