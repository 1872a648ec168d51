"""Rows inserted straight into the test database (published history, queued posts)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from instasched.models import ScheduledPost


@dataclass(frozen=True)
class Published:
    at: datetime  # aware
    likes: int
    comments: int = 0
    reach: int = 0


async def insert_posts(
    engine: AsyncEngine,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    rows: Iterable[dict[str, Any]],
) -> None:
    values = [
        {
            "workspace_id": workspace_id,
            "instagram_account_id": account_id,
            "caption": "seeded",
            "media_type": "IMAGE",
            "media_urls": [],
            **row,
        }
        for row in rows
    ]
    if not values:
        return
    factory = async_sessionmaker(engine, expire_on_commit=False)
    async with factory() as session:
        await session.execute(insert(ScheduledPost), values)
        await session.commit()


async def seed_published(
    engine: AsyncEngine,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    posts: Iterable[Published],
) -> None:
    await insert_posts(
        engine,
        workspace_id=workspace_id,
        account_id=account_id,
        rows=(
            {
                "status": "published",
                "scheduled_for": p.at,
                "published_at": p.at,
                "initial_likes": p.likes,
                "initial_comments": p.comments,
                "initial_reach": p.reach,
            }
            for p in posts
        ),
    )


async def seed_scheduled(
    engine: AsyncEngine,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    times: Iterable[datetime],
    status: str = "scheduled",
) -> None:
    await insert_posts(
        engine,
        workspace_id=workspace_id,
        account_id=account_id,
        rows=({"status": status, "scheduled_for": t} for t in times),
    )
