"""SQL of the post insights read after publishing (`instagram_post_insights`, migration 0008).

Statements run on asyncpg connections (the worker's autocommit pool, `Publisher.connect`), or on
a request session's connection for the API's read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from instasched.integrations.instagram.media import MEDIA_INSIGHT_METRICS

Driver = Any  # an asyncpg connection

METRICS = MEDIA_INSIGHT_METRICS  # one column each

_PLAN = (
    "INSERT INTO instagram_post_insights (post_id, checkpoint, due_at) "
    "SELECT $1, name, $2::timestamptz + offset_seconds * interval '1 second' "
    "FROM unnest($3::text[], $4::float8[]) AS c(name, offset_seconds) "
    "ON CONFLICT (post_id, checkpoint) DO NOTHING"
)

# Due readings, oldest first, skipping rows another worker is claiming right now; a claim moves
# `due_at` to the claim's lease end (a fencing value: the result is written only while the row
# still holds it, and a crashed worker's row comes due again after the lease).
_CLAIM = """
WITH due AS (
    SELECT post_id, checkpoint FROM instagram_post_insights
    WHERE state = 'pending' AND due_at <= $1
    ORDER BY due_at LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE instagram_post_insights i SET due_at = $3, attempts = i.attempts + 1
FROM due, instagram_scheduled_posts p, instagram_accounts a
WHERE i.post_id = due.post_id AND i.checkpoint = due.checkpoint
  AND p.id = i.post_id AND a.id = p.instagram_account_id
RETURNING i.post_id, i.checkpoint, i.attempts, p.instagram_media_id, p.instagram_account_id,
          a.access_token_encrypted, a.needs_reauth, a.login_kind
"""

_DONE = (
    "UPDATE instagram_post_insights SET state = 'done', fetched_at = $4, error = NULL, "  # noqa: S608
    + ", ".join(f"{name} = ${i}" for i, name in enumerate(METRICS, start=5))
    + " WHERE post_id = $1 AND checkpoint = $2 AND due_at = $3 AND state = 'pending'"
)
_LATER = (
    "UPDATE instagram_post_insights SET due_at = $4, error = $5, "
    "attempts = greatest(attempts + $6, 0) "
    "WHERE post_id = $1 AND checkpoint = $2 AND due_at = $3 AND state = 'pending'"
)
_STOP = (
    "UPDATE instagram_post_insights SET state = 'stopped', error = $2, fetched_at = $3 "
    "WHERE post_id = $1 AND state = 'pending'"
)
_OF_POST = (
    "SELECT checkpoint, state, due_at, fetched_at, error, "  # noqa: S608 - fixed names
    + ", ".join(METRICS)
    + " FROM instagram_post_insights WHERE post_id = $1 ORDER BY due_at"
)


@dataclass(frozen=True, slots=True)
class Claimed:
    post_id: uuid.UUID
    checkpoint: str
    attempts: int
    media_id: str | None
    account_id: uuid.UUID
    token_encrypted: str
    needs_reauth: bool
    login_kind: str = "instagram"  # the account's Graph host (integrations/instagram/login_kinds)


async def plan(
    conn: Driver,
    *,
    post_id: uuid.UUID,
    published_at: datetime,
    checkpoints: tuple[tuple[str, timedelta], ...],
) -> None:
    """The readings of a post just published (again: nothing changes)."""
    await conn.execute(
        _PLAN,
        post_id,
        published_at,
        [name for name, _ in checkpoints],
        [offset.total_seconds() for _, offset in checkpoints],
    )


async def claim(conn: Driver, *, now: datetime, limit: int, lease_until: datetime) -> list[Claimed]:
    rows = await conn.fetch(_CLAIM, now, limit, lease_until)
    return [
        Claimed(
            post_id=r["post_id"],
            checkpoint=r["checkpoint"],
            attempts=r["attempts"],
            media_id=r["instagram_media_id"],
            account_id=r["instagram_account_id"],
            token_encrypted=r["access_token_encrypted"],
            needs_reauth=r["needs_reauth"],
            login_kind=r["login_kind"],
        )
        for r in rows
    ]


async def done(
    conn: Driver, row: Claimed, *, lease: datetime, now: datetime, values: dict[str, int]
) -> None:
    await conn.execute(
        _DONE, row.post_id, row.checkpoint, lease, now, *(values.get(m) for m in METRICS)
    )


async def later(
    conn: Driver,
    row: Claimed,
    *,
    lease: datetime,
    due_at: datetime,
    error: str | None,
    count_attempt: bool = True,
) -> None:
    """Try this reading again at `due_at` (`count_attempt=False`: the claim's attempt is given
    back, e.g. a reading not even tried because of a rate limit)."""
    await conn.execute(
        _LATER, row.post_id, row.checkpoint, lease, due_at, error, 0 if count_attempt else -1
    )


async def stop(conn: Driver, *, post_id: uuid.UUID, reason: str, now: datetime) -> None:
    """No more readings of this post (its media is gone, or reading it cannot succeed)."""
    await conn.execute(_STOP, post_id, reason, now)


async def of_post(conn: Driver, post_id: uuid.UUID) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(_OF_POST, post_id)]
