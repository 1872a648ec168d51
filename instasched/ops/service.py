"""Counts for operators: posts by status, next due posts, storage usage."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.models import MediaAsset, PostStatus, ScheduledPost
from instasched.observability.metrics import POSTS_BY_STATUS, STORAGE_BYTES, STORAGE_OBJECTS


async def counts_by_status(
    session: AsyncSession, *, workspace_id: uuid.UUID | None
) -> dict[str, int]:
    query = select(ScheduledPost.status, func.count()).group_by(ScheduledPost.status)
    if workspace_id is not None:
        query = query.where(ScheduledPost.workspace_id == workspace_id)
    rows = (await session.execute(query)).all()
    counts = dict.fromkeys(PostStatus.ALL, 0)
    counts.update({str(status): int(n) for status, n in rows})
    return counts


async def next_due(
    session: AsyncSession, *, workspace_id: uuid.UUID | None, limit: int = 10
) -> list[dict[str, Any]]:
    due = func.coalesce(ScheduledPost.next_attempt_at, ScheduledPost.scheduled_for)
    query = (
        select(
            ScheduledPost.id,
            ScheduledPost.instagram_account_id,
            ScheduledPost.media_type,
            ScheduledPost.scheduled_for,
            ScheduledPost.next_attempt_at,
            due.label("due_at"),
        )
        .where(ScheduledPost.status == PostStatus.SCHEDULED)
        .order_by(due)
        .limit(limit)
    )
    if workspace_id is not None:
        query = query.where(ScheduledPost.workspace_id == workspace_id)
    rows = (await session.execute(query)).all()
    return [
        {
            "id": str(r.id),
            "instagramAccountId": str(r.instagram_account_id),
            "mediaType": r.media_type,
            "scheduledFor": _iso(r.scheduled_for),
            "nextAttemptAt": _iso(r.next_attempt_at),
            "dueAt": _iso(r.due_at),
        }
        for r in rows
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def refresh_db_gauges(session: AsyncSession) -> None:
    """Set the posts-by-status and storage gauges from PostgreSQL (at scrape time)."""
    for status, n in (await counts_by_status(session, workspace_id=None)).items():
        POSTS_BY_STATUS.labels(status=status).set(n)
    total = await session.execute(
        select(func.coalesce(func.sum(MediaAsset.stored_bytes), 0), func.count())
    )
    total_bytes, total_count = total.one()
    # Totals only: /metrics is unauthenticated, and per-user figures listed user ids with their
    # storage to anyone (issue 24). Per-user usage is GET .../media/usage, for its owner.
    STORAGE_BYTES.labels(user_id="all").set(float(total_bytes))
    STORAGE_OBJECTS.labels(user_id="all").set(float(total_count))
