"""The optimal-times aggregate: one SQL query over the account's published posts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Per post: day of week (0 = Sunday) and hour of `published_at` in the account's timezone,
# engagement e = likes + 2 x comments, rate = (likes + comments) / reach when reach > 0. The
# counts are the post's 24 h reading (instagram_post_insights, publishing.insights) once it is
# done, else those read at publication.
# The score of a (day, hour) cell is a Bayesian average toward the account's mean, computed on
# engagement capped at the account's 90th percentile (percentile_disc: an actual post's value):
#     score = (sum(min(e, cap)) + k * mean(min(e, cap))) / (n + k)
# so neither a small sample nor one viral post can outrank a consistently good slot.
_CELLS = text(
    """
WITH counts AS (
    SELECT
        sp.published_at,
        coalesce(d.likes, sp.initial_likes, 0) AS likes,
        coalesce(d.comments, sp.initial_comments, 0) AS comments,
        coalesce(d.reach, sp.initial_reach, 0) AS reach
    FROM instagram_scheduled_posts sp
    LEFT JOIN instagram_post_insights d
        ON d.post_id = sp.id AND d.checkpoint = '24h' AND d.state = 'done'
    WHERE sp.instagram_account_id = :account_id
      AND sp.workspace_id = :workspace_id
      AND sp.status = 'published'
      AND sp.published_at IS NOT NULL
),
p AS (
    SELECT
        extract(dow FROM published_at AT TIME ZONE :tz)::int AS dow,
        extract(hour FROM published_at AT TIME ZONE :tz)::int AS hour,
        (likes + 2 * comments)::float8 AS e,
        CASE WHEN reach > 0 THEN (likes + comments)::float8 / reach END AS rate
    FROM counts
),
stats AS (
    SELECT count(*) AS total, percentile_disc(0.9) WITHIN GROUP (ORDER BY e) AS cap FROM p
),
prior AS (
    SELECT avg(least(p.e, stats.cap)) AS mean FROM p CROSS JOIN stats
),
cells AS (
    SELECT p.dow, p.hour, count(*) AS n, avg(p.e) AS avg_e,
           sum(least(p.e, stats.cap)) AS sum_capped, avg(p.rate) AS avg_rate
    FROM p CROSS JOIN stats
    GROUP BY p.dow, p.hour
)
SELECT cells.dow, cells.hour, cells.n, cells.avg_e, cells.avg_rate,
       (cells.sum_capped + CAST(:k AS float8) * prior.mean)
           / (cells.n + CAST(:k AS float8)) AS score,
       stats.total, stats.cap, prior.mean
FROM cells CROSS JOIN stats CROSS JOIN prior
ORDER BY score DESC, cells.n DESC, cells.dow, cells.hour
"""
)


@dataclass(frozen=True)
class CellRow:
    day_of_week: int
    hour: int
    sample_size: int
    average_engagement: float
    engagement_rate: float | None
    score: float


@dataclass(frozen=True)
class HistoryAggregate:
    total_posts: int
    cap: float | None
    prior_mean: float | None
    cells: list[CellRow]  # only cells with posts, best score first


async def history_aggregate(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    timezone: str,
    prior_weight: float,
) -> HistoryAggregate:
    result = await session.execute(
        _CELLS,
        {
            "tz": timezone,
            "account_id": account_id,
            "workspace_id": workspace_id,
            "k": float(prior_weight),
        },
    )
    rows = result.all()
    if not rows:
        return HistoryAggregate(total_posts=0, cap=None, prior_mean=None, cells=[])
    first = rows[0]
    return HistoryAggregate(
        total_posts=int(first.total),
        cap=float(first.cap) if first.cap is not None else None,
        prior_mean=float(first.mean) if first.mean is not None else None,
        cells=[
            CellRow(
                day_of_week=int(r.dow),
                hour=int(r.hour),
                sample_size=int(r.n),
                average_engagement=float(r.avg_e),
                engagement_rate=float(r.avg_rate) if r.avg_rate is not None else None,
                score=float(r.score),
            )
            for r in rows
        ],
    )
