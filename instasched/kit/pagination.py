"""Pages of a list: `page` and `limit` from the query string, and one page of rows with the
count of them all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Query
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.models.base import Base

RowT = TypeVar("RowT", bound=Base)


@dataclass(frozen=True)
class PageParams:
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


async def page_params(  # async: a plain def would run in the thread pool
    page: int = Query(1, ge=1, le=100_000, description="Page number, from 1"),
    limit: int = Query(20, ge=1, le=100, description="Items per page (1..100)"),
) -> PageParams:
    return PageParams(page=page, limit=limit)


async def fetch_page(
    session: AsyncSession,
    model: type[RowT],
    where: Sequence[Any],
    *,
    order_by: Sequence[Any],
    offset: int,
    limit: int,
) -> tuple[list[RowT], int]:
    """The rows of `model` matching every condition of `where`, `limit` of them from `offset` in
    `order_by` order (end it with the id, so that pages never overlap), and how many match."""
    total = await session.scalar(select(func.count()).select_from(model).where(*where))
    rows = await session.scalars(
        select(model).where(*where).order_by(*order_by).offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)
