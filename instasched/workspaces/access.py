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
from fastapi.security import HTTPAuthorizationCredentials

from instasched.auth import api_keys
from instasched.auth.deps import BearerToken, CurrentUser, bearer, current_user, verified_token
from instasched.db import driver_connection
from instasched.exceptions import Forbidden, Invalid, NotFound, Unauthorized
from instasched.kit.deps import SessionDep, StateDep
from instasched.models.workspace import Role
from instasched.observability.middleware import set_user_id
from instasched.security import SESSION_ENDED, USER_GONE
from instasched.state import AppState

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


def _admit(request: Request, access: Access) -> Access:
    admitted = admitted_roles(request)
    if access.role.value not in admitted:
        raise role_needed(admitted, access.role.value)
    return access


async def resolve_access(
    session: SessionDep,
    request: Request,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID | None,
) -> Access:
    """The access of a user already authenticated: the personal workspace at no cost, another
    one with one read of the membership."""
    if workspace_id is None or workspace_id == user_id:
        return _admit(request, Access(user_id=user_id, workspace_id=user_id, role=Role.OWNER))
    found = await member_role(session, workspace_id, user_id)
    if found is None:
        raise NotFound(WORKSPACE_NOT_FOUND)
    return _admit(request, Access(user_id=user_id, workspace_id=workspace_id, role=found))


# The user's read (auth.deps) and the membership's in one statement: naming a shared workspace
# then costs no extra round trip. bench/workspace_access.py, one connection, load average ~19:
# user alone p50 252 µs, user + membership as two reads 614 µs, this one statement 267 µs.
_USER_AND_ROLE_SQL = (
    "SELECT u.id, u.email, u.created_at, u.token_version, m.role FROM users u "
    "LEFT JOIN workspace_members m ON m.workspace_id = $2 AND m.user_id = u.id WHERE u.id = $1"
)


async def _access(
    state: AppState,
    session: SessionDep,
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    workspace_id: uuid.UUID | None,
) -> Access:
    if (credentials is not None and api_keys.is_api_key(credentials.credentials)) or (
        workspace_id is None
    ):
        user = await current_user(state, session, request, credentials)
        return await resolve_access(session, request, user.id, workspace_id)
    token = verified_token(state, credentials)
    if workspace_id == token.user_id:
        user = await current_user(state, session, request, credentials)
        return await resolve_access(session, request, user.id, workspace_id)
    row = await (await driver_connection(session)).fetchrow(
        _USER_AND_ROLE_SQL, token.user_id, workspace_id
    )
    if row is None:
        raise Unauthorized(USER_GONE)
    if row["token_version"] != token.version:
        raise Unauthorized(SESSION_ENDED)
    set_user_id(str(token.user_id))
    if row["role"] is None:
        raise NotFound(WORKSPACE_NOT_FOUND)
    return _admit(
        request, Access(user_id=token.user_id, workspace_id=workspace_id, role=Role(row["role"]))
    )


async def current_access(
    state: StateDep,
    session: SessionDep,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header: WorkspaceHeader = None,
) -> Access:
    """The caller (as `CurrentUser`: 401 when not authenticated) and their access to the
    header's workspace."""
    return await _access(state, session, request, credentials, requested_workspace(header))


async def token_access(
    token: BearerToken, session: SessionDep, request: Request, header: WorkspaceHeader = None
) -> Access:
    """As `current_access` for a route that reads its user itself (`BearerToken`): the
    membership is one read of its own when the header names a shared workspace."""
    return await resolve_access(session, request, token.user_id, requested_workspace(header))


async def user_access(
    user: CurrentUser, session: SessionDep, request: Request, header: WorkspaceHeader = None
) -> Access:
    """As `current_access` for a route that needs the `CurrentUser` too (its email...): the
    user is read once, by that dependency."""
    return await resolve_access(session, request, user.id, requested_workspace(header))


WorkspaceIdPath = Annotated[uuid.UUID, Path(alias="workspaceId", description="Workspace id")]


async def path_access(
    state: StateDep,
    session: SessionDep,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    workspace_id: WorkspaceIdPath,
) -> Access:
    """As `current_access` for the workspace of the path (`/api/workspaces/{workspaceId}/...`):
    the header plays no part there."""
    return await _access(state, session, request, credentials, workspace_id)


CurrentAccess = Annotated[Access, Depends(current_access)]
TokenAccess = Annotated[Access, Depends(token_access)]
PathAccess = Annotated[Access, Depends(path_access)]
UserAccess = Annotated[Access, Depends(user_access)]
ACCESS_DEPENDENCIES = (current_access, token_access, path_access, user_access)
"""What a route depends on when it acts in a workspace (the authorization tests find routes by
these)."""

OWNER_ONLY = roles()
"""`openapi_extra=` of a route only a workspace's owner may call (accounts, webhooks, members)."""
