"""SQL of workspaces, members and invitations."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.db import add_row
from instasched.exceptions import NotFound
from instasched.models.base import Base
from instasched.models.user import User
from instasched.models.workspace import Workspace, WorkspaceInvitation, WorkspaceMember

RowT = TypeVar("RowT", bound=Base)


async def get_in_workspace(
    session: AsyncSession,
    model: type[RowT],
    row_id: uuid.UUID,
    *,
    workspace_id: uuid.UUID,
    not_found: str,
    for_update: bool = False,
) -> RowT:
    """The row `row_id` of `model` (a table with `id` and `workspace_id`) in the workspace, or
    404 `not_found`: another workspace's id is indistinguishable from a missing one."""
    columns = model.__table__.c
    query = select(model).where(columns.id == row_id, columns.workspace_id == workspace_id)
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise NotFound(not_found)
    return row


async def list_for_user(session: AsyncSession, *, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """The user's workspaces with the user's role: the personal one first, then by name."""
    rows = await session.execute(
        select(Workspace, WorkspaceMember.role)
        .join(WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id)
        .where(WorkspaceMember.user_id == user_id)
        .order_by(Workspace.personal.desc(), func.lower(Workspace.name), Workspace.id)
    )
    return [workspace_out(workspace, role) for workspace, role in rows.all()]


def workspace_out(workspace: Workspace, role: str) -> dict[str, Any]:
    """A workspace as the API shows it to a member with this role (`WorkspaceOut`)."""
    return {
        "id": workspace.id,
        "name": workspace.name,
        "personal": workspace.personal,
        "require_approval": workspace.require_approval,
        "role": role,
        "created_at": workspace.created_at,
    }


async def get(
    session: AsyncSession, workspace_id: uuid.UUID, *, for_update: bool = False
) -> Workspace:
    query = select(Workspace).where(Workspace.id == workspace_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one()


def described(workspace: Workspace, role: str) -> dict[str, Any]:
    return workspace_out(workspace, role)


async def create(session: AsyncSession, *, name: str, owner_id: uuid.UUID) -> Workspace:
    workspace = Workspace(name=name, personal=False)
    session.add(workspace)
    await session.flush()
    session.add(WorkspaceMember(workspace_id=workspace.id, user_id=owner_id, role="owner"))
    await session.flush()
    await session.refresh(workspace)
    return workspace


async def delete_workspace(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    await session.execute(delete(Workspace).where(Workspace.id == workspace_id))


async def members(session: AsyncSession, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(
            WorkspaceMember.user_id, User.email, WorkspaceMember.role, WorkspaceMember.created_at
        )
        .join(User, User.id == WorkspaceMember.user_id)
        .where(WorkspaceMember.workspace_id == workspace_id)
        .order_by(WorkspaceMember.created_at, User.email)
    )
    return [
        {"user_id": uid, "email": email, "role": role, "joined_at": at}
        for uid, email, role, at in rows.all()
    ]


async def member_for_update(
    session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> WorkspaceMember | None:
    """The membership, locked; the workspace's owner rows are locked too (lock the workspace
    row first: two owners demoting each other at once cannot leave it without an owner)."""
    await get(session, workspace_id, for_update=True)
    result: WorkspaceMember | None = await session.scalar(
        select(WorkspaceMember)
        .where(WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.user_id == user_id)
        .with_for_update()
    )
    return result


async def owner_count(session: AsyncSession, workspace_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.role == "owner"
            )
        )
        or 0
    )


async def member_email(session: AsyncSession, user_id: uuid.UUID) -> str:
    return str(await session.scalar(select(User.email).where(User.id == user_id)))


async def add_member(
    session: AsyncSession, *, workspace_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> None:
    session.add(WorkspaceMember(workspace_id=workspace_id, user_id=user_id, role=role))
    await session.flush()


async def remove_member(session: AsyncSession, member: WorkspaceMember) -> None:
    await session.delete(member)
    await session.flush()


async def add_invitation(session: AsyncSession, invitation: WorkspaceInvitation) -> None:
    await add_row(session, invitation)


async def invitations(session: AsyncSession, workspace_id: uuid.UUID) -> list[WorkspaceInvitation]:
    rows = await session.scalars(
        select(WorkspaceInvitation)
        .where(WorkspaceInvitation.workspace_id == workspace_id)
        .order_by(WorkspaceInvitation.created_at.desc())
        .limit(500)
    )
    return list(rows)


async def invitation(
    session: AsyncSession, *, workspace_id: uuid.UUID, invitation_id: uuid.UUID
) -> WorkspaceInvitation | None:
    result: WorkspaceInvitation | None = await session.scalar(
        select(WorkspaceInvitation)
        .where(
            WorkspaceInvitation.id == invitation_id,
            WorkspaceInvitation.workspace_id == workspace_id,
        )
        .with_for_update()
    )
    return result


async def invitation_by_hash(session: AsyncSession, token_hash: str) -> WorkspaceInvitation | None:
    result: WorkspaceInvitation | None = await session.scalar(
        select(WorkspaceInvitation)
        .where(WorkspaceInvitation.token_hash == token_hash)
        .with_for_update()
    )
    return result


async def is_member(session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(WorkspaceMember.role).where(
            WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.user_id == user_id
        )
    )
    return found is not None
