from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from instasched.kit.schemas import ApiModel
from instasched.schedules.schemas import Schedule


class TimeCell(ApiModel):
    day_of_week: int = Field(description="0 = Sunday .. 6 = Saturday, in the account's timezone")
    hour: int = Field(description="0..23, in the account's timezone")
    average_engagement: float | None = Field(
        description="Mean of likes + 2 x comments of the posts published in this hour (history)"
    )
    sample_size: int = Field(
        description="Posts in this hour (history) or days observed (online_followers)"
    )
    score: float | None = Field(
        description="Ranking score: shrunk mean engagement (history) or mean online followers"
    )
    confidence: float = Field(description="0..1: n / (n + prior weight)")
    engagement_rate: float | None = Field(
        description="Mean (likes + comments) / reach over the posts with a known reach"
    )
    online_followers: float | None = Field(
        None, description="Mean followers online in this hour (online_followers basis)"
    )


class OptimalTimes(ApiModel):
    account_id: uuid.UUID
    timezone: str
    basis: Literal["history", "online_followers"]
    published_posts: int = Field(description="Published posts of the account analysed")
    prior_mean: float | None = Field(
        description="The account's mean (capped) engagement the scores shrink toward"
    )
    prior_weight: float
    engagement_cap: float | None = Field(
        description="Per-post engagement is capped at the account's 90th percentile for scoring"
    )
    recommendations: list[TimeCell] = Field(description="The top 5 (day, hour) slots")
    heatmap: list[list[TimeCell]] = Field(description="7 x 24 cells: heatmap[dayOfWeek][hour]")
    schedules: list[Schedule]
    notice: str | None = None
