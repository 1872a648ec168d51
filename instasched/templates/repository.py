"""SQL for caption templates. Every read filters by the owner."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.exceptions import NotFound
from instasched.models import PostTemplate


async def get_owned(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    template_id: uuid.UUID,
    for_update: bool = False,
) -> PostTemplate:
    """The user's template, or 404 (another user's id is indistinguishable from a missing one)."""
    query = select(PostTemplate).where(
        PostTemplate.id == template_id, PostTemplate.workspace_id == workspace_id
    )
    if for_update:
        query = query.with_for_update()
    template = await session.scalar(query)
    if template is None:
        raise NotFound("Template not found")
    return template


async def list_owned(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    category: str | None,
    is_active: bool | None,
    account_id: uuid.UUID | None,
    offset: int,
    limit: int,
) -> tuple[list[PostTemplate], int]:
    where = [PostTemplate.workspace_id == workspace_id]
    if category is not None:
        where.append(PostTemplate.category == category)
    if is_active is not None:
        where.append(PostTemplate.is_active.is_(is_active))
    if account_id is not None:
        where.append(PostTemplate.instagram_account_id == account_id)
    total = await session.scalar(select(func.count()).select_from(PostTemplate).where(*where))
    rows = await session.scalars(
        select(PostTemplate)
        .where(*where)
        .order_by(PostTemplate.created_at.desc(), PostTemplate.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)
