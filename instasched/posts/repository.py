"""SQL for scheduled posts, and the few writes posts make to assets and templates.

Every read filters by the owner: another user's id is indistinguishable from a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instasched.exceptions import NotFound
from instasched.models import MediaAsset, PostTemplate, ScheduledPost


async def get_owned(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    post_id: uuid.UUID,
    account_id: uuid.UUID | None = None,
    for_update: bool = False,
) -> ScheduledPost:
    """The user's post (optionally also in `account_id`), or 404.

    `for_update` locks the row, so the worker's conditional claim (`... WHERE status =
    'scheduled'`) waits for this transaction and then re-reads the row we wrote.
    """
    query = select(ScheduledPost).where(
        ScheduledPost.id == post_id, ScheduledPost.user_id == user_id
    )
    if account_id is not None:
        query = query.where(ScheduledPost.instagram_account_id == account_id)
    if for_update:
        query = query.with_for_update()
    post = await session.scalar(query.execution_options(populate_existing=True))
    if post is None:
        raise NotFound("Scheduled post not found")
    return post


async def find_by_idempotency_key(
    session: AsyncSession, *, user_id: uuid.UUID, key: str
) -> ScheduledPost | None:
    post: ScheduledPost | None = await session.scalar(
        select(ScheduledPost)
        .where(ScheduledPost.user_id == user_id, ScheduledPost.idempotency_key == key)
        .execution_options(populate_existing=True)
    )
    return post


def list_conditions(
    *,
    account_id: uuid.UUID,
    status: str | None = None,
    scheduled_after: datetime | None = None,
    scheduled_before: datetime | None = None,
) -> list[ColumnElement[bool]]:
    """Filters of the list. The caller has checked that the account is the user's (every post
    of an account belongs to the account's owner); adding `user_id = ...` here would make the
    planner multiply two dependent selectivities and walk the wrong index."""
    conditions: list[ColumnElement[bool]] = [ScheduledPost.instagram_account_id == account_id]
    if status is not None:
        conditions.append(ScheduledPost.status == status)
    if scheduled_after is not None:
        conditions.append(ScheduledPost.scheduled_for >= scheduled_after)
    if scheduled_before is not None:
        conditions.append(ScheduledPost.scheduled_for <= scheduled_before)
    return conditions


# Without this, PostgreSQL may walk idx_scheduled_posts_scheduled_for (or the reconciler's partial
# index) in time order, filter by account and fix the id order with an incremental sort, assuming
# the account's rows are spread evenly in time: with other accounts' posts interleaved that read
# 80,000 rows for one page (273 ms against 0.8 ms, measured). With incremental sort off, only the
# composite index gives the (scheduled_for, id) order without sorting, so it is always chosen.
LIST_PLANNER_SETTINGS = "SET LOCAL enable_incremental_sort = off"


def list_page_query(
    conditions: Sequence[ColumnElement[bool]], *, offset: int, limit: int
) -> Select[ScheduledPost]:
    """One page in `scheduled_for` order (id breaks ties).

    Served by idx_scheduled_posts_account_time (account, scheduled_for) or, with a status,
    idx_scheduled_posts_account_status_time (account, status, scheduled_for): the index gives the
    order, so a page reads `offset + limit` index entries, not the whole account.
    """
    return (
        select(ScheduledPost)
        .where(*conditions)
        .order_by(ScheduledPost.scheduled_for, ScheduledPost.id)
        .offset(offset)
        .limit(limit)
    )


def list_count_query(conditions: Sequence[ColumnElement[bool]]) -> Select[int]:
    return select(func.count()).select_from(ScheduledPost).where(*conditions)


async def list_for_account(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    status: str | None,
    scheduled_after: datetime | None,
    scheduled_before: datetime | None,
    offset: int,
    limit: int,
) -> tuple[list[ScheduledPost], int]:
    """One page of the account's posts and the total matching the filters (the account must
    already be known to be the caller's)."""
    conditions = list_conditions(
        account_id=account_id,
        status=status,
        scheduled_after=scheduled_after,
        scheduled_before=scheduled_before,
    )
    await session.execute(text(LIST_PLANNER_SETTINGS))
    rows = await session.scalars(list_page_query(conditions, offset=offset, limit=limit))
    total = await session.scalar(list_count_query(conditions))
    return list(rows), int(total or 0)


_USE_ASSET = text(
    "UPDATE instagram_media_assets SET used_in_posts = coalesce(used_in_posts, 0) + :delta, "
    "last_used_at = now() WHERE id = :id"
)
_UNUSE_ASSET = text(
    "UPDATE instagram_media_assets "
    "SET used_in_posts = GREATEST(coalesce(used_in_posts, 0) + :delta, 0) WHERE id = :id"
)


# --- media assets ---------------------------------------------------------------------------
async def assets_by_ids(
    session: AsyncSession, *, user_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, MediaAsset]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = await session.scalars(
        select(MediaAsset).where(MediaAsset.user_id == user_id, MediaAsset.id.in_(wanted))
    )
    return {a.id: a for a in rows}


async def assets_by_locations(
    session: AsyncSession, *, user_id: uuid.UUID, locations: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], MediaAsset]:
    """Assets by (bucket, key), among the user's own only."""
    wanted = list(set(locations))
    if not wanted:
        return {}
    keys = list({key for _, key in wanted})
    rows = await session.scalars(
        select(MediaAsset).where(MediaAsset.user_id == user_id, MediaAsset.s3_key.in_(keys))
    )
    return {(a.s3_bucket, a.s3_key): a for a in rows}


async def change_asset_usage(
    session: AsyncSession, *, asset_ids: Sequence[uuid.UUID], delta: int
) -> set[uuid.UUID]:
    """`used_in_posts` +delta (never below 0); a use also stamps `last_used_at`.

    Returns the ids whose row is gone: an asset deleted by a concurrent request after it was
    read (the media deletion locks the row, so this UPDATE waits for it and then finds nothing).
    """
    missing: set[uuid.UUID] = set()
    sql = _USE_ASSET if delta > 0 else _UNUSE_ASSET
    for asset_id in asset_ids:  # one row per use: a carousel may repeat an asset
        result = await session.execute(sql, {"delta": delta, "id": asset_id})
        if getattr(result, "rowcount", 1) == 0:
            missing.add(asset_id)
    return missing


# --- templates ------------------------------------------------------------------------------
async def get_template_owned(
    session: AsyncSession, *, user_id: uuid.UUID, template_id: uuid.UUID
) -> PostTemplate | None:
    template: PostTemplate | None = await session.scalar(
        select(PostTemplate).where(PostTemplate.id == template_id, PostTemplate.user_id == user_id)
    )
    return template


async def count_template_use(session: AsyncSession, *, template_id: uuid.UUID) -> None:
    await session.execute(
        update(PostTemplate)
        .where(PostTemplate.id == template_id)
        .values(usage_count=func.coalesce(PostTemplate.usage_count, 0) + 1, last_used_at=func.now())
    )


# --- reads outside the request transaction --------------------------------------------------
async def read_fresh(
    factory: async_sessionmaker[AsyncSession], *, user_id: uuid.UUID, post_id: uuid.UUID
) -> ScheduledPost | None:
    """The row as committed right now, in a short session of its own."""
    async with factory() as session:
        post: ScheduledPost | None = await session.scalar(
            select(ScheduledPost).where(
                ScheduledPost.id == post_id, ScheduledPost.user_id == user_id
            )
        )
        return post


async def database_now(session: AsyncSession) -> datetime:
    """The database clock (the worker compares due times against it)."""
    value: datetime = await session.scalar(select(func.now()))  # type: ignore[assignment]
    return value
