"""SQL for media assets. Every read filters by the owner."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.kit.pagination import fetch_page
from instasched.models import MediaAsset, PostStatus, ScheduledPost
from instasched.models.base import loaded, stored_attributes
from instasched.workspaces.repository import get_in_workspace

# Through asyncpg: the asset read of every post creation and every publication (see
# accounts.repository.fetch_account). Every column, by its attribute name; not the uses
# (`used_in_posts`, `last_used_at`), which neither reads.
_ASSET_COLUMNS = ", ".join(f"{c} AS {a}" for c, a in stored_attributes(MediaAsset))
_ASSETS_OF_USER = (
    f"SELECT {_ASSET_COLUMNS} FROM instagram_media_assets "  # noqa: S608 - fixed names
    "WHERE workspace_id = $1 AND id = ANY($2::uuid[])"
)


async def fetch_assets(
    conn: Any, *, workspace_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, MediaAsset]:
    """The user's assets among `ids` on an asyncpg connection, as detached model objects
    (reading only; without the uses, see `_ASSET_COLUMNS`)."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = await conn.fetch(_ASSETS_OF_USER, workspace_id, wanted)
    return {asset.id: asset for asset in (loaded(MediaAsset, row) for row in rows)}


async def get_owned(
    session: AsyncSession, *, workspace_id: uuid.UUID, asset_id: uuid.UUID, for_update: bool = False
) -> MediaAsset:
    """The workspace's asset, or 404 (see `get_in_workspace`)."""
    return await get_in_workspace(
        session,
        MediaAsset,
        asset_id,
        workspace_id=workspace_id,
        not_found="Media asset not found",
        for_update=for_update,
    )


async def exists(session: AsyncSession, *, asset_id: uuid.UUID) -> bool:
    found = await session.scalar(select(MediaAsset.id).where(MediaAsset.id == asset_id))
    return found is not None


async def list_owned(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    media_type: str | None = None,
    account_id: uuid.UUID | None = None,
    tag: str | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[MediaAsset], int]:
    """Newest first (id breaks ties so pages never overlap)."""
    conditions: list[Any] = [MediaAsset.workspace_id == workspace_id]
    if media_type is not None:
        conditions.append(MediaAsset.media_type == media_type)
    if account_id is not None:
        conditions.append(MediaAsset.instagram_account_id == account_id)
    if tag is not None:
        conditions.append(MediaAsset.tags.contains([tag]))
    return await fetch_page(
        session,
        MediaAsset,
        conditions,
        order_by=(MediaAsset.created_at.desc(), MediaAsset.id.desc()),
        offset=offset,
        limit=limit,
    )


async def active_posts_using(
    session: AsyncSession, *, workspace_id: uuid.UUID, asset_id: uuid.UUID
) -> list[uuid.UUID]:
    """Ids of the user's `scheduled` or `publishing` posts whose media_ids hold the asset."""
    rows = await session.scalars(
        select(ScheduledPost.id)
        .where(
            ScheduledPost.workspace_id == workspace_id,
            ScheduledPost.status.in_((PostStatus.SCHEDULED, PostStatus.PUBLISHING)),
            ScheduledPost.media_ids.contains([str(asset_id)]),
        )
        .limit(10)
    )
    return list(rows)


async def usage(
    session: AsyncSession, *, workspace_id: uuid.UUID
) -> dict[str, tuple[int, int, int]]:
    """media_type → (count, stored bytes, original bytes)."""
    result = await session.execute(
        select(
            MediaAsset.media_type,
            func.count(),
            func.coalesce(func.sum(MediaAsset.stored_bytes), 0),
            func.coalesce(func.sum(MediaAsset.file_size), 0),
        )
        .where(MediaAsset.workspace_id == workspace_id)
        .group_by(MediaAsset.media_type)
    )
    return {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in result}


async def delete(session: AsyncSession, asset: MediaAsset) -> None:
    await session.delete(asset)
    await session.flush()
