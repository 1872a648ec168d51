"""Response bodies of the post insights read after publishing (JSON in camelCase)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from instasched.kit import examples as ex
from instasched.kit.schemas import ApiModel, examples

_PUBLISHED_AT = "2026-12-20T14:00:04Z"
_READING_24H: dict[str, Any] = {
    "checkpoint": "24h",
    "state": "done",
    "dueAt": "2026-12-21T14:00:04Z",
    "fetchedAt": "2026-12-21T14:00:31Z",
    "views": 9840,
    "reach": 6210,
    "likes": 512,
    "comments": 41,
    "shares": 37,
    "saved": 88,
    "totalInteractions": 678,
    "error": None,
}
_READING_7D: dict[str, Any] = {
    **{key: None for key in _READING_24H},
    "checkpoint": "7d",
    "state": "pending",
    "dueAt": "2026-12-27T14:00:04Z",
}
_INITIAL = {"likes": 214, "comments": 18, "reach": 3120}


class InsightReading(ApiModel):
    model_config = examples(_READING_24H, _READING_7D)

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
    model_config = examples(_INITIAL)

    likes: int
    comments: int
    reach: int


class PostInsights(ApiModel):
    model_config = examples(
        {
            "postId": ex.POST_ID,
            "status": "published",
            "publishedAt": _PUBLISHED_AT,
            "initial": _INITIAL,
            "latest": _READING_24H,
            "nextReadAt": _READING_7D["dueAt"],
            "readings": [
                {
                    **_READING_24H,
                    "checkpoint": "1h",
                    "dueAt": "2026-12-20T15:00:04Z",
                    "fetchedAt": "2026-12-20T15:00:09Z",
                    "views": 2950,
                    "reach": 2104,
                    "likes": 260,
                    "comments": 22,
                    "shares": 9,
                    "saved": 31,
                    "totalInteractions": 322,
                },
                _READING_24H,
                _READING_7D,
            ],
        }
    )

    post_id: uuid.UUID
    status: str = Field(description="The post's status (insights exist once it is published)")
    published_at: datetime | None
    initial: InitialCounts = Field(description="Read once, right after publishing")
    latest: InsightReading | None = Field(description="The most recent reading done")
    next_read_at: datetime | None = Field(description="When the next reading is due")
    readings: list[InsightReading] = Field(description="Every checkpoint, in order")
