"""Best times to post: from the account's own history, else from when its followers are online.

History: the account's published posts grouped by day of week and hour **in the account's
timezone** (a 09:00 post is hour 9 in summer and in winter), ranked by a shrunk mean (see
`repository`). With fewer than `HISTORY_MIN_POSTS` published posts the account's
`online_followers` insight from the Graph API is used instead (`basis = "online_followers"`), its
hours (Meta's days run midnight to midnight at UTC−07:00) converted to the account's timezone.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.accounts import repository as accounts_repository
from instasched.integrations.instagram import GraphAuthError, GraphClient, GraphError
from instasched.integrations.instagram.insights import (
    OnlineFollowersDay,
    meta_day_start,
    online_followers,
)
from instasched.kit.text import counted
from instasched.kit.time import utcnow
from instasched.models import InstagramAccount, PostingSchedule
from instasched.optimal_times import repository
from instasched.schedules import repository as schedules_repository
from instasched.schedules.schemas import AppliedSlot, SkippedSlot
from instasched.schedules.service import MAX_SLOTS_PER_DAY, day_of_week
from instasched.security import TokenCipher

log = logging.getLogger(__name__)

HISTORY_MIN_POSTS = 10
PRIOR_WEIGHT = 3.0
TOP_N = 5
ONLINE_FOLLOWERS_DAYS = 28  # four observations of each (day, hour)


@dataclass(frozen=True)
class Cell:
    day_of_week: int
    hour: int
    average_engagement: float | None = None
    sample_size: int = 0
    score: float | None = None
    confidence: float = 0.0
    engagement_rate: float | None = None
    online_followers: float | None = None


@dataclass
class Analysis:
    account_id: uuid.UUID
    timezone: str
    basis: str
    published_posts: int
    prior_mean: float | None
    prior_weight: float
    engagement_cap: float | None
    recommendations: list[Cell]
    heatmap: list[list[Cell]]
    notice: str | None = None
    schedules: list[PostingSchedule] = field(default_factory=list)


def _confidence(n: int, prior_weight: float) -> float:
    return round(n / (n + prior_weight), 2) if n > 0 else 0.0


def _empty_heatmap() -> list[list[Cell]]:
    return [[Cell(day_of_week=d, hour=h) for h in range(24)] for d in range(7)]


def history_cells(
    aggregate: repository.HistoryAggregate, prior_weight: float
) -> tuple[list[Cell], list[list[Cell]]]:
    heatmap = _empty_heatmap()
    ranked: list[Cell] = []
    for row in aggregate.cells:
        cell = Cell(
            day_of_week=row.day_of_week,
            hour=row.hour,
            average_engagement=round(row.average_engagement, 2),
            sample_size=row.sample_size,
            score=round(row.score, 2),
            confidence=_confidence(row.sample_size, prior_weight),
            engagement_rate=round(row.engagement_rate, 4)
            if row.engagement_rate is not None
            else None,
        )
        heatmap[row.day_of_week][row.hour] = cell
        ranked.append(cell)  # already best first
    return ranked[:TOP_N], heatmap


def online_followers_cells(
    days: list[OnlineFollowersDay], tz: ZoneInfo, prior_weight: float
) -> tuple[list[Cell], list[list[Cell]]]:
    """Convert each hour of Meta's days (instants, see `OnlineFollowersDay`) to (day, hour) in
    `tz` and average the counts per cell."""
    sums: dict[tuple[int, int], float] = defaultdict(float)
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for day in days:
        for instant, value in day.instants():
            local = instant.astimezone(tz)
            key = (day_of_week(local.date()), local.hour)
            sums[key] += value
            counts[key] += 1
    heatmap = _empty_heatmap()
    cells: list[Cell] = []
    for (dow, hour), n in counts.items():
        mean = round(sums[(dow, hour)] / n, 2)
        cell = Cell(
            day_of_week=dow,
            hour=hour,
            sample_size=n,
            score=mean,
            confidence=_confidence(n, prior_weight),
            online_followers=mean,
        )
        heatmap[dow][hour] = cell
        cells.append(cell)
    cells.sort(key=lambda c: (-(c.score or 0.0), c.day_of_week, c.hour))
    return cells[:TOP_N], heatmap


async def analyse(
    session: AsyncSession,
    graph: GraphClient,
    cipher: TokenCipher,
    *,
    account: InstagramAccount,
    now: datetime | None = None,
) -> Analysis:
    """The analysis for an account the caller already owns-checked."""
    aggregate = await repository.history_aggregate(
        session,
        workspace_id=account.workspace_id,
        account_id=account.id,
        timezone=account.timezone,
        prior_weight=PRIOR_WEIGHT,
    )
    analysis = Analysis(
        account_id=account.id,
        timezone=account.timezone,
        basis="history",
        published_posts=aggregate.total_posts,
        prior_mean=round(aggregate.prior_mean, 2) if aggregate.prior_mean is not None else None,
        prior_weight=PRIOR_WEIGHT,
        engagement_cap=aggregate.cap,
        recommendations=[],
        heatmap=_empty_heatmap(),
    )
    if aggregate.total_posts >= HISTORY_MIN_POSTS:
        analysis.recommendations, analysis.heatmap = history_cells(aggregate, PRIOR_WEIGHT)
        return analysis

    problem = await _try_online_followers(graph, cipher, account, analysis, now or utcnow())
    if problem is None:
        return analysis
    # No insight: the little history there is (shrunk hard toward the mean) beats nothing.
    analysis.recommendations, analysis.heatmap = history_cells(aggregate, PRIOR_WEIGHT)
    if aggregate.total_posts:
        analysis.notice = (
            f"Only {counted(aggregate.total_posts, 'published post')}: recommendations are "
            "tentative. " + problem
        )
    else:
        analysis.notice = "No published posts yet, so no recommendation. " + problem
    return analysis


async def _try_online_followers(
    graph: GraphClient,
    cipher: TokenCipher,
    account: InstagramAccount,
    analysis: Analysis,
    now: datetime,
) -> str | None:
    """Fill `analysis` from the online_followers insight; return why not, if it could not."""
    today = meta_day_start(now)  # Meta's insight days begin at midnight UTC−07:00
    try:
        token = cipher.decrypt(account.access_token_encrypted)
        days = await online_followers(
            graph.for_kind(account.login_kind),  # the account's Graph host
            ig_user_id=account.ig_user_id,
            access_token=token,
            since=today - timedelta(days=ONLINE_FOLLOWERS_DAYS),
            until=today,
        )
    except GraphAuthError:
        return "Instagram refused the account's token: reconnect the account to use its insights."
    except GraphError as exc:
        log.warning("online_followers insight failed for %s: %s", account.id, exc.message)
        return f"Instagram's online-followers insight is unavailable ({exc.message})."
    except ValueError:  # a token that no longer decrypts (key rotated away)
        return "The account's token cannot be read: reconnect the account."
    if not days:
        return (
            "Instagram has no online-followers data for this account (it needs at least 100 "
            "followers)."
        )
    analysis.basis = "online_followers"
    analysis.recommendations, analysis.heatmap = online_followers_cells(
        days, ZoneInfo(account.timezone), PRIOR_WEIGHT
    )
    return None


async def get_optimal_times(
    session: AsyncSession,
    graph: GraphClient,
    cipher: TokenCipher,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
) -> Analysis:
    account = await accounts_repository.get_owned(
        session, workspace_id=workspace_id, account_id=account_id
    )
    analysis = await analyse(session, graph, cipher, account=account)
    analysis.schedules = await schedules_repository.list_for_account(session, account_id=account_id)
    return analysis


# --- apply to posting schedules --------------------------------------------------------------


@dataclass
class ApplyResult:
    basis: str
    timezone: str
    applied: list[AppliedSlot]
    skipped: list[SkippedSlot]
    schedules: list[PostingSchedule]
    notice: str | None


def _score_decimal(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


async def apply_optimal(
    session: AsyncSession,
    graph: GraphClient,
    cipher: TokenCipher,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
) -> ApplyResult:
    """Add the recommended hours as `HH:00` slots and mark those days optimal."""
    # The row lock serialises concurrent applies (each may create the same day's schedule).
    account = await accounts_repository.get_owned(
        session, workspace_id=workspace_id, account_id=account_id, for_update=True
    )
    analysis = await analyse(session, graph, cipher, account=account)
    by_day = {
        s.day_of_week: s
        for s in await schedules_repository.list_for_account(session, account_id=account_id)
    }
    applied: list[AppliedSlot] = []
    skipped: list[SkippedSlot] = []
    best: dict[int, float] = {}
    for rec in analysis.recommendations:
        slot = f"{rec.hour:02d}:00"
        score = rec.score or 0.0
        schedule = by_day.get(rec.day_of_week)
        if schedule is None:
            schedule = PostingSchedule(
                instagram_account_id=account.id,
                day_of_week=rec.day_of_week,
                time_slots=[],
                timezone=account.timezone,
                is_active=True,
            )
            session.add(schedule)
            by_day[rec.day_of_week] = schedule
        elif schedule.timezone != account.timezone:
            skipped.append(
                SkippedSlot(
                    day_of_week=rec.day_of_week,
                    time_slot=slot,
                    reason=f"this day's schedule uses {schedule.timezone}, the recommendation is "
                    f"in the account's timezone {account.timezone}",
                )
            )
            continue
        slots = list(schedule.time_slots or [])
        if slot not in slots:
            if len(slots) >= MAX_SLOTS_PER_DAY:
                skipped.append(
                    SkippedSlot(
                        day_of_week=rec.day_of_week,
                        time_slot=slot,
                        reason=f"the day already has {MAX_SLOTS_PER_DAY} slots",
                    )
                )
                continue
            schedule.time_slots = sorted([*slots, slot])
        best[rec.day_of_week] = max(best.get(rec.day_of_week, score), score)
        applied.append(AppliedSlot(day_of_week=rec.day_of_week, time_slot=slot, score=score))
    for dow, schedule in by_day.items():
        if dow in best:
            schedule.is_optimal = True
            schedule.engagement_score = _score_decimal(best[dow])
        else:
            schedule.is_optimal = False
            schedule.engagement_score = None
    await session.flush()
    schedules = await schedules_repository.list_for_account(session, account_id=account_id)
    for s in schedules:
        await session.refresh(s)
    return ApplyResult(
        basis=analysis.basis,
        timezone=analysis.timezone,
        applied=applied,
        skipped=skipped,
        schedules=schedules,
        notice=analysis.notice
        or (None if applied or skipped else "No recommendation to apply yet."),
    )
