"""Migrations on a fresh database: upgrade heads, downgrade base (nothing left), upgrade again."""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from instasched.migrate import downgrade, upgrade
from instasched.models import Base

TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
TYPES = (
    "SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
    "WHERE n.nspname = 'public' AND t.typtype IN ('e', 'c', 'd') AND typname NOT IN "
    "(SELECT tablename FROM pg_tables WHERE schemaname = 'public')"
)
INDEXES = "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"


def _plain(url: str, database: str) -> str:
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://"))
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


async def _query(url: str, sql: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        return {r[0] for r in await conn.fetch(sql)}
    finally:
        await conn.close()


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def test_migrations_up_down_up(servers: dict[str, str]) -> None:
    admin = _plain(servers["DATABASE_URL"], "postgres")
    name = f"instasched_migr_{secrets.token_hex(4)}"
    url = _plain(servers["DATABASE_URL"], name)
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        upgrade(url)
        tables = asyncio.run(_query(url, TABLES))
        assert set(Base.metadata.tables) <= tables, set(Base.metadata.tables) - tables
        assert "alembic_version" in tables

        downgrade(url, "base")
        assert asyncio.run(_query(url, TABLES)) - {"alembic_version"} == set()
        assert asyncio.run(_query(url, TYPES)) == set()
        assert asyncio.run(_query(url, INDEXES)) <= {"alembic_version_pkc"}
        assert asyncio.run(_query(url, "SELECT version_num FROM alembic_version")) == set()

        upgrade(url)
        assert set(Base.metadata.tables) <= asyncio.run(_query(url, TABLES))
        upgrade(url)  # idempotent
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
