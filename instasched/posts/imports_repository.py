"""SQL of the CSV import (posts.imports)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.db import driver_connection
from instasched.models import PostTemplate


async def templates_of_user(
    session: AsyncSession, *, workspace_id: uuid.UUID
) -> list[PostTemplate]:
    rows = await session.scalars(
        select(PostTemplate).where(PostTemplate.workspace_id == workspace_id)
    )
    return list(rows)


async def delete_assets(session: AsyncSession, *, asset_ids: Sequence[uuid.UUID]) -> None:
    """Drop the rows of assets fetched for rows that were not saved (in the import's
    transaction; their objects are deleted after the commit)."""
    if not asset_ids:
        return
    conn = await driver_connection(session, write=True)
    await conn.execute(
        "DELETE FROM instagram_media_assets WHERE id = ANY($1::uuid[])", list(asset_ids)
    )
