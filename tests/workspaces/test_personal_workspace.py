"""Every user has a personal workspace whose id is the user's, with the user as its owner:
made for the users there before workspaces (migration 0018) and for every new user by the
trigger on users, on every path (the API's register and a direct INSERT)."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.migrate import upgrade
from instasched.models import Workspace, WorkspaceMember
from tests.factories import Api
from tests.foundation.test_migrations import _admin, _plain

_MEMBERS = "SELECT workspace_id, user_id, role FROM workspace_members ORDER BY user_id"


async def _seed_and_read(url: str) -> tuple[list[uuid.UUID], list[tuple[object, ...]], list[str]]:
    conn = await asyncpg.connect(url)
    try:
        ids = [
            await conn.fetchval(
                "INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id",
                f"before-{n}@example.com",
            )
            for n in range(2)
        ]
        await asyncio.to_thread(upgrade, url)  # to the head: 0018 backfills
        members = [tuple(r) for r in await conn.fetch(_MEMBERS)]
        names = [r["name"] for r in await conn.fetch("SELECT name FROM workspaces WHERE personal")]
        return ids, members, names
    finally:
        await conn.close()


def test_users_from_before_get_a_personal_workspace(servers: dict[str, str]) -> None:
    admin = _plain(servers["DATABASE_URL"], "postgres")
    name = f"instasched_migr_{secrets.token_hex(4)}"
    url = _plain(servers["DATABASE_URL"], name)
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        upgrade(url, "0017")
        ids, members, names = asyncio.run(_seed_and_read(url))
        assert sorted(members) == sorted((i, i, "owner") for i in ids)
        assert names == ["Personal", "Personal"]
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_a_registered_user_owns_a_personal_workspace_with_its_id(
    api: Api, db: AsyncSession
) -> None:
    user = await api.user()
    workspace = await db.get(Workspace, user.id)
    assert workspace is not None
    assert workspace.personal is True
    assert workspace.require_approval is False
    roles = (
        await db.execute(
            select(WorkspaceMember.user_id, WorkspaceMember.role).where(
                WorkspaceMember.workspace_id == user.id
            )
        )
    ).all()
    assert [tuple(r) for r in roles] == [(user.id, "owner")]


async def test_a_user_inserted_directly_gets_one_too(db: AsyncSession) -> None:
    user_id = (
        await db.execute(
            text("INSERT INTO users (email, password_hash) VALUES (:e, 'x') RETURNING id"),
            {"e": f"direct-{secrets.token_hex(4)}@example.com"},
        )
    ).scalar_one()
    member = await db.get(WorkspaceMember, (user_id, user_id))
    assert member is not None and member.role == "owner"
    await db.rollback()
