"""Instagram's publishing quota, known when a post is placed (create, edit, add to queue).

Meta allows an account `quota_total` publications in any moving 24 h (`content_publishing_limit`;
docs have said 25, 50 and 100). A post counts at its quota time: `published_at` once published,
else when it is due (`next_attempt_at`, else `scheduled_for`); scheduled, publishing and
published posts count, cancelled and failed ones do not. The quota is the account's
`publishing_quota` as last read from Meta, else `PUBLISH_QUOTA_DEFAULT`.

The fullest window holding a time is one SQL function (`instasched_quota_window`, migration
0008): it takes the account's transaction advisory lock and then reads the account's posts in the
48 h around that time (an index range, `idx_scheduled_posts_quota_time`) with a snapshot taken
after the lock. So two placements of one account at once take turns: the second counts the
first's post. The lock is held until the placement's transaction commits: a create's single
INSERT statement (`repository._insert_sql`) or an edit's transaction. Both take it after the
locks on the post's media assets (the INSERT's plan evaluates the assets' one-time filter before
its scan of the window; an edit checks the quota after counting its media uses), so the two
lock kinds are always taken in one order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.config import Settings
from instasched.db import driver_connection
from instasched.exceptions import Invalid
from instasched.models import InstagramAccount

WINDOW = timedelta(hours=24)

# One row per time in $2 (timestamptz[]): the fullest window holding it.
_WINDOWS = (
    "SELECT at, w.window_start, w.posts FROM unnest($2::timestamptz[]) AS at, "
    "LATERAL instasched_quota_window($1, at, $3) AS w"
)
_LOCK = "SELECT instasched_quota_lock($1)"


@dataclass(frozen=True)
class QuotaWindow:
    """The fullest 24 h window holding a post's time, with that post counted."""

    start: datetime
    posts: int
    quota: int

    @property
    def end(self) -> datetime:
        return self.start + WINDOW

    @property
    def over(self) -> bool:
        return self.posts > self.quota

    def message(self) -> str:
        return (
            f"This would put {self.posts} posts in the 24 hours from "
            f"{_utc(self.start)} to {_utc(self.end)}; Instagram publishes at most "
            f"{self.quota} per 24 hours for this account, so a post would wait until the "
            "window frees up. Choose another time, or send allowOverQuota: true to save it "
            "anyway."
        )

    def as_detail(self, field: str) -> dict[str, Any]:
        return {
            "field": field,
            "message": self.message(),
            "windowStart": self.start.astimezone(UTC).isoformat(),
            "windowEnd": self.end.astimezone(UTC).isoformat(),
            "count": self.posts,
            "quota": self.quota,
        }


def quota_of(account: InstagramAccount, settings: Settings) -> int:
    return account.publishing_quota or settings.publish_quota_default


def refuse_or_warn(window: QuotaWindow, *, allow_over: bool, field: str) -> QuotaWindow | None:
    """None when the window has room; the window (a warning) when over and allowed; else 422."""
    if not window.over:
        return None
    if allow_over:
        return window
    raise Invalid(window.message(), detail=[window.as_detail(field)])


async def lock(session: AsyncSession, *, account_id: uuid.UUID) -> None:
    """Hold the account's quota lock until the session's transaction ends (placements of the
    account, and "next slot" picks, take turns)."""
    conn = await driver_connection(session, write=True)
    await conn.execute(_LOCK, account_id)


async def windows(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    quota: int,
    times: Sequence[datetime],
    exclude_post_id: uuid.UUID | None = None,
) -> dict[datetime, QuotaWindow]:
    """The fullest window holding each of `times` (one statement), a new post counted there."""
    if not times:
        return {}
    conn = await driver_connection(session)
    rows = await conn.fetch(_WINDOWS, account_id, list(times), exclude_post_id)
    return {row["at"]: QuotaWindow(row["window_start"], row["posts"], quota) for row in rows}


async def check(
    session: AsyncSession,
    *,
    account: InstagramAccount,
    settings: Settings,
    at: datetime,
    exclude_post_id: uuid.UUID | None,
    allow_over: bool,
    field: str,
) -> QuotaWindow | None:
    """An edit's check, in its transaction (the lock is then held until it commits)."""
    await driver_connection(session, write=True)
    found = await windows(
        session,
        account_id=account.id,
        quota=quota_of(account, settings),
        times=[at],
        exclude_post_id=exclude_post_id,
    )
    return refuse_or_warn(found[at], allow_over=allow_over, field=field)


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
