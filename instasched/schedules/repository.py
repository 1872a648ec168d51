"""SQL for posting schedules (and the occupied minutes the "add to queue" slot finder reads)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.models import PostingSchedule, PostStatus, ScheduledPost


async def list_for_account(
    session: AsyncSession, *, account_id: uuid.UUID, active_only: bool = False
) -> list[PostingSchedule]:
    query = select(PostingSchedule).where(PostingSchedule.instagram_account_id == account_id)
    if active_only:
        query = query.where(PostingSchedule.is_active.is_(True))
    rows = await session.scalars(query.order_by(PostingSchedule.day_of_week))
    return list(rows)


async def get_for_day(
    session: AsyncSession, *, account_id: uuid.UUID, day_of_week: int, for_update: bool = False
) -> PostingSchedule | None:
    query = select(PostingSchedule).where(
        PostingSchedule.instagram_account_id == account_id,
        PostingSchedule.day_of_week == day_of_week,
    )
    if for_update:
        query = query.with_for_update()
    result: PostingSchedule | None = await session.scalar(query)
    return result


async def delete_for_day(session: AsyncSession, *, account_id: uuid.UUID, day_of_week: int) -> int:
    result = await session.execute(
        delete(PostingSchedule).where(
            PostingSchedule.instagram_account_id == account_id,
            PostingSchedule.day_of_week == day_of_week,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def occupied_minutes(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    start: datetime,
    end: datetime,
    candidates: Sequence[datetime],
    exclude_post_id: uuid.UUID | None = None,
) -> set[datetime]:
    """The candidate minutes (UTC, whole minutes) that already hold a scheduled/publishing post.

    The range bounds use the (account, status, scheduled_for) index; the minute match keeps the
    answer as small as the candidate list.
    """
    if not candidates:
        return set()
    minute = func.date_trunc("minute", ScheduledPost.scheduled_for)
    query = (
        select(minute)
        .where(
            ScheduledPost.instagram_account_id == account_id,
            ScheduledPost.status.in_((PostStatus.SCHEDULED, PostStatus.PUBLISHING)),
            ScheduledPost.scheduled_for >= start,
            ScheduledPost.scheduled_for < end,
            minute.in_(list(candidates)),
        )
        .distinct()
    )
    if exclude_post_id is not None:
        query = query.where(ScheduledPost.id != exclude_post_id)
    rows = await session.scalars(query)
    return set(rows)
