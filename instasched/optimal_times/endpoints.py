from __future__ import annotations

import uuid

from fastapi import APIRouter

from instasched.kit.deps import SessionDep, StateDep
from instasched.kit.openapi import ACCOUNT_NOT_FOUND, errors
from instasched.optimal_times import service
from instasched.optimal_times.schemas import OptimalTimes, TimeCell
from instasched.schedules.schemas import Schedule
from instasched.workspaces.access import CurrentAccess

router = APIRouter(prefix="/instagram/scheduling", tags=["Optimal times"])


def _cell(cell: service.Cell) -> TimeCell:
    return TimeCell.model_validate(cell)


@router.get(
    "/optimal-times/{account_id}",
    response_model=OptimalTimes,
    responses=errors(ACCOUNT_NOT_FOUND),
)
async def get_optimal_times(
    account_id: uuid.UUID, access: CurrentAccess, session: SessionDep, state: StateDep
) -> OptimalTimes:
    """Best times to post for the account, by day of week (0 = Sunday) and hour in the
    account's timezone.

    - `basis: "history"` (10 or more published posts): engagement per post = likes + 2 x comments;
      cells are ranked by `score`, a Bayesian average toward the account's mean (prior weight 3
      posts) of engagement capped at the account's 90th percentile, so a small sample or one
      viral post does not win over a consistently good slot. `averageEngagement` is the plain
      mean, `engagementRate` = (likes + comments) / reach when reach is known, `confidence` =
      n / (n + 3).
    - `basis: "online_followers"` (fewer posts): the account's `online_followers` insight from
      Instagram (last 28 days; Meta's hours, at UTC−07:00, converted to the account's
      timezone); `score` is the mean number of followers online.

    Returns the top 5 `recommendations`, the full 7 x 24 `heatmap` (`heatmap[dayOfWeek][hour]`),
    the account's posting `schedules` and its `timezone`.
    """
    analysis = await service.get_optimal_times(
        session, state.graph, state.cipher, workspace_id=access.workspace_id, account_id=account_id
    )
    return OptimalTimes(
        account_id=analysis.account_id,
        timezone=analysis.timezone,
        basis="online_followers" if analysis.basis == "online_followers" else "history",
        published_posts=analysis.published_posts,
        prior_mean=analysis.prior_mean,
        prior_weight=analysis.prior_weight,
        engagement_cap=analysis.engagement_cap,
        recommendations=[_cell(c) for c in analysis.recommendations],
        heatmap=[[_cell(c) for c in row] for row in analysis.heatmap],
        schedules=[Schedule.model_validate(s) for s in analysis.schedules],
        notice=analysis.notice,
    )
