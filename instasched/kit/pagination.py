from __future__ import annotations

from dataclasses import dataclass

from fastapi import Query


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
