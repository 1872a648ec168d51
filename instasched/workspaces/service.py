"""Workspaces, members and invitations: the rules (docs/workspaces.md).

- Every workspace keeps at least one owner; the personal workspace's own user stays its owner
  (and it cannot be deleted).
- An invitation is a random token; only its SHA-256 is stored. It is single use, expires
  (`WORKSPACE_INVITATION_TTL_HOURS`), can be revoked, and is accepted by a logged-in user whose
  email is the invited one: a forwarded or leaked link is of no use to anybody else.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.config import Settings
from instasched.exceptions import Conflict, Forbidden, NotFound
from instasched.kit.time import utcnow
from instasched.models.workspace import Role, Workspace, WorkspaceInvitation, WorkspaceMember
from instasched.workspaces import repository
from instasched.workspaces.access import Access, role_needed

log = logging.getLogger(__name__)

PERSONAL_NOT_DELETABLE = "Your personal workspace cannot be deleted"
PERSONAL_OWNER_STAYS = (
    "A personal workspace's own user stays its owner: the role cannot be changed or removed"
)
LAST_OWNER = (
    "A workspace needs at least one owner: make another member owner first (PATCH "
    "/api/workspaces/{workspaceId}/members/{userId} with role owner)"
)
MEMBER_NOT_FOUND = "No such member in this workspace"
INVITATION_NOT_FOUND = "No such invitation in this workspace"
TOKEN_NOT_FOUND = "This invitation link is not valid: ask for a new one"
INVITATION_PREFIX = "#invitation="


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_status(invitation: WorkspaceInvitation, now: datetime) -> str:
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= now:
        return "expired"
    return "pending"


def invitation_out(invitation: WorkspaceInvitation, now: datetime) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "email": invitation.email,
        "role": invitation.role,
        "status": invitation_status(invitation, now),
        "invited_by": invitation.invited_by,
        "created_at": invitation.created_at,
        "expires_at": invitation.expires_at,
        "accepted_at": invitation.accepted_at,
        "accepted_by": invitation.accepted_by,
        "revoked_at": invitation.revoked_at,
    }


# --- workspaces -----------------------------------------------------------------------------
async def create_workspace(
    session: AsyncSession, *, user_id: uuid.UUID, name: str
) -> dict[str, Any]:
    workspace = await repository.create(session, name=name, owner_id=user_id)
    log.info("workspace %s created by %s", workspace.id, user_id)
    return repository.described(workspace, Role.OWNER.value)


async def get_workspace(session: AsyncSession, access: Access) -> dict[str, Any]:
    workspace = await repository.get(session, access.workspace_id)
    return repository.described(workspace, access.role.value)


async def update_workspace(
    session: AsyncSession, access: Access, *, name: str | None, require_approval: bool | None
) -> dict[str, Any]:
    workspace = await repository.get(session, access.workspace_id, for_update=True)
    if name is not None:
        workspace.name = name
    if require_approval is not None:
        workspace.require_approval = require_approval
    workspace.updated_at = utcnow()
    await session.flush()
    return repository.described(workspace, access.role.value)


async def delete_workspace(session: AsyncSession, access: Access) -> None:
    workspace = await repository.get(session, access.workspace_id, for_update=True)
    if workspace.personal:
        raise Conflict(PERSONAL_NOT_DELETABLE)
    # Its accounts, media, templates, schedules, posts, webhooks, members and invitations go
    # with it (ON DELETE CASCADE, migration 0019); queued jobs of its posts find no post.
    await repository.delete_workspace(session, workspace.id)
    log.info("workspace %s deleted by %s", workspace.id, access.user_id)


# --- members --------------------------------------------------------------------------------
async def _member(
    session: AsyncSession, access: Access, user_id: uuid.UUID
) -> tuple[WorkspaceMember, Workspace]:
    """The membership of `user_id` in the caller's workspace (locked, see
    `repository.member_for_update`), or 404; and the workspace."""
    member = await repository.member_for_update(session, access.workspace_id, user_id)
    if member is None:
        raise NotFound(MEMBER_NOT_FOUND)
    return member, await repository.get(session, access.workspace_id)


async def _check_may_stop_owning(
    session: AsyncSession, workspace: Workspace, member: WorkspaceMember
) -> None:
    """A member whose role changes or who goes: never the personal workspace's own user, never
    the last owner."""
    if workspace.personal and member.user_id == workspace.id:
        raise Conflict(PERSONAL_OWNER_STAYS)
    if member.role == Role.OWNER.value and await repository.owner_count(session, workspace.id) <= 1:
        raise Conflict(LAST_OWNER)


async def change_role(
    session: AsyncSession, access: Access, *, user_id: uuid.UUID, role: Role
) -> dict[str, Any]:
    member, workspace = await _member(session, access, user_id)
    if member.role != role.value:
        await _check_may_stop_owning(session, workspace, member)
        member.role = role.value
        await session.flush()
        log.info("workspace %s: %s is now %s (by %s)", workspace.id, user_id, role, access.user_id)
    return {
        "user_id": member.user_id,
        "email": await repository.member_email(session, user_id),
        "role": member.role,
        "joined_at": member.created_at,
    }


async def remove_member(session: AsyncSession, access: Access, *, user_id: uuid.UUID) -> None:
    """An owner removes anybody; any member removes themself (leaves)."""
    if user_id != access.user_id and access.role is not Role.OWNER:
        raise role_needed([Role.OWNER.value], access.role.value)
    member, workspace = await _member(session, access, user_id)
    await _check_may_stop_owning(session, workspace, member)
    await repository.remove_member(session, member)
    log.info("workspace %s: %s removed (by %s)", workspace.id, user_id, access.user_id)


# --- invitations ----------------------------------------------------------------------------
async def invite(
    session: AsyncSession, access: Access, *, settings: Settings, email: str, role: Role
) -> dict[str, Any]:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    invitation = WorkspaceInvitation(
        workspace_id=access.workspace_id,
        email=email,
        role=role.value,
        token_hash=token_hash(token),
        invited_by=access.user_id,
        expires_at=now + timedelta(hours=settings.workspace_invitation_ttl_hours),
    )
    await repository.add_invitation(session, invitation)
    url = f"{settings.base_url}/{INVITATION_PREFIX}{token}"
    # No mail server: the inviter passes the link on; it is logged for the operator too.
    log.info(
        "workspace %s: invitation %s for %s as %s: %s",
        access.workspace_id,
        invitation.id,
        email,
        role,
        url,
    )
    return {**invitation_out(invitation, now), "token": token, "url": url}


async def list_invitations(session: AsyncSession, access: Access) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        invitation_out(i, now) for i in await repository.invitations(session, access.workspace_id)
    ]


async def revoke_invitation(
    session: AsyncSession, access: Access, *, invitation_id: uuid.UUID
) -> dict[str, Any]:
    invitation = await repository.invitation(
        session, workspace_id=access.workspace_id, invitation_id=invitation_id
    )
    if invitation is None:
        raise NotFound(INVITATION_NOT_FOUND)
    now = utcnow()
    status = invitation_status(invitation, now)
    if status == "accepted":
        raise Conflict(
            "This invitation was already accepted: remove the member instead (DELETE "
            "/api/workspaces/{workspaceId}/members/{userId})"
        )
    if status != "revoked":
        invitation.revoked_at = now
        await session.flush()
    return invitation_out(invitation, now)


async def accept(
    session: AsyncSession, *, user_id: uuid.UUID, email: str, token: str
) -> tuple[Workspace, str]:
    invitation = await repository.invitation_by_hash(session, token_hash(token.strip()))
    if invitation is None:
        raise NotFound(TOKEN_NOT_FOUND)
    now = utcnow()
    status = invitation_status(invitation, now)
    if status == "accepted":
        raise Conflict("This invitation link was already used: ask for a new one")
    if status == "revoked":
        raise Conflict("This invitation was revoked: ask for a new one")
    if status == "expired":
        raise Conflict(
            f"This invitation expired on {invitation.expires_at.isoformat()}: ask for a new one"
        )
    if invitation.email.lower() != email.lower():
        raise Forbidden(
            f"This invitation is for {invitation.email}; you are logged in as {email}. Log in "
            "with the invited email, or ask for an invitation to yours",
            detail={"invitedEmail": invitation.email},
        )
    if await repository.is_member(session, invitation.workspace_id, user_id):
        raise Conflict("You are already a member of this workspace")
    await repository.add_member(
        session, workspace_id=invitation.workspace_id, user_id=user_id, role=invitation.role
    )
    invitation.accepted_at = now
    invitation.accepted_by = user_id
    await session.flush()
    log.info("workspace %s: %s joined as %s", invitation.workspace_id, user_id, invitation.role)
    return await repository.get(session, invitation.workspace_id), invitation.role
