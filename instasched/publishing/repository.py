"""SQL of the publishing side. Every state change is a conditional UPDATE.

The lease (`lease_expires_at`) is also a fencing token: a worker writes to a `publishing` row only
while the row still carries the lease value it set (claim, takeover or heartbeat). A worker that
lost its lease (paused, partitioned) cannot overwrite the work of the one that took over.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.models import InstagramAccount, PostStatus, ScheduledPost
from instasched.models.base import loaded, stored_attributes
from instasched.models.post_rows import (
    COLUMN_OF,
    POST_COLUMN_NAMES,
    POST_COLUMNS,
    column_param,
    post_attributes,
)

DUE = func.coalesce(ScheduledPost.next_attempt_at, ScheduledPost.scheduled_for)

# The statements of every publication and staging go straight to asyncpg on an autocommit
# connection (see Publisher.connect): through SQLAlchemy, ORM or Core, they were about a third of
# the worker's CPU per publication (bench/run --profile); asyncpg runs the same statement for
# ~45 µs of CPU against ~200 µs. Rows become (transient) model objects for the service. Only the
# worker's periodic scans at the end (`scheduled_due_batch`, `expired_leases`: one statement a
# pass) are SQLAlchemy Core, on a session.
Driver = Any  # an asyncpg connection

_CLAIM = (
    "UPDATE instagram_scheduled_posts SET status = 'publishing', lease_expires_at = $3,"  # noqa: S608
    " publishing_started_at = $2, publish_attempts = coalesce(publish_attempts, 0) + 1,"
    " updated_at = $2"
    " WHERE id = $1 AND status = 'scheduled' AND $2 >= coalesce(next_attempt_at, scheduled_for)"
    " AND ($4::uuid IS NULL OR instagram_account_id = $4)"
    f" RETURNING {POST_COLUMNS}"
)


# The claim and the post's account in one round trip. With the account read before the slot
# (now carried by the job) and after the claim, the three statements cost 734-820 µs of worker
# CPU and 1,165-1,330 µs of PostgreSQL CPU per publication; this one 424-469 / 1,005-1,080 µs
# (bench/claim_roundtrips.py at load average 18; docs/performance.md, round 8).
_ACCOUNT_ATTRIBUTES = stored_attributes(InstagramAccount)
_CLAIM_WITH_ACCOUNT = (
    f"WITH claimed AS ({_CLAIM}) SELECT claimed.*, "  # noqa: S608
    + ", ".join(f"a.{column} AS account__{attr}" for column, attr in _ACCOUNT_ATTRIBUTES)
    + " FROM claimed LEFT JOIN instagram_accounts AS a ON a.id = claimed.instagram_account_id"
)


_ACCOUNT_OF = (
    "SELECT instagram_account_id FROM instagram_scheduled_posts"
    " WHERE id = $1 AND status IN ('scheduled', 'publishing')"
)


def _post(row: Mapping[str, Any]) -> ScheduledPost:
    return loaded(ScheduledPost, post_attributes(row))


_POST = f"SELECT {POST_COLUMNS} FROM instagram_scheduled_posts WHERE id = $1"  # noqa: S608


async def get_post(conn: Driver, post_id: uuid.UUID) -> ScheduledPost | None:
    row = await conn.fetchrow(_POST, post_id)
    return _post(row) if row is not None else None


async def claim(
    conn: Driver,
    post_id: uuid.UUID,
    *,
    now: datetime,
    lease_until: datetime,
    account_id: uuid.UUID | None = None,
) -> tuple[ScheduledPost, InstagramAccount | None] | None:
    """`scheduled` → `publishing` if the post is still scheduled and due (and, with
    `account_id`, still of that account: the one whose slot the worker holds); counts an
    attempt. Answers the claimed post and its account (None: the account is gone)."""
    row = await conn.fetchrow(_CLAIM_WITH_ACCOUNT, post_id, now, lease_until, account_id)
    if row is None:
        return None
    values = tuple(row.values())
    n = len(POST_COLUMN_NAMES)
    post = _post(dict(zip(POST_COLUMN_NAMES, values[:n], strict=True)))
    account = None
    if values[n] is not None:  # the account's first column (its id): the join found it
        attrs = (attr for _, attr in _ACCOUNT_ATTRIBUTES)
        account = loaded(InstagramAccount, dict(zip(attrs, values[n:], strict=True)))
    return post, account


async def account_of(conn: Driver, post_id: uuid.UUID) -> uuid.UUID | None:
    """The account of a post that may still be published (scheduled or publishing)."""
    account_id: uuid.UUID | None = await conn.fetchval(_ACCOUNT_OF, post_id)
    return account_id


_RENEW_LEASES = (
    "UPDATE instagram_scheduled_posts AS p SET lease_expires_at = $3"
    " FROM unnest($1::uuid[], $2::timestamptz[]) AS t (id, lease)"
    " WHERE p.id = t.id AND p.status = 'publishing' AND p.lease_expires_at = t.lease"
    " RETURNING p.id"
)


_RENEW_STAGING_LEASES = (
    "UPDATE instagram_scheduled_posts AS p SET staging_lease_expires_at = $3"
    " FROM unnest($1::uuid[], $2::timestamptz[]) AS t (id, lease)"
    " WHERE p.id = t.id AND p.status = 'scheduled' AND p.staging_status = 'staging'"
    " AND p.staging_lease_expires_at = t.lease"
    " RETURNING p.id"
)


async def renew_leases(
    conn: Driver,
    held: list[tuple[uuid.UUID, datetime]],
    *,
    lease_until: datetime,
    staging: bool = False,
) -> set[uuid.UUID]:
    """Move these `publishing` posts' leases (with `staging`: these `scheduled` posts' staging
    leases) to `lease_until` where each still holds the lease given (fenced); answers the posts
    renewed."""
    rows = await conn.fetch(
        _RENEW_STAGING_LEASES if staging else _RENEW_LEASES,
        [post_id for post_id, _ in held],
        [lease for _, lease in held],
        lease_until,
    )
    return {row["id"] for row in rows}


# A `publishing` post whose worker died: its expired lease is the fence (only one of several
# workers taking it over succeeds); a row without a lease (written by hand or by an old
# version) is taken while it still has none.
_TAKE_OVER = (
    "UPDATE instagram_scheduled_posts SET lease_expires_at = $3, updated_at = $2"  # noqa: S608
    " WHERE id = $1 AND status = 'publishing' AND lease_expires_at = $4 AND lease_expires_at < $2"
    f" RETURNING {POST_COLUMNS}"
)
_TAKE_WITHOUT_LEASE = (
    "UPDATE instagram_scheduled_posts SET lease_expires_at = $3, updated_at = $2"  # noqa: S608
    " WHERE id = $1 AND status = 'publishing' AND lease_expires_at IS NULL"
    f" RETURNING {POST_COLUMNS}"
)


async def take_over(
    conn: Driver,
    post_id: uuid.UUID,
    *,
    expired_lease: datetime | None,
    now: datetime,
    lease_until: datetime,
) -> ScheduledPost | None:
    """Take a `publishing` post whose lease expired (`expired_lease`), or that has none (None);
    only one of several workers succeeds."""
    if expired_lease is None:
        row = await conn.fetchrow(_TAKE_WITHOUT_LEASE, post_id, now, lease_until)
    else:
        row = await conn.fetchrow(_TAKE_OVER, post_id, now, lease_until, expired_lease)
    return _post(row) if row is not None else None


# The WHERE of each kind of update of one post. A publication's writes are fenced by the
# `publishing` post's lease ($2); a staging's ahead of the due time (instasched.publishing.staging)
# by the `scheduled` post's staging lease ($2); the details that arrive after the publication
# (permalink, counts, first comment) go to a `published` post, which no other worker writes.
Fence = Literal["publishing", "staging", "published"]
_WHERE: dict[Fence, str] = {
    "publishing": "WHERE id = $1 AND status = 'publishing' AND lease_expires_at = $2",
    "staging": "WHERE id = $1 AND status = 'scheduled' AND staging_status = 'staging'"
    " AND staging_lease_expires_at = $2",
    "published": "WHERE id = $1 AND status = 'published'",
}
_UPDATES: dict[tuple[tuple[str, ...], Fence], str] = {}


def _update(values: dict[str, Any], fence: Fence) -> tuple[str, list[Any]]:
    """The UPDATE setting these attributes under `fence`, built once per set of keys (a handful:
    containers stored, success, retry, failure, renewal...), and the values as its parameters
    (after the post's id and, but for `published`, the lease)."""
    keys = tuple(sorted(values))
    sql = _UPDATES.get((keys, fence))
    if sql is None:
        first = 2 if fence == "published" else 3
        sets = ", ".join(f"{COLUMN_OF[key]} = ${i}" for i, key in enumerate(keys, start=first))
        sql = f"UPDATE instagram_scheduled_posts SET {sets} {_WHERE[fence]}"  # noqa: S608
        if len(_UPDATES) < 64:
            _UPDATES[(keys, fence)] = sql
    return sql, [column_param(COLUMN_OF[key], values[key]) for key in keys]


async def fenced_update(
    conn: Driver,
    post_id: uuid.UUID,
    *,
    lease: datetime,
    values: dict[str, Any],
    staging: bool = False,
) -> bool:
    """Update a `publishing` post only while it still holds `lease` (with `staging`: a
    `scheduled` post being staged, while it holds that staging lease)."""
    sql, params = _update(values, "staging" if staging else "publishing")
    status: str = await conn.execute(sql, post_id, lease, *params)
    return status.rsplit(" ", 1)[-1] != "0"  # "UPDATE <rows>"


async def store_containers(
    conn: Driver,
    post_id: uuid.UUID,
    *,
    lease: datetime,
    values: dict[str, Any],
    created: int,
    at: datetime,
    staging: bool = False,
) -> bool:
    """`fenced_update` of new container ids, and the `created` containers counted in the
    account's 24 h ledger (instagram_container_creations), in one statement."""
    update_sql, params = _update(values, "staging" if staging else "publishing")
    n = len(params) + 2
    sql = (
        f"WITH stored AS ({update_sql} RETURNING instagram_account_id) "  # noqa: S608
        "INSERT INTO instagram_container_creations (instagram_account_id, created_at, containers)"
        f" SELECT instagram_account_id, ${n + 1}, ${n + 2} FROM stored RETURNING id"
    )
    row = await conn.fetchval(sql, post_id, lease, *params, at, created)
    return row is not None


async def update_published(conn: Driver, post_id: uuid.UUID, *, values: dict[str, Any]) -> None:
    """Details that arrive after the publication (permalink, counts, first comment)."""
    sql, params = _update(values, "published")
    await conn.execute(sql, post_id, *params)


_MEDIA_IDS_TAKEN = (
    "SELECT instagram_media_id FROM instagram_scheduled_posts"
    " WHERE instagram_account_id = $1 AND id <> $2 AND instagram_media_id = ANY($3::text[])"
)


async def media_ids_taken(
    conn: Driver, *, account_id: uuid.UUID, post_id: uuid.UUID, media_ids: list[str]
) -> set[str]:
    """Which of these Instagram media ids other posts of the account already claim."""
    if not media_ids:
        return set()
    rows = await conn.fetch(_MEDIA_IDS_TAKEN, account_id, post_id, media_ids)
    return {str(r[0]) for r in rows if r[0]}


_PUBLISHED_SINCE = (
    "SELECT published_at FROM instagram_scheduled_posts WHERE instagram_account_id = $1"
    " AND status = 'published' AND published_at >= $2 ORDER BY published_at"
)


async def published_since(
    conn: Driver, *, account_id: uuid.UUID, since: datetime
) -> list[datetime]:
    rows = await conn.fetch(_PUBLISHED_SINCE, account_id, since)
    return [r[0] for r in rows if r[0] is not None]


_STORE_QUOTA = (
    "UPDATE instagram_accounts SET publishing_quota = $2, publishing_quota_read_at = $3"
    " WHERE id = $1"
)


async def store_publishing_quota(
    conn: Driver, *, account_id: uuid.UUID, quota: int, now: datetime
) -> None:
    """The account's `content_publishing_limit` total, as just read (posts.quota)."""
    await conn.execute(_STORE_QUOTA, account_id, quota, now)


_NEEDS_REAUTH = "UPDATE instagram_accounts SET needs_reauth = true WHERE id = $1"
_FAIL_DUE_OF_ACCOUNT = (
    "UPDATE instagram_scheduled_posts SET status = 'failed', failed_at = $2,"
    " last_publish_error = $3, last_error_code = $4, next_attempt_at = NULL, updated_at = $2"
    " WHERE instagram_account_id = $1 AND status = 'scheduled'"
    " AND $2 >= coalesce(next_attempt_at, scheduled_for)"
    " RETURNING id"
)


async def mark_needs_reauth(
    conn: Driver, *, account_id: uuid.UUID, now: datetime, message: str, code: str
) -> list[uuid.UUID]:
    """Mark the account as needing re-authentication and, in the same transaction, fail its
    `scheduled` posts that are due now (they cannot go out); answers those posts."""
    async with conn.transaction():
        await conn.execute(_NEEDS_REAUTH, account_id)
        rows = await conn.fetch(_FAIL_DUE_OF_ACCOUNT, account_id, now, message, code)
    return [r[0] for r in rows]


async def scheduled_due_batch(
    session: AsyncSession,
    *,
    due_from: datetime | None,
    due_before: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Any]:
    """`scheduled` posts due in [`due_from`, `due_before`) (None: unbounded), in (due, id)
    order from `after` (keyset pagination): a range scan of idx_scheduled_posts_due. Rows carry
    their `due` and what `publishing.staging.jobs_for` reads (id, status, account, times, media
    type, container, staging)."""
    stmt = (
        select(
            ScheduledPost.id,
            DUE.label("due"),
            ScheduledPost.status,
            ScheduledPost.instagram_account_id,
            ScheduledPost.scheduled_for,
            ScheduledPost.next_attempt_at,
            ScheduledPost.media_type,
            ScheduledPost.container_id,
            ScheduledPost.container_created_at,
            ScheduledPost.staging_status,
        )
        .where(ScheduledPost.status == PostStatus.SCHEDULED)
        .order_by(DUE, ScheduledPost.id)
        .limit(limit)
    )
    if due_from is not None:
        stmt = stmt.where(due_from <= DUE)
    if due_before is not None:
        stmt = stmt.where(due_before > DUE)
    if after is not None:
        stmt = stmt.where(tuple_(DUE, ScheduledPost.id) > tuple_(after[0], after[1]))
    return list((await session.execute(stmt)).all())


async def expired_leases(
    session: AsyncSession, *, now: datetime, stale_before: datetime, limit: int
) -> list[tuple[uuid.UUID, datetime | None]]:
    """`publishing` posts whose worker stopped renewing its lease, or rows without a lease
    (written by hand or by an old version) untouched since `stale_before`."""
    rows = await session.execute(
        select(ScheduledPost.id, ScheduledPost.lease_expires_at)
        .where(
            ScheduledPost.status == PostStatus.PUBLISHING,
            or_(
                ScheduledPost.lease_expires_at < now,
                and_(
                    ScheduledPost.lease_expires_at.is_(None),
                    ScheduledPost.updated_at < stale_before,
                ),
            ),
        )
        .order_by(ScheduledPost.lease_expires_at)
        .limit(limit)
    )
    return [(r[0], r[1]) for r in rows.all()]
