"""instasched.db: which errors mean "the database is unavailable", and the pool's liveness check."""

from __future__ import annotations

import asyncio
import errno
import secrets
import uuid

import asyncpg
import pytest
from sqlalchemy import text

from instasched.db import (
    create_driver_pool,
    create_engine,
    create_session_factory,
    driver_connection,
    is_connection_error,
    session_scope,
)


def test_asyncpg_errors_of_a_lost_connection_are_connection_errors() -> None:
    # What a query through driver_connection raises when PostgreSQL goes away mid-request.
    assert is_connection_error(asyncpg.exceptions.ConnectionDoesNotExistError("gone"))
    assert is_connection_error(asyncpg.exceptions.AdminShutdownError("terminating connection"))
    assert is_connection_error(asyncpg.exceptions.CannotConnectNowError("starting up"))
    assert is_connection_error(asyncpg.exceptions.InterfaceError("connection is closed"))
    # A broken query is a bug, not an outage.
    assert not is_connection_error(asyncpg.exceptions.UndefinedTableError("no table"))
    assert not is_connection_error(asyncpg.exceptions.InterfaceError("wrong argument count"))
    assert not is_connection_error(OSError(errno.ENAMETOOLONG, "name too long"))
    assert is_connection_error(OSError(errno.ECONNREFUSED, "refused"))


async def test_a_connection_the_server_closed_is_replaced_at_checkout(database_url: str) -> None:
    """No SELECT 1 per checkout: a pooled connection the server terminated is noticed by asyncpg
    and swapped for a new one, so the next request does not fail."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        killer = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await killer.close()
        await asyncio.sleep(0.3)  # the event loop reads the server's close (EOF) meanwhile
        async with engine.connect() as conn:  # would fail with "connection was closed" before
            new_pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert new_pid != pid
    finally:
        await engine.dispose()


async def test_a_write_through_the_driver_rolls_back_with_the_session(database_url: str) -> None:
    """driver_connection(write=True) as the session's first statement still runs inside the
    session's transaction (SQLAlchemy sends BEGIN lazily, with its own first statement)."""
    engine = create_engine(database_url, pool_size=1)
    factory = create_session_factory(engine)
    table = f"driver_write_{secrets.token_hex(4)}"
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE TABLE {table} (n int)"))
        async with factory() as session:
            raw = await driver_connection(session, write=True)
            assert raw.is_in_transaction()
            await raw.execute(f"INSERT INTO {table} VALUES (1)")
            await session.rollback()
        async with factory() as session:
            raw = await driver_connection(session, write=True)
            await raw.execute(f"INSERT INTO {table} VALUES (2)")
            await session.commit()
        async with factory() as session:
            reader = await driver_connection(session)  # a read: no BEGIN sent for it
            assert not reader.is_in_transaction()
            assert await reader.fetch(f"SELECT n FROM {table}") == [(2,)]
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await engine.dispose()


async def test_the_driver_pool_is_set_up_like_the_engine(database_url: str) -> None:
    """The worker's asyncpg pool: JSON text in and Python values out (as on the engine's
    connections, so the publishing statements run on either), the planner setting, no reset
    round trip at release, and a connection the server closed replaced at acquire."""
    engine = create_engine(database_url, pool_size=1)
    pool = await create_driver_pool(engine, max_size=1)
    try:
        async with pool.acquire() as conn:
            value = await conn.fetchval("SELECT $1::jsonb", '{"a": [1, "x"]}')
            assert value == {"a": [1, "x"]}
            assert await conn.fetchval("SELECT $1::json", "[true]") == [True]
            assert await conn.fetchval("SHOW enable_incremental_sort") == "off"
            assert await conn.fetchval("SELECT current_setting('application_name')") == (
                "instasched"
            )
            await conn.execute("SET statement_timeout = '7s'")
            pid = await conn.fetchval("SELECT pg_backend_pid()")
        async with pool.acquire() as conn:  # the same connection, not reset (one at most)
            assert await conn.fetchval("SELECT pg_backend_pid()") == pid
            assert await conn.fetchval("SHOW statement_timeout") == "7s"
            async with conn.transaction():
                await conn.execute("SELECT 1")
        killer = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await killer.close()
        await asyncio.sleep(0.3)
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") != pid
    finally:
        await pool.close()
        await engine.dispose()


async def test_a_request_session_reads_on_the_driver_pool_until_it_begins(
    database_url: str,
) -> None:
    """session_scope(driver_pool=...): reads before the session begins take one connection of
    the driver pool (no SQLAlchemy checkout, no transaction), held until the scope ends and
    returned also when it fails; once the session has begun, reads see its transaction."""
    engine = create_engine(database_url, pool_size=1)
    factory = create_session_factory(engine)
    pool = await create_driver_pool(engine, max_size=2)
    table = f"driver_read_{secrets.token_hex(4)}"

    async def pool_of() -> asyncpg.Pool:
        return pool

    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE TABLE {table} (n int)"))
        pool_pid = None
        async for session in session_scope(factory, driver_pool=pool_of):
            reader = await driver_connection(session)
            assert await driver_connection(session) is reader  # one per session
            pool_pid = await reader.fetchval("SELECT pg_backend_pid()")
            assert not reader.is_in_transaction() and not session.in_transaction()
            assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
            assert pool.get_idle_size() == 0
            # The session begins (an ORM statement): reads join its transaction from now on.
            await session.execute(text(f"INSERT INTO {table} VALUES (1)"))
            joined = await driver_connection(session)
            assert joined is not reader and joined.is_in_transaction()
            assert await joined.fetchval(f"SELECT count(*) FROM {table}") == 1
            assert await joined.fetchval("SELECT pg_backend_pid()") != pool_pid
        assert pool.get_idle_size() == 1  # returned at the end of the scope
        async with factory() as check:  # and the session's transaction committed
            assert await check.scalar(text(f"SELECT count(*) FROM {table}")) == 1

        failed = session_scope(factory, driver_pool=pool_of)
        session = await failed.__anext__()
        assert await (await driver_connection(session)).fetchval("SELECT 1") == 1
        assert pool.get_idle_size() == 0
        with pytest.raises(RuntimeError):
            await failed.athrow(RuntimeError("the endpoint failed"))
        assert pool.get_idle_size() == 1
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") == pool_pid
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await pool.close()
        await engine.dispose()


def test_loaded_models_read_like_constructed_ones() -> None:
    """models.base.loaded: a model object from a row without the constructor's attribute
    events; every value reads back, it is in no session, and it can still be changed."""
    from sqlalchemy import inspect

    from instasched.models import InstagramAccount
    from instasched.models.base import loaded

    values = {column.key: None for column in inspect(InstagramAccount).column_attrs} | {
        "id": uuid.uuid4(),
        "username": "someone",
        "timezone": "Europe/Paris",
    }
    built = InstagramAccount(**values)
    fast = loaded(InstagramAccount, values)
    for key in values:
        assert getattr(fast, key) == getattr(built, key), key
    state = inspect(fast)
    assert state.transient and state.session is None
    fast.timezone = "UTC"
    assert fast.timezone == "UTC" and values["timezone"] == "Europe/Paris"
