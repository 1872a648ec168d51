"""Publishing alerts: what a person waiting for a post would notice, read from PostgreSQL.

bullmq's failed set never fills (failures are handled in PostgreSQL and the job completes), so
the worker alerts on the posts themselves, once per `RECONCILE_INTERVAL_SECONDS` across workers:

- `publishing.failed_posts`: posts failed within `ALERT_FAILED_POSTS_WINDOW_SECONDS`;
- `publishing.stuck_posts`: posts `publishing` more than `ALERT_LATE_SECONDS` past their lease
  (a worker died and nobody took them over);
- `publishing.overdue_posts`: posts `scheduled` more than `ALERT_LATE_SECONDS` past their due
  time (no worker dispatches them).

Each reaches its threshold (`ALERT_*_THRESHOLD`) → one alert, again only after it went below
(the firing state is a Redis key, shared by the workers). The counts are also the gauge
`instasched_publishing_alert_posts{check}`. One statement, three index range scans: failed posts
by `failed_at` (partial index), `publishing` and `scheduled` posts by `(status, scheduled_for)`
(a post's retry time is never before its `scheduled_for`, so the overdue ones lie in that range).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.kit.time import utcnow
from instasched.observability.metrics import PUBLISHING_ALERT_POSTS
from instasched.state import AppState

FIRING = "instasched:alert-firing"

_COUNTS = text(
    """
    SELECT
      (SELECT count(*) FROM instagram_scheduled_posts
        WHERE status = 'failed' AND failed_at >= :failed_since) AS failed_posts,
      (SELECT count(*) FROM instagram_scheduled_posts
        WHERE status = 'publishing'
          AND coalesce(lease_expires_at, updated_at) < :late_before) AS stuck_posts,
      (SELECT count(*) FROM instagram_scheduled_posts
        WHERE status = 'scheduled' AND scheduled_for < :late_before
          AND coalesce(next_attempt_at, scheduled_for) < :late_before) AS overdue_posts
    """
)


@dataclass(frozen=True)
class HealthCounts:
    failed_posts: int
    stuck_posts: int
    overdue_posts: int


async def health_counts(
    session: AsyncSession, *, failed_since: datetime, late_before: datetime
) -> HealthCounts:
    row = (
        await session.execute(_COUNTS, {"failed_since": failed_since, "late_before": late_before})
    ).one()
    return HealthCounts(int(row.failed_posts), int(row.stuck_posts), int(row.overdue_posts))


async def check_publishing_health(app: AppState, *, now: datetime | None = None) -> HealthCounts:
    """Count, set the gauges, and alert on each check that crossed its threshold."""
    settings = app.settings
    now = now or utcnow()
    late = settings.alert_late_seconds
    async with app.session_factory() as session:
        counts = await health_counts(
            session,
            failed_since=now - timedelta(seconds=settings.alert_failed_posts_window_seconds),
            late_before=now - timedelta(seconds=late),
        )
    checks: list[tuple[str, int, int, dict[str, Any]]] = [
        (
            "failed_posts",
            counts.failed_posts,
            settings.alert_failed_posts_threshold,
            {"windowSeconds": settings.alert_failed_posts_window_seconds},
        ),
        (
            "stuck_posts",
            counts.stuck_posts,
            settings.alert_stuck_posts_threshold,
            {"lateSeconds": late},
        ),
        (
            "overdue_posts",
            counts.overdue_posts,
            settings.alert_overdue_posts_threshold,
            {"lateSeconds": late},
        ),
    ]
    for check, count, threshold, fields in checks:
        PUBLISHING_ALERT_POSTS.labels(check=check).set(count)
        key = f"{FIRING}:{settings.queue_prefix}:{check}"
        if count < threshold:
            await app.redis.delete(key)
        elif await app.redis.set(key, "1", nx=True):
            app.events.publishing_alert(check, count=count, threshold=threshold, **fields)
    return counts
