"""Migrations on a fresh database: upgrade heads, downgrade base (nothing left), upgrade again."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from alembic.script import ScriptDirectory

from instasched.migrate import alembic_config, downgrade, upgrade
from instasched.models import Base

TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
TYPES = (
    "SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
    "WHERE n.nspname = 'public' AND t.typtype IN ('e', 'c', 'd') AND typname NOT IN "
    "(SELECT tablename FROM pg_tables WHERE schemaname = 'public')"
)
ROOT = Path(__file__).resolve().parents[2]
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


def test_hosts_migrating_at_once_leave_one_head(servers: dict[str, str], tmp_path: Any) -> None:
    """Three `instasched migrate` processes at once on a fresh database (hosts that start
    together): all succeed, and the schema is the head's (the advisory lock in env.py)."""
    admin = _plain(servers["DATABASE_URL"], "postgres")
    name = f"instasched_migr_{secrets.token_hex(4)}"
    url = _plain(servers["DATABASE_URL"], name)
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(DATABASE_URL=url, INSTASCHED_ENV="test", INSTASCHED_DATA_DIR=str(tmp_path))
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "instasched", "migrate"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for _ in range(3)
        ]
        outputs = [proc.communicate(timeout=300)[0].decode(errors="replace") for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
        heads = asyncio.run(_query(url, "SELECT version_num FROM alembic_version"))
        assert heads == {ScriptDirectory.from_config(alembic_config(url)).get_current_head()}
        tables = asyncio.run(_query(url, TABLES))
        assert set(Base.metadata.tables) <= tables
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
