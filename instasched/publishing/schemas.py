"""Response bodies of the post insights read after publishing (JSON in camelCase)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from instasched.kit.schemas import ApiModel


class InsightReading(ApiModel):
    checkpoint: str = Field(description="When after publishing: 1h, 24h or 7d", examples=["24h"])
    state: str = Field(description="pending (not read yet), done, or stopped", examples=["done"])
    due_at: datetime
    fetched_at: datetime | None
    views: int | None
    reach: int | None
    likes: int | None
    comments: int | None
    shares: int | None
    saved: int | None
    total_interactions: int | None
    error: str | None = Field(description="Why the last try failed, or why reading stopped")

    @classmethod
    def of(cls, row: dict[str, Any]) -> InsightReading:
        return cls(**row)


class InitialCounts(ApiModel):
    likes: int
    comments: int
    reach: int


class PostInsights(ApiModel):
    post_id: uuid.UUID
    status: str = Field(description="The post's status (insights exist once it is published)")
    published_at: datetime | None
    initial: InitialCounts = Field(description="Read once, right after publishing")
    latest: InsightReading | None = Field(description="The most recent reading done")
    next_read_at: datetime | None = Field(description="When the next reading is due")
    readings: list[InsightReading] = Field(description="Every checkpoint, in order")
