"""SQL for caption templates. Every read filters by the owner."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.kit.pagination import fetch_page
from instasched.models import PostTemplate
from instasched.workspaces.repository import get_in_workspace


async def get_owned(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    template_id: uuid.UUID,
    for_update: bool = False,
) -> PostTemplate:
    """The workspace's template, or 404 (see `get_in_workspace`)."""
    return await get_in_workspace(
        session,
        PostTemplate,
        template_id,
        workspace_id=workspace_id,
        not_found="Template not found",
        for_update=for_update,
    )


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
    return await fetch_page(
        session,
        PostTemplate,
        where,
        order_by=(PostTemplate.created_at.desc(), PostTemplate.id),
        offset=offset,
        limit=limit,
    )
