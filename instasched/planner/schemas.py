from __future__ import annotations

from datetime import datetime

from pydantic import Field

from instasched.kit import examples as ex
from instasched.kit.schemas import ApiModel, examples


class QuotaLeft(ApiModel):
    model_config = examples(
        {
            "at": ex.SCHEDULED_FOR,
            "windowStart": "2026-12-20T09:00:00Z",
            "windowEnd": "2026-12-21T09:00:00Z",
            "count": 22,
            "quota": 25,
            "remaining": 3,
        }
    )

    at: datetime = Field(description="The time asked about (UTC)")
    window_start: datetime = Field(description="Start of the fullest 24 h window holding `at`")
    window_end: datetime = Field(description="End of that window (start + 24 h)")
    count: int = Field(description="Scheduled, publishing and published posts in that window")
    quota: int = Field(
        description="Posts Instagram publishes per 24 h for this account "
        "(`content_publishing_limit` as last read, else PUBLISH_QUOTA_DEFAULT)"
    )
    remaining: int = Field(description="quota - count: posts that still fit (0 or less: full)")
