"""/api/workspaces: workspaces, their members and invitations (docs/workspaces.md).

Here the workspace is the path's (`{workspaceId}`), not the X-Workspace-Id header's; the roles
each route admits are declared as everywhere else (`roles(...)`, `OWNER_ONLY`).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from instasched.auth.deps import LOGIN_ONLY, CurrentUser, scope
from instasched.exceptions import Conflict, Forbidden, NotFound
from instasched.kit.deps import SessionDep, StateDep
from instasched.kit.openapi import ErrorCase, errors
from instasched.models.workspace import Role
from instasched.workspaces import repository, service
from instasched.workspaces.access import (
    OWNER_ONLY,
    WORKSPACE_NOT_FOUND,
    PathAccess,
    role_needed,
    roles,
)
from instasched.workspaces.schemas import (
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    InvitationOut,
    MemberOut,
    MemberUpdate,
    WorkspaceCreate,
    WorkspaceOut,
    WorkspaceUpdate,
)

router = APIRouter(prefix="/workspaces", tags=["Workspaces"])

UserIdPath = Annotated[uuid.UUID, Path(alias="userId", description="A member's user id")]
InvitationIdPath = Annotated[
    uuid.UUID, Path(alias="invitationId", description="An invitation's id")
]

_WORKSPACE_404: ErrorCase = (
    "No such workspace, or you are not a member of it",
    NotFound(WORKSPACE_NOT_FOUND),
)
_OWNER_403: ErrorCase = (
    "Only the workspace's owners may do this",
    role_needed(["owner"], "editor"),
)
_LAST_OWNER: ErrorCase = ("The workspace would have no owner left", Conflict(service.LAST_OWNER))
_PERSONAL_OWNER: ErrorCase = (
    "The personal workspace's own user stays its owner",
    Conflict(service.PERSONAL_OWNER_STAYS),
)
_MEMBER_404: ErrorCase = ("No such member", NotFound(service.MEMBER_NOT_FOUND))


# Registered before /{workspaceId}...: a fixed path first.
@router.post(
    "/invitations/accept",
    response_model=WorkspaceOut,
    summary="Accept an invitation: join its workspace",
    responses=errors(
        ("The token matches no invitation", NotFound(service.TOKEN_NOT_FOUND)),
        (
            "The invitation was already used, was revoked or has expired; or you are a member",
            Conflict("This invitation link was already used: ask for a new one"),
        ),
        (
            "The invitation is for another email than yours",
            Forbidden(
                "This invitation is for editor@example.com; you are logged in as "
                "other@example.com. Log in with the invited email, or ask for an invitation "
                "to yours",
                detail={"invitedEmail": "editor@example.com"},
            ),
        ),
    ),
    openapi_extra=scope(LOGIN_ONLY),
)
async def accept_invitation(
    body: InvitationAccept, user: CurrentUser, session: SessionDep
) -> WorkspaceOut:
    """Join the workspace of an invitation link (the `token` of its `#invitation=` part), with
    the role it names. You must be logged in with the invited email. A link works once, until
    it expires (`WORKSPACE_INVITATION_TTL_HOURS`, 7 days) or is revoked."""
    workspace, role = await service.accept(
        session, user_id=user.id, email=user.email, token=body.token
    )
    return WorkspaceOut.model_validate(repository.workspace_out(workspace, role))


@router.get("", response_model=list[WorkspaceOut], summary="List your workspaces")
async def list_workspaces(user: CurrentUser, session: SessionDep) -> list[WorkspaceOut]:
    """The workspaces you are a member of, with your role in each: your personal one first
    (its id is your user id). Send one's id as `X-Workspace-Id` to act in it."""
    rows = await repository.list_for_user(session, user_id=user.id)
    return [WorkspaceOut.model_validate(r) for r in rows]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WorkspaceOut,
    summary="Create a workspace",
)
async def create_workspace(
    body: WorkspaceCreate, user: CurrentUser, session: SessionDep
) -> WorkspaceOut:
    """A new, empty workspace; you are its owner. Invite members with
    `POST /api/workspaces/{workspaceId}/invitations`."""
    return WorkspaceOut.model_validate(
        await service.create_workspace(session, user_id=user.id, name=body.name)
    )


@router.get(
    "/{workspaceId}",
    response_model=WorkspaceOut,
    summary="Get a workspace",
    responses=errors(_WORKSPACE_404),
)
async def get_workspace(access: PathAccess, session: SessionDep) -> WorkspaceOut:
    """One of your workspaces, with your role (not a member: 404)."""
    return WorkspaceOut.model_validate(await service.get_workspace(session, access))


@router.patch(
    "/{workspaceId}",
    response_model=WorkspaceOut,
    summary="Rename a workspace or set whether posts need approval",
    responses=errors(_WORKSPACE_404, _OWNER_403),
    openapi_extra=OWNER_ONLY,
)
async def update_workspace(
    body: WorkspaceUpdate, access: PathAccess, session: SessionDep
) -> WorkspaceOut:
    """Owners only. `name`; `requireApproval`: posts written by editors wait for an owner's or
    an approver's approval before they are scheduled."""
    return WorkspaceOut.model_validate(
        await service.update_workspace(
            session, access, name=body.name, require_approval=body.require_approval
        )
    )


@router.delete(
    "/{workspaceId}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a workspace and everything in it",
    responses=errors(
        _WORKSPACE_404,
        _OWNER_403,
        ("The personal workspace cannot be deleted", Conflict(service.PERSONAL_NOT_DELETABLE)),
    ),
    openapi_extra=OWNER_ONLY,
)
async def delete_workspace(access: PathAccess, session: SessionDep) -> Response:
    """Owners only. Deletes the workspace with its accounts, media, templates, schedules, posts,
    webhooks, members and invitations. Your personal workspace cannot be deleted."""
    await service.delete_workspace(session, access)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{workspaceId}/members",
    response_model=list[MemberOut],
    summary="List a workspace's members",
    responses=errors(_WORKSPACE_404),
)
async def list_members(access: PathAccess, session: SessionDep) -> list[MemberOut]:
    """Every member with their role, oldest first."""
    rows = await repository.members(session, access.workspace_id)
    return [MemberOut.model_validate(r) for r in rows]


@router.patch(
    "/{workspaceId}/members/{userId}",
    response_model=MemberOut,
    summary="Change a member's role",
    responses=errors(_WORKSPACE_404, _MEMBER_404, _OWNER_403, _LAST_OWNER, _PERSONAL_OWNER),
    openapi_extra=OWNER_ONLY,
)
async def update_member(
    user_id: UserIdPath, body: MemberUpdate, access: PathAccess, session: SessionDep
) -> MemberOut:
    """Owners only. `role`: owner, editor (creates and edits), approver (approves or sends
    back), viewer (reads). The last owner cannot step down; a personal workspace's own user
    stays its owner."""
    return MemberOut.model_validate(
        await service.change_role(session, access, user_id=user_id, role=body.role)
    )


@router.delete(
    "/{workspaceId}/members/{userId}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a member (or leave)",
    responses=errors(_WORKSPACE_404, _MEMBER_404, _OWNER_403, _LAST_OWNER, _PERSONAL_OWNER),
    # Every member may call it to leave; removing somebody else is checked in the service.
    openapi_extra=roles(Role.EDITOR, Role.APPROVER, Role.VIEWER),
)
async def remove_member(user_id: UserIdPath, access: PathAccess, session: SessionDep) -> Response:
    """Owners remove anybody; any member may remove themself (leave the workspace). The last
    owner cannot leave; a personal workspace's own user stays in it."""
    await service.remove_member(session, access, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{workspaceId}/invitations",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationCreated,
    summary="Invite somebody: a single-use link",
    responses=errors(_WORKSPACE_404, _OWNER_403),
    openapi_extra=OWNER_ONLY,
)
async def create_invitation(
    body: InvitationCreate, access: PathAccess, session: SessionDep, state: StateDep
) -> InvitationCreated:
    """Owners only. A link (`url`, with a random `token`) that makes the person logged in with
    `email` a member with `role` when they open it (POST /api/workspaces/invitations/accept).
    No mail is sent: pass the link on (it is shown once, and logged). It works once, until it
    expires (`WORKSPACE_INVITATION_TTL_HOURS`, 7 days) or is revoked."""
    return InvitationCreated.model_validate(
        await service.invite(
            session, access, settings=state.settings, email=str(body.email), role=body.role
        )
    )


@router.get(
    "/{workspaceId}/invitations",
    response_model=list[InvitationOut],
    summary="List a workspace's invitations",
    responses=errors(_WORKSPACE_404, _OWNER_403),
    openapi_extra=OWNER_ONLY,
)
async def list_invitations(access: PathAccess, session: SessionDep) -> list[InvitationOut]:
    """Owners only. The latest 500, newest first, with their `status`: pending, accepted,
    revoked or expired (tokens are never shown again)."""
    return [
        InvitationOut.model_validate(r) for r in await service.list_invitations(session, access)
    ]


@router.delete(
    "/{workspaceId}/invitations/{invitationId}",
    response_model=InvitationOut,
    summary="Revoke an invitation",
    responses=errors(
        _WORKSPACE_404,
        _OWNER_403,
        ("No such invitation", NotFound(service.INVITATION_NOT_FOUND)),
        (
            "The invitation was already accepted",
            Conflict("This invitation was already accepted: remove the member instead"),
        ),
    ),
    openapi_extra=OWNER_ONLY,
)
async def revoke_invitation(
    invitation_id: InvitationIdPath, access: PathAccess, session: SessionDep
) -> InvitationOut:
    """Owners only. Its link stops working (revoking twice is harmless)."""
    return InvitationOut.model_validate(
        await service.revoke_invitation(session, access, invitation_id=invitation_id)
    )
