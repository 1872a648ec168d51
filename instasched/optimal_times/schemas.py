from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field

from instasched.kit import examples as ex
from instasched.kit.schemas import ApiModel, examples
from instasched.schedules.schemas import SCHEDULE_EXAMPLE, Schedule


def _cell(day: int, hour: int, n: int, mean: float, score: float, rate: float) -> dict[str, Any]:
    return {
        "dayOfWeek": day,
        "hour": hour,
        "averageEngagement": mean,
        "sampleSize": n,
        "score": score,
        "confidence": round(n / (n + 3), 2),
        "engagementRate": rate,
        "onlineFollowers": None,
    }


# basis "history": 48 published posts, scores shrunk toward the mean 287.4 with weight 3.
_RECOMMENDATIONS: list[Any] = [
    _cell(0, 15, 5, 412.6, 365.65, 0.0712),
    _cell(3, 19, 4, 398.0, 350.6, 0.0684),
    _cell(5, 12, 6, 371.2, 343.27, 0.0655),
    _cell(2, 9, 5, 355.0, 329.65, 0.0631),
    _cell(6, 11, 4, 340.5, 317.74, 0.0602),
]
_EMPTY_CELL: dict[str, Any] = {
    "dayOfWeek": 0,
    "hour": 0,
    "averageEngagement": None,
    "sampleSize": 0,
    "score": None,
    "confidence": 0.0,
    "engagementRate": None,
    "onlineFollowers": None,
}


class TimeCell(ApiModel):
    model_config = examples(_RECOMMENDATIONS[0])

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
    model_config = examples(
        {
            "accountId": ex.ACCOUNT_ID,
            "timezone": ex.TIMEZONE,
            "basis": "history",
            "publishedPosts": 48,
            "priorMean": 287.4,
            "priorWeight": 3.0,
            "engagementCap": 655.0,
            "recommendations": _RECOMMENDATIONS,
            # The API answers all 7 x 24 cells; the example shows Sunday's first hour.
            "heatmap": [[_EMPTY_CELL]],
            "schedules": [SCHEDULE_EXAMPLE],
            "notice": None,
        }
    )

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
