"""SQL of the publishing side. Every state change is a conditional UPDATE.

The lease (`lease_expires_at`) is also a fencing token: a worker writes to a `publishing` row only
while the row still carries the lease value it set (claim, takeover or heartbeat). A worker that
lost its lease (paused, partitioned) cannot overwrite the work of the one that took over.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from instasched.models import InstagramAccount, MediaAsset, PostStatus, ScheduledPost

DUE = func.coalesce(ScheduledPost.next_attempt_at, ScheduledPost.scheduled_for)

# The statements of every publication run as Core statements built once (SQLAlchemy caches
# their compiled form under a cache key computed once per object), not through the ORM's
# bulk-UPDATE and loading machinery: that was about a third of the worker's CPU per
# publication (bench/run --profile). Rows become (transient) model objects for the service.
Executor = AsyncSession | AsyncConnection
_POSTS: Table = ScheduledPost.__table__  # type: ignore[assignment]
_ACCOUNTS: Table = InstagramAccount.__table__  # type: ignore[assignment]
_ASSETS: Table = MediaAsset.__table__  # type: ignore[assignment]
# attribute name → column ("meta" is the column "metadata")
_POST_COLUMNS: dict[str, ColumnElement[Any]] = {
    prop.key: prop.columns[0] for prop in ScheduledPost.__mapper__.column_attrs
}
_TS = DateTime(timezone=True)

_CLAIM = (
    update(_POSTS)
    .where(
        _POSTS.c.id == bindparam("p_id", type_=UUID(as_uuid=True)),
        _POSTS.c.status == PostStatus.SCHEDULED,
        bindparam("p_now", type_=_TS)
        >= func.coalesce(_POSTS.c.next_attempt_at, _POSTS.c.scheduled_for),
    )
    .values(
        status=PostStatus.PUBLISHING,
        lease_expires_at=bindparam("p_lease", type_=_TS),
        publishing_started_at=bindparam("p_now", type_=_TS),
        publish_attempts=func.coalesce(_POSTS.c.publish_attempts, 0) + 1,
        updated_at=bindparam("p_now", type_=_TS),
    )
    .returning(*_POSTS.c)
)
_ACCOUNT_BY_ID = select(_ACCOUNTS).where(
    _ACCOUNTS.c.id == bindparam("p_id", type_=UUID(as_uuid=True))
)
_ASSETS_BY_IDS = select(_ASSETS).where(
    _ASSETS.c.user_id == bindparam("p_user", type_=UUID(as_uuid=True)),
    _ASSETS.c.id.in_(bindparam("p_ids", expanding=True, type_=UUID(as_uuid=True))),
)


def _post(row: Row[Any]) -> ScheduledPost:
    values = row._mapping
    return ScheduledPost(**{key: values[column] for key, column in _POST_COLUMNS.items()})


def _account(row: Row[Any]) -> InstagramAccount:
    return InstagramAccount(**row._mapping)


def _asset(row: Row[Any]) -> MediaAsset:
    return MediaAsset(**row._mapping)


async def get_post(session: AsyncSession, post_id: uuid.UUID) -> ScheduledPost | None:
    return await session.get(ScheduledPost, post_id, populate_existing=True)


async def get_account(session: Executor, account_id: uuid.UUID) -> InstagramAccount | None:
    row = (await session.execute(_ACCOUNT_BY_ID, {"p_id": account_id})).first()
    return _account(row) if row is not None else None


async def claim(
    session: Executor, post_id: uuid.UUID, *, now: datetime, lease_until: datetime
) -> ScheduledPost | None:
    """`scheduled` → `publishing` if the post is still scheduled and due; counts an attempt."""
    result = await session.execute(_CLAIM, {"p_id": post_id, "p_now": now, "p_lease": lease_until})
    row = result.first()
    return _post(row) if row is not None else None


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


_FENCED: dict[tuple[str, ...], Any] = {}


def _fenced_statement(keys: tuple[str, ...]) -> Any:
    """The fenced UPDATE setting these attributes, built once per set of keys (a handful:
    containers stored, success, retry, failure, renewal...)."""
    stmt = _FENCED.get(keys)
    if stmt is None:
        stmt = (
            update(_POSTS)
            .where(
                _POSTS.c.id == bindparam("p_id", type_=UUID(as_uuid=True)),
                _POSTS.c.status == PostStatus.PUBLISHING,
                _POSTS.c.lease_expires_at == bindparam("p_lease", type_=_TS),
            )
            .values(
                {
                    _POST_COLUMNS[key]: bindparam(f"v_{key}", type_=_POST_COLUMNS[key].type)
                    for key in keys
                }
            )
        )
        if len(_FENCED) < 64:
            _FENCED[keys] = stmt
    return stmt


async def fenced_update(
    session: Executor, post_id: uuid.UUID, *, lease: datetime, values: dict[str, Any]
) -> bool:
    """Update a `publishing` post only while it still holds `lease`."""
    keys = tuple(sorted(values))
    params = {f"v_{key}": value for key, value in values.items()}
    params.update(p_id=post_id, p_lease=lease)
    result = await session.execute(_fenced_statement(keys), params)
    return bool(getattr(result, "rowcount", 0))


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


async def assets_for(
    session: Executor, *, user_id: uuid.UUID, asset_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, MediaAsset]:
    if not asset_ids:
        return {}
    rows = await session.execute(_ASSETS_BY_IDS, {"p_user": user_id, "p_ids": list(asset_ids)})
    return {asset.id: asset for asset in map(_asset, rows)}


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


async def scheduled_batch(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int
) -> list[tuple[uuid.UUID, datetime]]:
    """`scheduled` posts (id, due time) in id order, from `after` (keyset pagination)."""
    stmt = (
        select(ScheduledPost.id, DUE)
        .where(ScheduledPost.status == PostStatus.SCHEDULED)
        .order_by(ScheduledPost.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(ScheduledPost.id > after)
    rows = await session.execute(stmt)
    return [(r[0], r[1]) for r in rows.all()]


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
