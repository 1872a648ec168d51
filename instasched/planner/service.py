"""The publishing quota left around a time, for the composer (read only, no lock)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.accounts import repository as accounts
from instasched.config import Settings
from instasched.planner.schemas import QuotaLeft
from instasched.posts import quota


async def quota_left(
    session: AsyncSession,
    *,
    settings: Settings,
    user_id: uuid.UUID,
    account_id: uuid.UUID,
    at: datetime,
    exclude_post_id: uuid.UUID | None = None,
) -> QuotaLeft:
    """The fullest 24 h window holding `at` (a time without offset is the account's wall
    time), how many posts it holds and how many more fit. `exclude_post_id`: a post being
    edited is not counted against itself."""
    account = await accounts.get_owned(session, user_id=user_id, account_id=account_id)
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(account.timezone))
    limit = quota.quota_of(account, settings)
    found = await quota.windows(
        session, account_id=account.id, quota=limit, times=[at], exclude_post_id=exclude_post_id
    )
    window = next(iter(found.values()))
    # `windows` counts a new post at `at`; the answer is about the posts already there.
    count = window.posts - 1
    return QuotaLeft(
        at=at.astimezone(UTC),
        window_start=window.start,
        window_end=window.end,
        count=count,
        quota=limit,
        remaining=limit - count,
    )
