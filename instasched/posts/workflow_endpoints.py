"""Retry in place, duplicate and the CSV import (issue 20 items 3 and 4). The history is served
by posts/endpoints.py (its GET must come before /posts/{accountId}/{postId})."""

from __future__ import annotations

from fastapi import APIRouter, status

from instasched.auth.deps import BearerToken, CurrentUser
from instasched.exceptions import Conflict, Invalid, NotFound
from instasched.kit import examples as ex
from instasched.kit.deps import SessionDep, StateDep
from instasched.kit.openapi import ErrorCase, errors
from instasched.posts import lifecycle
from instasched.posts.endpoints import PostIdPath
from instasched.posts.schemas import Post
from instasched.posts.workflow_schemas import PostDuplicate, PostRetry

router = APIRouter(prefix="/instagram/scheduling", tags=["Posts"])

_POST_NOT_FOUND: ErrorCase = (
    "No such post for this user (another user's id included)",
    NotFound("Scheduled post not found"),
)


@router.post(
    "/posts/{postId}/retry",
    response_model=Post,
    responses=errors(
        _POST_NOT_FOUND,
        (
            "The post is not `failed`, or its account must be reconnected first",
            Conflict(
                "Only failed posts can be retried; this post is published (it is published; "
                "duplicate it to post it again)",
                detail={"status": "published", "postId": ex.POST_ID},
            ),
        ),
        (
            "The time is too soon, or a media item was deleted since",
            Invalid(
                "This post's media is no longer in your media library; send new mediaIds",
                field="mediaIds",
            ),
        ),
    ),
)
async def retry_post(
    post_id: PostIdPath,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    body: PostRetry | None = None,
) -> Post:
    """Try a `failed` post again, in place: the same post id goes back to `scheduled` with a new
    attempt budget, due in a few seconds, or at `scheduledFor` (a reschedule, checked like an
    edit: time window and publishing quota). Fix the cause first (the post's history and
    `lastPublishError` say what it was); a post whose account needs reconnecting answers 409
    until it is reconnected. The earlier attempts stay in the history."""
    post, over_quota = await lifecycle.retry_post(
        session,
        settings=state.settings,
        queue=state.queue,
        user_id=user.id,
        post_id=post_id,
        body=body or PostRetry(),
    )
    return Post.of(post, over_quota)


@router.post(
    "/posts/{postId}/duplicate",
    status_code=status.HTTP_201_CREATED,
    response_model=Post,
    responses=errors(
        _POST_NOT_FOUND,
        (
            "The copy breaks a rule of a new post (time, media deleted, quota...)",
            Invalid(
                "scheduledFor is required (an ISO 8601 date-time), or send useNextSlot: true",
                field="scheduledFor",
            ),
        ),
    ),
)
async def duplicate_post(
    post_id: PostIdPath,
    body: PostDuplicate,
    token: BearerToken,
    session: SessionDep,
    state: StateDep,
) -> Post:
    """Copy any post (whatever its status) into a new scheduled post at `scheduledFor` (or the
    next free slot), optionally on another of your accounts: caption (as rendered), media,
    tags, first comment, alt text and the other options. The copy is checked and saved as a
    new post (POST /posts); its history starts with `created` naming the source. Drafts do not
    exist yet: once they do, a copy without a time can become a draft."""
    post, over_quota = await lifecycle.duplicate_post(
        session,
        settings=state.settings,
        queue=state.queue,
        user_id=token.user_id,
        token_version=token.version,
        post_id=post_id,
        body=body,
    )
    return Post.of(post, over_quota)
