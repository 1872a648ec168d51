"""SQL of the publishing side. Every state change is a conditional UPDATE.

The lease (`lease_expires_at`) is also a fencing token: a worker writes to a `publishing` row only
while the row still carries the lease value it set (claim, takeover or heartbeat). A worker that
lost its lease (paused, partitioned) cannot overwrite the work of the one that took over.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_, update
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

# The statements of every publication go straight to asyncpg on an autocommit connection (see
# Publisher.connect): through SQLAlchemy, ORM or Core, they were about a third of the worker's
# CPU per publication (bench/run --profile); asyncpg runs the same statement for ~45 µs of CPU
# against ~200 µs. Rows become (transient) model objects for the service.
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


async def get_post(session: AsyncSession, post_id: uuid.UUID) -> ScheduledPost | None:
    return await session.get(ScheduledPost, post_id, populate_existing=True)


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


async def take_over(
    session: AsyncSession,
    post_id: uuid.UUID,
    *,
    expired_lease: datetime,
    now: datetime,
    lease_until: datetime,
) -> ScheduledPost | None:
    """Take a `publishing` post whose lease expired; only one of several workers succeeds."""
    stmt = (
        update(ScheduledPost)
        .where(
            ScheduledPost.id == post_id,
            ScheduledPost.status == PostStatus.PUBLISHING,
            ScheduledPost.lease_expires_at == expired_lease,
            ScheduledPost.lease_expires_at < now,
        )
        .values(lease_expires_at=lease_until, updated_at=now)
        .returning(ScheduledPost)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).scalars().first()


_FENCED: dict[tuple[tuple[str, ...], bool], str] = {}
# The fence of a publication (the `publishing` post's lease), and of a staging ahead of the due
# time (instasched.publishing.staging: the `scheduled` post's staging lease).
_FENCE = "WHERE id = $1 AND status = 'publishing' AND lease_expires_at = $2"
_STAGING_FENCE = (
    "WHERE id = $1 AND status = 'scheduled' AND staging_status = 'staging'"
    " AND staging_lease_expires_at = $2"
)


def _fenced_sql(keys: tuple[str, ...], staging: bool = False) -> str:
    """The fenced UPDATE setting these attributes, built once per set of keys (a handful:
    containers stored, success, retry, failure, renewal...)."""
    sql = _FENCED.get((keys, staging))
    if sql is None:
        sets = ", ".join(f"{COLUMN_OF[key]} = ${i}" for i, key in enumerate(keys, start=3))
        fence = _STAGING_FENCE if staging else _FENCE
        sql = f"UPDATE instagram_scheduled_posts SET {sets} {fence}"  # noqa: S608 - fixed names
        if len(_FENCED) < 64:
            _FENCED[(keys, staging)] = sql
    return sql


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
    keys = tuple(sorted(values))
    status: str = await conn.execute(
        _fenced_sql(keys, staging),
        post_id,
        lease,
        *(column_param(COLUMN_OF[key], values[key]) for key in keys),
    )
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
    keys = tuple(sorted(values))
    n = len(keys) + 2
    update_sql = _fenced_sql(keys, staging)
    sql = (
        f"WITH stored AS ({update_sql} RETURNING instagram_account_id) "  # noqa: S608
        "INSERT INTO instagram_container_creations (instagram_account_id, created_at, containers)"
        f" SELECT instagram_account_id, ${n + 1}, ${n + 2} FROM stored RETURNING id"
    )
    row = await conn.fetchval(
        sql,
        post_id,
        lease,
        *(column_param(COLUMN_OF[key], values[key]) for key in keys),
        at,
        created,
    )
    return row is not None


async def update_published(
    session: AsyncSession, post_id: uuid.UUID, *, values: dict[str, Any]
) -> None:
    """Details that arrive after the publication (permalink, counts, first comment)."""
    await session.execute(
        update(ScheduledPost)
        .where(ScheduledPost.id == post_id, ScheduledPost.status == PostStatus.PUBLISHED)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def media_ids_taken(
    session: AsyncSession, *, account_id: uuid.UUID, post_id: uuid.UUID, media_ids: list[str]
) -> set[str]:
    """Which of these Instagram media ids other posts of the account already claim."""
    if not media_ids:
        return set()
    rows = await session.execute(
        select(ScheduledPost.instagram_media_id).where(
            ScheduledPost.instagram_account_id == account_id,
            ScheduledPost.id != post_id,
            ScheduledPost.instagram_media_id.in_(media_ids),
        )
    )
    return {str(r) for r in rows.scalars() if r}


async def published_since(
    session: AsyncSession, *, account_id: uuid.UUID, since: datetime
) -> list[datetime]:
    rows = await session.execute(
        select(ScheduledPost.published_at)
        .where(
            ScheduledPost.instagram_account_id == account_id,
            ScheduledPost.status == PostStatus.PUBLISHED,
            ScheduledPost.published_at >= since,
        )
        .order_by(ScheduledPost.published_at)
    )
    return [r for r in rows.scalars() if r is not None]


async def store_publishing_quota(
    session: AsyncSession, *, account_id: uuid.UUID, quota: int, now: datetime
) -> None:
    """The account's `content_publishing_limit` total, as just read (posts.quota)."""
    await session.execute(
        update(InstagramAccount)
        .where(InstagramAccount.id == account_id)
        .values(publishing_quota=quota, publishing_quota_read_at=now)
        .execution_options(synchronize_session=False)
    )


async def mark_needs_reauth(session: AsyncSession, account_id: uuid.UUID) -> None:
    await session.execute(
        update(InstagramAccount)
        .where(InstagramAccount.id == account_id)
        .values(needs_reauth=True)
        .execution_options(synchronize_session=False)
    )


async def fail_due_posts_of_account(
    session: AsyncSession, *, account_id: uuid.UUID, now: datetime, message: str, code: str
) -> list[uuid.UUID]:
    """Fail the account's `scheduled` posts that are due now (they cannot go out)."""
    stmt = (
        update(ScheduledPost)
        .where(
            ScheduledPost.instagram_account_id == account_id,
            ScheduledPost.status == PostStatus.SCHEDULED,
            now >= DUE,
        )
        .values(
            status=PostStatus.FAILED,
            failed_at=now,
            last_publish_error=message,
            last_error_code=code,
            next_attempt_at=None,
            updated_at=now,
        )
        .returning(ScheduledPost.id)
        .execution_options(synchronize_session=False)
    )
    return list((await session.execute(stmt)).scalars())


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


async def set_lease_if_missing(
    session: AsyncSession, post_id: uuid.UUID, *, now: datetime, lease_until: datetime
) -> ScheduledPost | None:
    """A `publishing` row without a lease (written by hand or an old version): take it."""
    stmt = (
        update(ScheduledPost)
        .where(
            ScheduledPost.id == post_id,
            ScheduledPost.status == PostStatus.PUBLISHING,
            ScheduledPost.lease_expires_at.is_(None),
        )
        .values(lease_expires_at=lease_until, updated_at=now)
        .returning(ScheduledPost)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).scalars().first()
