"""Scheduled posts: the spec's post endpoints under /api/instagram/scheduling."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response, status

from instasched.auth.deps import BearerToken, scope
from instasched.db import commit
from instasched.exceptions import Conflict, Invalid, NotFound
from instasched.kit import examples as ex
from instasched.kit.deps import SessionDep, StateDep
from instasched.kit.openapi import ACCOUNT_NOT_FOUND, ErrorCase, errors
from instasched.kit.pagination import PageParams, page_params
from instasched.kit.schemas import json_response
from instasched.posts import lifecycle, service
from instasched.posts.schemas import (
    Post,
    PostCancelled,
    PostCreate,
    PostList,
    PostUpdate,
    StatusName,
)
from instasched.posts.workflow_schemas import PostHistory
from instasched.publishing import insights
from instasched.publishing.schemas import PostInsights
from instasched.workspaces.access import CurrentAccess, TokenAccess

router = APIRouter(prefix="/instagram/scheduling", tags=["Posts"])

AccountIdPath = Annotated[uuid.UUID, Path(alias="accountId", description="Instagram account id")]
PostIdPath = Annotated[uuid.UUID, Path(alias="postId", description="Scheduled post id")]

POST_NOT_FOUND: ErrorCase = (
    "No such post in this workspace (another workspace's id included)",
    NotFound("Scheduled post not found"),
)
_TOO_SOON: ErrorCase = (
    "scheduledFor is less than 5 minutes or more than 183 days ahead",
    Invalid(
        "scheduledFor must be at least 5 minutes (300 s) in the future (the earliest possible "
        "time now is 2026-12-01T09:20:00Z; got 2026-12-01T09:00:00Z)",
        field="scheduledFor",
    ),
)
_NOT_YOUR_MEDIA: ErrorCase = (
    "A media item is not one of your uploads",
    Invalid(
        "mediaIds[0] is not one of your uploaded media assets; upload the file first "
        "(POST /api/instagram/scheduling/media/upload)",
        field="mediaIds[0]",
    ),
)
_CAPTION: ErrorCase = (
    "The caption breaks Instagram's limits (length, hashtags, mentions)",
    Invalid("caption has 34 hashtags; at most 30 are allowed", field="caption"),
)


def _not_scheduled(verb: str) -> ErrorCase:
    return (
        "The post is not `scheduled`: `detail` has its status",
        Conflict(
            f"Only scheduled posts can be {verb}; this post is published (it is already published)",
            detail={"status": "published", "postId": ex.POST_ID},
        ),
    )


@router.post(
    "/posts",
    status_code=status.HTTP_201_CREATED,
    response_model=Post,
    responses={
        200: {"model": Post, "description": "Replay of an Idempotency-Key"},
        **errors(
            ACCOUNT_NOT_FOUND,
            (
                "The template is not one of yours",
                NotFound("Template not found", detail=[{"field": "templateId"}]),
            ),
            (
                "Another request with this Idempotency-Key is creating the post",
                Conflict("A post with this Idempotency-Key is being created; retry"),
            ),
            _TOO_SOON,
            _NOT_YOUR_MEDIA,
            _CAPTION,
        ),
    },
)
async def create_post(
    body: PostCreate,
    token: BearerToken,
    access: TokenAccess,
    session: SessionDep,
    state: StateDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Retry-safe creation: the same key and body return the first post "
            "(200); the key with another body is a 422",
        ),
    ] = None,
) -> Response:
    """Schedule a post.

    - `scheduledFor` (ISO 8601): with no offset it is read in the account's timezone. It must be
      at least `SCHEDULE_MIN_LEAD_SECONDS` (300) and at most `SCHEDULE_MAX_LEAD_MONTHS` (6)
      calendar months ahead (in the account's timezone; Aug 31 → Feb 28/29).
      Or send `useNextSlot: true` for the next free slot of the account's posting schedule.
    - Media: `mediaIds` (asset ids) or `mediaUrls` (the `s3Url` of an upload, or a presigned URL
      of it); every item must be one of your uploaded assets. IMAGE: 1 image; VIDEO/REELS:
      1 video; CAROUSEL: 2-10; STORIES: 1 image or video, no caption.
    - Caption <= 2,200 characters, hashtags `#letters_digits` (<= `MAX_HASHTAGS`, default 5:
      Instagram's cap since December 2025), <= 20 @-mentions. With `templateId` +
      `templateVariables` the caption is rendered from the template (send no caption).
    - `collaborators`: up to 5 usernames on IMAGE, VIDEO/REELS and CAROUSEL posts (sent on the
      carousel itself, not its items); STORIES take none (422).
    - Publishing quota: a time that would put more posts in any 24 h window than the account's
      quota (`content_publishing_limit` as last read, else `PUBLISH_QUOTA_DEFAULT`) is a 422
      whose `detail[0]` has `windowStart`, `windowEnd`, `count` and `quota`; with
      `allowOverQuota: true` the post is saved and the answer carries `quotaWarning`.
    - The publish job is queued after the post is saved; it runs at `scheduledFor`.
    - `draft: true` saves a draft (status `draft`; `scheduledFor` optional): never published,
      not counted against the publishing quota. In a workspace that requires approval, a post
      of a member who may not approve (an editor) is saved `needs_approval` and waits for an
      owner or approver (POST .../posts/{postId}/approve); docs/approvals.md.
    """
    post, created, over_quota = await service.create_post(
        session,
        settings=state.settings,
        queue=state.queue,
        access=access,
        token_version=token.version,
        body=body,
        idempotency_key=idempotency_key,
    )
    return json_response(
        Post.of(post, over_quota), status.HTTP_201_CREATED if created else status.HTTP_200_OK
    )


@router.get(
    "/posts/{accountId}",
    response_model=PostList,
    responses=errors(
        ACCOUNT_NOT_FOUND,
        (
            "scheduledBefore is earlier than scheduledAfter",
            Invalid(
                "scheduledBefore must not be earlier than scheduledAfter", field="scheduledBefore"
            ),
        ),
    ),
)
async def list_posts(
    account_id: AccountIdPath,
    access: CurrentAccess,
    session: SessionDep,
    paging: Annotated[PageParams, Depends(page_params)],
    status_filter: Annotated[
        StatusName | None,
        Query(alias="status", description="Only posts in this status (`draft`: the drafts)"),
    ] = None,
    scheduled_after: Annotated[
        str | None,
        Query(
            alias="scheduledAfter",
            description="ISO 8601; posts scheduled at or after it (no offset: account timezone)",
        ),
    ] = None,
    scheduled_before: Annotated[
        str | None,
        Query(alias="scheduledBefore", description="ISO 8601; posts scheduled at or before it"),
    ] = None,
) -> Response:
    """The account's posts in `scheduledFor` order, a page at a time (`limit` 1..100)."""
    posts, total = await service.list_posts(
        session,
        workspace_id=access.workspace_id,
        account_id=account_id,
        status=status_filter,
        scheduled_after=scheduled_after,
        scheduled_before=scheduled_before,
        page=paging.page,
        limit=paging.limit,
    )
    return json_response(
        PostList(
            posts=[Post.of(p) for p in posts], total=total, page=paging.page, limit=paging.limit
        )
    )


# Before /posts/{accountId}/{postId}, which would take "insights" for a post id.
@router.get(
    "/posts/{postId}/insights", response_model=PostInsights, responses=errors(POST_NOT_FOUND)
)
async def post_insights(
    post_id: PostIdPath, access: CurrentAccess, session: SessionDep
) -> PostInsights:
    """A published post's insights over time: `initial` (read at publication), then readings 1 h,
    24 h and 7 d after it (views, reach, likes, comments, shares, saved, totalInteractions),
    each `pending` until the worker reads it, `done`, or `stopped` (e.g. the media was deleted
    on Instagram; `error` says why). Stories have no readings."""
    return await insights.post_insights(session, workspace_id=access.workspace_id, post_id=post_id)


@router.get("/posts/{postId}/history", response_model=PostHistory, responses=errors(POST_NOT_FOUND))
async def post_history(
    post_id: PostIdPath, access: CurrentAccess, session: SessionDep
) -> PostHistory:
    """Everything that happened to the post, oldest first: created, edited (what changed),
    cancelled, retried, each publish attempt with every Instagram Graph call (endpoint, HTTP
    status, Meta's error code and `fbtraceId`), retries planned, published or failed, metrics
    read. `summary` is one sentence per event; `lastPublishError` says why a failed post failed."""
    return await lifecycle.post_history(session, workspace_id=access.workspace_id, post_id=post_id)


@router.get(
    "/posts/{accountId}/{postId}",
    response_model=Post,
    responses=errors(ACCOUNT_NOT_FOUND, POST_NOT_FOUND),
)
async def get_post(
    account_id: AccountIdPath, post_id: PostIdPath, access: CurrentAccess, session: SessionDep
) -> Post:
    """One post with its publishing state (attempts, last error, permalink, ...)."""
    post = await service.get_post(
        session, workspace_id=access.workspace_id, account_id=account_id, post_id=post_id
    )
    return Post.of(post)


@router.put(
    "/posts/{postId}",
    response_model=Post,
    responses=errors(
        POST_NOT_FOUND, _not_scheduled("edited"), _TOO_SOON, _NOT_YOUR_MEDIA, _CAPTION
    ),
)
async def update_post(
    post_id: PostIdPath,
    body: PostUpdate,
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
) -> Post:
    """Edit a `scheduled` post, a draft, or a post in the approval workflow (`needs_approval`,
    `changes_requested`, `approval_expired`: it keeps its status). Only the fields sent change
    (`"caption": ""` empties the caption; `null` clears an optional field); the result is
    validated like a new post. A new `scheduledFor` moves the publish job; it is checked
    against the publishing quota as on create (422, or `quotaWarning` with
    `allowOverQuota: true`). In a workspace that requires approval, an editor's change to a
    scheduled post sends it back to `needs_approval` (its publish job is dropped)."""
    post, over_quota = await service.update_post(
        session,
        settings=state.settings,
        queue=state.queue,
        access=access,
        post_id=post_id,
        body=body,
    )
    return Post.of(post, over_quota)


@router.delete(
    "/posts/{postId}",
    response_model=PostCancelled,
    responses=errors(POST_NOT_FOUND, _not_scheduled("cancelled")),
)
async def cancel_post(
    post_id: PostIdPath, access: CurrentAccess, session: SessionDep, state: StateDep
) -> PostCancelled:
    """Cancel a `scheduled` post (or discard a draft, or a post in the approval workflow): it
    keeps its row (status `cancelled`, `cancelledAt` set) and its publish job is removed."""
    post = await service.cancel_post(
        session,
        queue=state.queue,
        access=access,
        post_id=post_id,
    )
    return PostCancelled(message="Post cancelled successfully", post=Post.of(post))


@router.post(
    "/posts/{postId}/publish-now",
    response_model=Post,
    openapi_extra=scope("publish"),
    responses=errors(POST_NOT_FOUND, _not_scheduled("published now")),
)
async def publish_now(
    post_id: PostIdPath,
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
    wait_seconds: Annotated[
        float | None,
        Query(
            alias="waitSeconds",
            ge=0,
            le=120,
            description="How long to wait for the outcome (default PUBLISH_NOW_WAIT_SECONDS)",
        ),
    ] = None,
) -> Post:
    """Publish a `scheduled` post now: its job becomes due at once, then the answer waits (up to
    `PUBLISH_NOW_WAIT_SECONDS`, 15 s) for the worker and returns the post as it is then:
    `published` (with permalink), `failed`, or still `scheduled`/`publishing` if not done yet.
    The original time is kept in `metadata.originalScheduledFor`."""
    post = await service.publish_now(
        session,
        settings=state.settings,
        queue=state.queue,
        access=access,
        post_id=post_id,
    )
    attempts_before = post.publish_attempts or 0
    # The worker only sees the change once it is committed: commit (which queues the job)
    # before waiting, instead of when the endpoint returns.
    await commit(session)
    timeout = state.settings.publish_now_wait_seconds if wait_seconds is None else wait_seconds
    fresh = await service.wait_for_outcome(
        state.session_factory,
        workspace_id=access.workspace_id,
        post_id=post.id,
        attempts_before=attempts_before,
        wait_seconds=timeout,
    )
    return Post.of(fresh)
