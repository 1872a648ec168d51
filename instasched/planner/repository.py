"""The planner's reads: an account's published posts, newest first (the grid planner's
fallback and matching), and its posts changed since a time (the calendar's live updates)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.models import PostStatus, ScheduledPost


async def published_posts(
    session: AsyncSession, *, account_id: uuid.UUID, limit: int
) -> Sequence[ScheduledPost]:
    query = (
        select(ScheduledPost)
        .where(
            ScheduledPost.instagram_account_id == account_id,
            ScheduledPost.status == PostStatus.PUBLISHED,
        )
        .order_by(ScheduledPost.published_at.desc().nulls_last(), ScheduledPost.id)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def changed_posts(
    session: AsyncSession, *, account_id: uuid.UUID, since: datetime, limit: int
) -> Sequence[ScheduledPost]:
    """The account's posts whose row changed after `since`, oldest change first (the account's
    index, then a filter on updated_at: an account's posts are few enough)."""
    query = (
        select(ScheduledPost)
        .where(ScheduledPost.instagram_account_id == account_id, ScheduledPost.updated_at > since)
        .order_by(ScheduledPost.updated_at, ScheduledPost.id)
        .limit(limit)
    )
    return (await session.scalars(query)).all()
