"""The web app's planner reads: GET /api/instagram/scheduling/quota/{accountId} (the quota
left around a time), GET /api/instagram/scheduling/changes/{accountId} (posts changed since a
time, for live updates) and GET /api/instagram/accounts/{accountId}/media (the profile grid)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from instasched.exceptions import Invalid
from instasched.kit.deps import SessionDep, StateDep
from instasched.kit.openapi import ACCOUNT_NOT_FOUND, errors
from instasched.planner import service
from instasched.planner.schemas import PostChanges, ProfileMediaList, QuotaLeft
from instasched.workspaces.access import CurrentAccess

router = APIRouter(prefix="/instagram", tags=["Posts"])
AccountIdPath = Annotated[uuid.UUID, Path(alias="accountId", description="Instagram account id")]


@router.get(
    "/scheduling/quota/{accountId}",
    response_model=QuotaLeft,
    responses=errors(
        ACCOUNT_NOT_FOUND,
        (
            "`at` is more than 400 days from now",
            Invalid(
                "at must be within 400 days of now (got 2031-01-01T00:00:00+00:00)", field="at"
            ),
        ),
    ),
)
async def quota_left(
    account_id: AccountIdPath,
    at: Annotated[
        datetime,
        Query(description="ISO 8601 time of the post (no offset: the account's timezone)"),
    ],
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
    exclude_post_id: Annotated[
        uuid.UUID | None,
        Query(alias="excludePostId", description="A post being edited: not counted"),
    ] = None,
) -> QuotaLeft:
    """How many more posts Instagram would publish in the fullest 24 h window holding `at`
    (the composer shows it as the time is chosen). Counts scheduled, publishing and published
    posts as the create check does; a create at a time whose `remaining` is 0 or less is a 422
    unless sent with `allowOverQuota: true`."""
    return await service.quota_left(
        session,
        settings=state.settings,
        workspace_id=access.workspace_id,
        account_id=account_id,
        at=at,
        exclude_post_id=exclude_post_id,
    )


@router.get(
    "/accounts/{accountId}/media",
    response_model=ProfileMediaList,
    responses=errors(ACCOUNT_NOT_FOUND),
    tags=["Accounts"],
)
async def profile_media(
    account_id: AccountIdPath,
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=100, description="How many, newest first")] = 30,
) -> ProfileMediaList:
    """The account's published media as its profile grid shows them, newest first (stories
    left out), read from Instagram (`GET /{ig-user-id}/media`); each item names our post that
    published it (`postId`, `mediaIds`) when there is one. When Instagram does not answer (e.g.
    an expired token), the posts published here are listed instead and `notice` says why."""
    return await service.published_media(
        session,
        graph=state.graph,
        cipher=state.cipher,
        workspace_id=access.workspace_id,
        account_id=account_id,
        limit=limit,
    )


@router.get(
    "/scheduling/changes/{accountId}",
    response_model=PostChanges,
    responses=errors(ACCOUNT_NOT_FOUND),
)
async def post_changes(
    account_id: AccountIdPath,
    since: Annotated[
        datetime,
        Query(description="ISO 8601: posts changed after it (at most 24 h back are listed)"),
    ],
    access: CurrentAccess,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many posts")] = 200,
) -> PostChanges:
    """The account's posts changed after `since`, oldest change first: status changes by the
    worker, edits, new and cancelled posts. A short poll for live updates that works behind any
    number of API processes: send the previous answer's `now` (minus a few seconds: a change
    carries the time its transaction began) as the next `since`."""
    return await service.post_changes(
        session, workspace_id=access.workspace_id, account_id=account_id, since=since, limit=limit
    )
