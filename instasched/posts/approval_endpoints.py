"""Drafts and approvals (issue 20 item 2): submit, approve, send back (docs/approvals.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from instasched.exceptions import Conflict, Forbidden, Invalid
from instasched.kit import examples as ex
from instasched.kit.deps import SessionDep, StateDep
from instasched.kit.openapi import ErrorCase, errors
from instasched.models import Role
from instasched.posts import approvals
from instasched.posts.endpoints import POST_NOT_FOUND, PostIdPath
from instasched.posts.schemas import Post
from instasched.posts.workflow_schemas import PostApprove, PostReject, PostSubmit
from instasched.workspaces.access import CurrentAccess, roles

router = APIRouter(prefix="/instagram/scheduling", tags=["Approvals"])

_NEEDS_APPROVER: ErrorCase = (
    "The caller's role may not approve: `detail.requiredRoles` names the roles that may",
    Forbidden(
        "This needs the owner or approver role in this workspace; your role is editor",
        detail={"requiredRoles": ["owner", "approver"], "role": "editor"},
    ),
)
_NO_TIME: ErrorCase = (
    "The post has no future time: send scheduledFor",
    Invalid(
        "This draft has no time yet: send scheduledFor (ISO 8601) to submit it, or set its "
        "time first (PUT .../posts/{postId})",
        field="scheduledFor",
    ),
)


def _wrong_status(verb: str, allowed: str, status: str) -> ErrorCase:
    return (
        "The post is not in a status this applies to: `detail` has its status",
        Conflict(
            f"Only {allowed} posts can be {verb}; this post is {status}",
            detail={"status": status, "postId": ex.POST_ID},
        ),
    )


@router.post(
    "/posts/{postId}/submit",
    response_model=Post,
    responses=errors(
        POST_NOT_FOUND,
        _wrong_status("submitted", "draft, changes_requested or approval_expired", "scheduled"),
        _NO_TIME,
    ),
)
async def submit_post(
    post_id: PostIdPath,
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
    body: Annotated[
        PostSubmit | None,
        Body(
            openapi_examples={
                "own": {"summary": "At its own time", "value": {}},
                "time": {
                    "summary": "At this time",
                    "value": {"scheduledFor": "2026-12-21T09:30:00Z"},
                },
            }
        ),
    ] = None,
) -> Post:
    """Submit a draft (or a post sent back, or one whose approval expired): it goes to
    `needs_approval` when the workspace requires approval and your role may not approve (an
    editor), else it is `scheduled` (and queued) at once. It needs a time at least
    `SCHEDULE_MIN_LEAD_SECONDS` ahead: its own, or `scheduledFor` in the body (422 otherwise).
    Roles: owner, editor."""
    decision = await approvals.submit_post(
        session,
        settings=state.settings,
        queue=state.queue,
        access=access,
        post_id=post_id,
        body=body or PostSubmit(),
    )
    return Post.of(decision.post, decision.quota_warning)


@router.post(
    "/posts/{postId}/approve",
    response_model=Post,
    openapi_extra=roles(Role.APPROVER),
    responses=errors(
        POST_NOT_FOUND,
        _NEEDS_APPROVER,
        _wrong_status("approved", "needs_approval or approval_expired", "draft"),
        _NO_TIME,
    ),
)
async def approve_post(
    post_id: PostIdPath,
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
    body: Annotated[
        PostApprove | None,
        Body(
            openapi_examples={
                "plain": {"summary": "Approve", "value": {}},
                "comment": {"summary": "With a comment", "value": {"comment": "Lovely"}},
                "expired": {
                    "summary": "An expired post, at a new time",
                    "value": {"scheduledFor": "2026-12-21T09:30:00Z"},
                },
            }
        ),
    ] = None,
) -> Post:
    """Approve a post in `needs_approval`: it becomes `scheduled` and is queued like any
    scheduled post (checked against the publishing quota). A post in `approval_expired` (its
    time passed unapproved) is approved with a new future `scheduledFor`. The optional
    `comment` is kept on the post (`approval.comment`). Roles: owner, approver."""
    decision = await approvals.approve_post(
        session,
        settings=state.settings,
        queue=state.queue,
        access=access,
        post_id=post_id,
        body=body or PostApprove(),
    )
    return Post.of(decision.post, decision.quota_warning)


@router.post(
    "/posts/{postId}/reject",
    response_model=Post,
    openapi_extra=roles(Role.APPROVER),
    responses=errors(
        POST_NOT_FOUND,
        _NEEDS_APPROVER,
        _wrong_status("sent back", "needs_approval", "scheduled"),
        (
            "The comment is missing or empty",
            Invalid("comment must say what to change (it is empty)", field="comment"),
        ),
    ),
)
async def reject_post(
    post_id: PostIdPath, body: PostReject, access: CurrentAccess, session: SessionDep
) -> Post:
    """Send a post in `needs_approval` back to its author with a `comment` saying what to
    change: it becomes `changes_requested` (never published); the author edits it and submits
    it again. Roles: owner, approver."""
    post = await approvals.reject_post(session, access=access, post_id=post_id, body=body)
    return Post.of(post)
