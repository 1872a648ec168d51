"""`CurrentAccess`: the caller, the workspace the request acts in, and the caller's role there.

The workspace is the `X-Workspace-Id` header's; without it, the caller's personal workspace
(whose id is the user's id, migration 0018), where the caller is the owner: a request without
the header costs no lookup. With another workspace's id, one indexed read of the membership;
a workspace the caller is not a member of answers 404 (never revealing that it exists).

The roles a route admits are declared like an API key's scope (`roles(...)` in `openapi_extra`)
or follow its method: reading admits every member, writing admits owners and editors. The owner
is admitted everywhere. A member whose role is not admitted gets 403 naming the roles needed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Path, Request

from instasched.auth.deps import BearerToken, CurrentUser
from instasched.db import driver_connection
from instasched.exceptions import Forbidden, Invalid, NotFound
from instasched.kit.deps import SessionDep
from instasched.models.workspace import Role

WORKSPACE_HEADER = "X-Workspace-Id"
ROLES_EXTRA = "x-instasched-roles"
"""The `openapi_extra` key listing the roles a route admits (the owner is always admitted)."""

READ_ROLES = (Role.OWNER, Role.EDITOR, Role.APPROVER, Role.VIEWER)
WRITE_ROLES = (Role.OWNER, Role.EDITOR)

_MEMBER_SQL = "SELECT role FROM workspace_members WHERE workspace_id = $1 AND user_id = $2"


def roles(*admitted: Role) -> dict[str, list[str]]:
    """A route's `openapi_extra=` admitting these roles (and the owner) instead of its method's
    default. Combine with an API key scope: `{**scope("publish"), **roles(Role.EDITOR)}`."""
    names = [Role.OWNER.value, *(r.value for r in admitted if r is not Role.OWNER)]
    return {ROLES_EXTRA: names}


def admitted_roles(request: Request) -> tuple[str, ...]:
    route = request.scope.get("route")
    extra = getattr(route, "openapi_extra", None) or {}
    declared = extra.get(ROLES_EXTRA)
    if isinstance(declared, list):
        return tuple(declared)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return tuple(r.value for r in READ_ROLES)
    return tuple(r.value for r in WRITE_ROLES)


def role_needed(admitted: tuple[str, ...] | list[str], role: str) -> Forbidden:
    wanted = " or ".join(admitted)
    return Forbidden(
        f"This needs the {wanted} role in this workspace; your role is {role}",
        detail={"requiredRoles": list(admitted), "role": role},
    )


@dataclass(frozen=True, slots=True)
class Access:
    """Who calls, in which workspace, with which role."""

    user_id: uuid.UUID
    workspace_id: uuid.UUID
    role: Role

    def require(self, *admitted: Role) -> None:
        """403 unless the caller's role is one of `admitted` (or owner)."""
        names = [Role.OWNER.value, *(r.value for r in admitted if r is not Role.OWNER)]
        if self.role.value not in names:
            raise role_needed(names, self.role.value)

    @property
    def can_approve(self) -> bool:
        return self.role in (Role.OWNER, Role.APPROVER)


WorkspaceHeader = Annotated[
    str | None,
    Header(
        alias=WORKSPACE_HEADER,
        description="The workspace to act in (an id from GET /api/workspaces); without it, "
        "your personal workspace",
    ),
]


def requested_workspace(raw: str | None) -> uuid.UUID | None:
    if raw is None or not raw.strip():
        return None
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        raise Invalid(
            f"{WORKSPACE_HEADER} must be a workspace id (a UUID, GET /api/workspaces lists "
            "yours); leave it out to act in your personal workspace",
            field=WORKSPACE_HEADER,
        ) from None


WORKSPACE_NOT_FOUND = (
    "Workspace not found, or you are not a member of it (GET /api/workspaces lists yours)"
)


async def member_role(
    session: SessionDep, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> Role | None:
    """The user's role in the workspace, or None when not a member (one indexed read)."""
    found = await (await driver_connection(session)).fetchval(_MEMBER_SQL, workspace_id, user_id)
    return None if found is None else Role(found)


async def resolve_access(
    session: SessionDep,
    request: Request,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID | None,
) -> Access:
    if workspace_id is None or workspace_id == user_id:
        role = Role.OWNER
        workspace_id = user_id
    else:
        found = await member_role(session, workspace_id, user_id)
        if found is None:
            raise NotFound(WORKSPACE_NOT_FOUND)
        role = found
    admitted = admitted_roles(request)
    if role.value not in admitted:
        raise role_needed(admitted, role.value)
    return Access(user_id=user_id, workspace_id=workspace_id, role=role)


async def current_access(
    user: CurrentUser, session: SessionDep, request: Request, header: WorkspaceHeader = None
) -> Access:
    return await resolve_access(session, request, user.id, requested_workspace(header))


async def token_access(
    token: BearerToken, session: SessionDep, request: Request, header: WorkspaceHeader = None
) -> Access:
    """As `current_access` for a route that reads its user itself (`BearerToken`)."""
    return await resolve_access(session, request, token.user_id, requested_workspace(header))


WorkspaceIdPath = Annotated[uuid.UUID, Path(alias="workspaceId", description="Workspace id")]


async def path_access(
    user: CurrentUser, session: SessionDep, request: Request, workspace_id: WorkspaceIdPath
) -> Access:
    """As `current_access` for the workspace of the path (`/api/workspaces/{workspaceId}/...`):
    the header plays no part there. The personal workspace costs no lookup either."""
    return await resolve_access(session, request, user.id, workspace_id)


CurrentAccess = Annotated[Access, Depends(current_access)]
TokenAccess = Annotated[Access, Depends(token_access)]
PathAccess = Annotated[Access, Depends(path_access)]
ACCESS_DEPENDENCIES = (current_access, token_access, path_access)
"""What a route depends on when it acts in a workspace (the authorization tests find routes by
these)."""

OWNER_ONLY = roles()
"""`openapi_extra=` of a route only a workspace's owner may call (accounts, webhooks, members)."""
