"""The JSON of workspaces, members and invitations (issue 20)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field, field_validator, model_validator

from instasched.kit import examples as ex
from instasched.kit.schemas import ApiModel, RequestModel, examples
from instasched.models.workspace import Role

TEAM_ID = "4e2a7c19-6b3d-4f85-9a1e-d7c0b2f6e831"
MEMBER_ID = "8c1d5e3a-7f29-4b06-b4e8-1a9f2c6d3e57"
INVITATION_ID = "2b6f9d41-3c8e-4a17-8e5b-f0a3d7c1b962"
INVITATION_TOKEN = "kQ3v9Xn2m1Zr8uKcLw4yT0bPq7sF5dGj6eA2iN1oVxU"

_WORKSPACE = {
    "id": TEAM_ID,
    "name": "Brand team",
    "personal": False,
    "requireApproval": True,
    "role": "owner",
    "createdAt": "2026-12-06T13:30:00Z",
}


def _name(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


class WorkspaceOut(ApiModel):
    model_config = examples(_WORKSPACE)

    id: uuid.UUID
    name: str
    personal: bool = Field(
        description="Your own workspace: its id is your user id, and requests without "
        "X-Workspace-Id act in it; it cannot be deleted"
    )
    require_approval: bool = Field(
        description="Posts written by editors wait for an owner's or approver's approval"
    )
    role: Role = Field(description="Your role in it")
    created_at: datetime


class WorkspaceCreate(RequestModel):
    model_config = examples({"name": "Brand team"})

    name: str = Field(min_length=1, max_length=100)

    _strip = field_validator("name")(_name)


class WorkspaceUpdate(RequestModel):
    model_config = examples({"name": "Brand team", "requireApproval": True})

    name: str | None = Field(None, min_length=1, max_length=100)
    require_approval: bool | None = None

    _strip = field_validator("name")(_name)

    @model_validator(mode="after")
    def _something(self) -> WorkspaceUpdate:
        if self.name is None and self.require_approval is None:
            raise ValueError("send name and/or requireApproval")
        return self


class MemberOut(ApiModel):
    model_config = examples(
        {
            "userId": MEMBER_ID,
            "email": "editor@example.com",
            "role": "editor",
            "joinedAt": "2026-12-06T13:40:00Z",
        }
    )

    user_id: uuid.UUID
    email: str
    role: Role
    joined_at: datetime


class MemberUpdate(RequestModel):
    model_config = examples({"role": "approver"})

    role: Role


class InvitationCreate(RequestModel):
    model_config = examples({"email": "editor@example.com", "role": "editor"})

    email: EmailStr = Field(description="Who may accept it: the account with this email")
    role: Role = Field(description="The role the new member gets")


InvitationStatus = Literal["pending", "accepted", "revoked", "expired"]

_INVITATION = {
    "id": INVITATION_ID,
    "email": "editor@example.com",
    "role": "editor",
    "status": "pending",
    "invitedBy": ex.USER_ID,
    "createdAt": "2026-12-06T13:35:00Z",
    "expiresAt": "2026-12-13T13:35:00Z",
    "acceptedAt": None,
    "acceptedBy": None,
    "revokedAt": None,
}


class InvitationOut(ApiModel):
    model_config = examples(_INVITATION)

    id: uuid.UUID
    email: str
    role: Role
    status: InvitationStatus
    invited_by: uuid.UUID | None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    accepted_by: uuid.UUID | None
    revoked_at: datetime | None


class InvitationCreated(InvitationOut):
    model_config = examples(
        {
            **_INVITATION,
            "token": INVITATION_TOKEN,
            "url": f"https://instasched.example.com/#invitation={INVITATION_TOKEN}",
        }
    )

    token: str = Field(description="Single use; only its SHA-256 is stored: shown once")
    url: str = Field(description="The link to send to the invited person")


class InvitationAccept(RequestModel):
    model_config = examples({"token": INVITATION_TOKEN})

    token: str = Field(min_length=1, max_length=200)
