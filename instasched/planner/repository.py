"""The account's published posts, newest first (the grid planner's fallback and matching)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

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
