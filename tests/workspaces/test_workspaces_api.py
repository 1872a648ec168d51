"""/api/workspaces: workspaces, members and invitation links (docs/workspaces.md)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.models import WorkspaceInvitation
from tests.factories import Api, User
from tests.workspaces.test_authorization_sweep import member, team

POSTS = "/api/instagram/scheduling/posts"


def in_ws(user: User, workspace: str) -> dict[str, str]:
    return {**user.headers, "X-Workspace-Id": workspace}


async def test_list_create_get_update_delete(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    r = await http.get("/api/workspaces", headers=user.headers)
    assert r.status_code == 200
    [personal] = r.json()
    assert personal["id"] == str(user.id) and personal["personal"] is True
    assert personal["role"] == "owner" and personal["requireApproval"] is False

    r = await http.post("/api/workspaces", json={"name": "  Brand  "}, headers=user.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["name"] == "Brand" and created["role"] == "owner"
    assert created["personal"] is False
    r = await http.get("/api/workspaces", headers=user.headers)
    assert [w["id"] for w in r.json()] == [str(user.id), created["id"]]

    r = await http.post("/api/workspaces", json={"name": "   "}, headers=user.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "name"

    r = await http.patch(
        f"/api/workspaces/{created['id']}", json={"requireApproval": True}, headers=user.headers
    )
    assert r.status_code == 200 and r.json()["requireApproval"] is True
    assert r.json()["name"] == "Brand"
    r = await http.patch(f"/api/workspaces/{created['id']}", json={}, headers=user.headers)
    assert r.status_code == 422 and "requireApproval" in r.json()["message"]

    r = await http.delete(f"/api/workspaces/{user.id}", headers=user.headers)
    assert r.status_code == 409 and "personal" in r.json()["message"]
    r = await http.delete(f"/api/workspaces/{created['id']}", headers=user.headers)
    assert r.status_code == 204
    r = await http.get(f"/api/workspaces/{created['id']}", headers=user.headers)
    assert r.status_code == 404


async def test_deleting_a_workspace_deletes_its_data(
    api: Api, http: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner = await api.user()
    workspace = await team(http, owner)
    r = await http.post(
        "/api/instagram/scheduling/templates",
        json={"name": "t", "captionTemplate": "hi"},
        headers=in_ws(owner, workspace),
    )
    assert r.status_code == 201
    template = r.json()["id"]
    assert (
        await http.delete(f"/api/workspaces/{workspace}", headers=owner.headers)
    ).status_code == 204
    r = await http.get(f"/api/instagram/scheduling/templates/{template}", headers=owner.headers)
    assert r.status_code == 404
    r = await http.get("/api/instagram/accounts", headers=in_ws(owner, workspace))
    assert r.status_code == 404 and "not a member" in r.json()["message"]


async def test_members_share_the_data_of_the_workspace(api: Api, http: httpx.AsyncClient) -> None:
    owner = await api.user()
    workspace = await team(http, owner)
    editor = await member(api, http, owner, workspace, "editor")
    # An account connected in the workspace is seen by its members, not in the personal one.
    sb = await api.sandbox_user()
    r = await http.post(
        "/api/instagram/accounts",
        json={"accessToken": sb["accessToken"]},
        headers=in_ws(owner, workspace),
    )
    assert r.status_code == 201, r.text
    account = r.json()["id"]
    r = await http.get("/api/instagram/accounts", headers=in_ws(editor, workspace))
    assert [a["id"] for a in r.json()] == [account]
    r = await http.get("/api/instagram/accounts", headers=owner.headers)
    assert r.json() == []
    # An editor cannot disconnect it (owners only) but schedules on it; the owner sees the post.
    r = await http.delete(f"/api/instagram/accounts/{account}", headers=in_ws(editor, workspace))
    assert r.status_code == 403 and r.json()["detail"]["requiredRoles"] == ["owner"]
    r = await http.post(
        POSTS,
        json={
            "instagramAccountId": account,
            "scheduledFor": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "caption": "by the editor",
            "mediaUrls": ["https://example.com/a.jpg"],
            "mediaType": "IMAGE",
        },
        headers=in_ws(editor, workspace),
    )
    # The media check answers (the URL is not one of the workspace's uploads), not the access.
    assert r.status_code == 422, r.text
    r = await http.post(
        "/api/instagram/scheduling/templates",
        json={"name": "shared", "captionTemplate": "hi"},
        headers=in_ws(editor, workspace),
    )
    assert r.status_code == 201
    r = await http.get(
        f"/api/instagram/scheduling/templates/{r.json()['id']}", headers=in_ws(owner, workspace)
    )
    assert r.status_code == 200 and r.json()["name"] == "shared"


async def test_the_header_is_checked(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    r = await http.get("/api/instagram/accounts", headers=in_ws(user, "nope"))
    assert r.status_code == 422 and "X-Workspace-Id" in r.json()["message"]
    r = await http.get("/api/instagram/accounts", headers=in_ws(user, str(uuid.uuid4())))
    assert r.status_code == 404 and "not a member" in r.json()["message"]
    r = await http.get("/api/instagram/accounts", headers=in_ws(user, str(user.id)))
    assert r.status_code == 200


async def test_roles_change_and_members_leave(api: Api, http: httpx.AsyncClient) -> None:
    owner = await api.user()
    workspace = await team(http, owner)
    editor = await member(api, http, owner, workspace, "editor")
    viewer = await member(api, http, owner, workspace, "viewer")
    base = f"/api/workspaces/{workspace}/members"

    r = await http.get(base, headers=viewer.headers)
    assert r.status_code == 200
    assert {(m["email"], m["role"]) for m in r.json()} == {
        (owner.email, "owner"),
        (editor.email, "editor"),
        (viewer.email, "viewer"),
    }
    r = await http.patch(f"{base}/{viewer.id}", json={"role": "approver"}, headers=editor.headers)
    assert r.status_code == 403 and r.json()["detail"]["requiredRoles"] == ["owner"]
    r = await http.patch(f"{base}/{viewer.id}", json={"role": "approver"}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["role"] == "approver"
    r = await http.patch(f"{base}/{viewer.id}", json={"role": "boss"}, headers=owner.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "role"
    r = await http.patch(f"{base}/{uuid.uuid4()}", json={"role": "viewer"}, headers=owner.headers)
    assert r.status_code == 404

    # The last owner can neither step down nor leave; with a second owner, they can.
    r = await http.patch(f"{base}/{owner.id}", json={"role": "editor"}, headers=owner.headers)
    assert r.status_code == 409 and "at least one owner" in r.json()["message"]
    r = await http.delete(f"{base}/{owner.id}", headers=owner.headers)
    assert r.status_code == 409
    r = await http.patch(f"{base}/{editor.id}", json={"role": "owner"}, headers=owner.headers)
    assert r.status_code == 200
    r = await http.patch(f"{base}/{owner.id}", json={"role": "editor"}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["role"] == "editor"

    # A member leaves; removing somebody else needs an owner.
    r = await http.delete(f"{base}/{editor.id}", headers=viewer.headers)
    assert r.status_code == 403 and r.json()["detail"]["requiredRoles"] == ["owner"]
    r = await http.delete(f"{base}/{viewer.id}", headers=viewer.headers)
    assert r.status_code == 204
    r = await http.get(f"/api/workspaces/{workspace}", headers=viewer.headers)
    assert r.status_code == 404
    r = await http.delete(f"{base}/{owner.id}", headers=editor.headers)  # editor is owner now
    assert r.status_code == 204
    r = await http.get(base, headers=editor.headers)
    assert [(m["email"], m["role"]) for m in r.json()] == [(editor.email, "owner")]


async def test_the_personal_workspace_keeps_its_owner(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    guest = await member(api, http, user, str(user.id), "owner")
    base = f"/api/workspaces/{user.id}/members"
    r = await http.patch(f"{base}/{user.id}", json={"role": "viewer"}, headers=guest.headers)
    assert r.status_code == 409 and "personal" in r.json()["message"]
    r = await http.delete(f"{base}/{user.id}", headers=guest.headers)
    assert r.status_code == 409
    r = await http.delete(f"/api/workspaces/{user.id}", headers=guest.headers)
    assert r.status_code == 409
    # The guest owner sees the user's personal data through the header.
    r = await http.get("/api/instagram/accounts", headers=in_ws(guest, str(user.id)))
    assert r.status_code == 200


async def test_invitation_links(api: Api, http: httpx.AsyncClient, db: AsyncSession) -> None:
    owner = await api.user()
    workspace = await team(http, owner)
    invited = await api.user()
    base = f"/api/workspaces/{workspace}/invitations"
    r = await http.post(
        base, json={"email": invited.email.upper(), "role": "approver"}, headers=owner.headers
    )
    assert r.status_code == 201, r.text
    created = r.json()
    token = created["token"]
    assert created["url"].endswith(f"/#invitation={token}")
    assert created["status"] == "pending" and created["role"] == "approver"
    # Only the SHA-256 of the token is stored.
    row = await db.scalar(
        select(WorkspaceInvitation).where(WorkspaceInvitation.id == uuid.UUID(created["id"]))
    )
    assert row is not None and row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(vars(row))
    assert timedelta(days=6, hours=23) < row.expires_at - datetime.now(UTC) <= timedelta(days=7)

    r = await http.get(base, headers=owner.headers)
    assert [i["id"] for i in r.json()] == [created["id"]] and "token" not in r.json()[0]

    accept = "/api/workspaces/invitations/accept"
    stranger = await api.user()
    r = await http.post(accept, json={"token": token}, headers=stranger.headers)
    assert r.status_code == 403
    assert r.json()["detail"]["invitedEmail"].lower() == invited.email.lower()
    r = await http.post(accept, json={"token": "not-a-token"}, headers=invited.headers)
    assert r.status_code == 404 and "not valid" in r.json()["message"]
    r = await http.post(accept, json={"token": token})
    assert r.status_code == 401
    r = await http.post(accept, json={"token": token}, headers=invited.headers)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == workspace and r.json()["role"] == "approver"
    r = await http.post(accept, json={"token": token}, headers=invited.headers)
    assert r.status_code == 409 and "already used" in r.json()["message"]
    r = await http.get(base, headers=owner.headers)
    assert r.json()[0]["status"] == "accepted" and r.json()[0]["acceptedBy"] == str(invited.id)
    r = await http.delete(f"{base}/{created['id']}", headers=owner.headers)
    assert r.status_code == 409

    # Revoked and expired links no longer work.
    later = await api.user()
    r = await http.post(base, json={"email": later.email, "role": "viewer"}, headers=owner.headers)
    revoked = r.json()
    r = await http.delete(f"{base}/{revoked['id']}", headers=owner.headers)
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    r = await http.post(accept, json={"token": revoked["token"]}, headers=later.headers)
    assert r.status_code == 409 and "revoked" in r.json()["message"]
    r = await http.post(base, json={"email": later.email, "role": "viewer"}, headers=owner.headers)
    expired = r.json()
    await db.execute(
        update(WorkspaceInvitation)
        .where(WorkspaceInvitation.id == uuid.UUID(expired["id"]))
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    await db.commit()
    r = await http.post(accept, json={"token": expired["token"]}, headers=later.headers)
    assert r.status_code == 409 and "expired" in r.json()["message"]
    r = await http.get(base, headers=owner.headers)
    assert {i["id"]: i["status"] for i in r.json()}[expired["id"]] == "expired"

    # An editor may not invite; an invitation to a member is refused when accepted.
    r = await http.post(
        base, json={"email": "a@example.com", "role": "viewer"}, headers=invited.headers
    )
    assert r.status_code == 403
    r = await http.post(
        base, json={"email": invited.email, "role": "viewer"}, headers=owner.headers
    )
    r = await http.post(accept, json={"token": r.json()["token"]}, headers=invited.headers)
    assert r.status_code == 409 and "already a member" in r.json()["message"]
    r = await http.post(
        base, json={"email": "not an email", "role": "viewer"}, headers=owner.headers
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "email"
