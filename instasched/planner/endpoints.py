"""GET /api/instagram/scheduling/quota/{accountId}: the quota left around a time."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from instasched.auth.deps import CurrentUser
from instasched.kit.deps import SessionDep, StateDep
from instasched.kit.openapi import ACCOUNT_NOT_FOUND, errors
from instasched.planner import service
from instasched.planner.schemas import QuotaLeft

router = APIRouter(prefix="/instagram/scheduling", tags=["Posts"])


@router.get(
    "/quota/{accountId}", response_model=QuotaLeft, responses=errors(ACCOUNT_NOT_FOUND)
)
async def quota_left(
    account_id: Annotated[uuid.UUID, Path(alias="accountId", description="Instagram account id")],
    at: Annotated[
        datetime,
        Query(description="ISO 8601 time of the post (no offset: the account's timezone)"),
    ],
    user: CurrentUser,
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
        user_id=user.id,
        account_id=account_id,
        at=at,
        exclude_post_id=exclude_post_id,
    )
