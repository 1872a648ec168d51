"""SQL of staging ahead of the due time (instasched.publishing.stager), through asyncpg like the
publishing repository. Writes during staging are `repository.fenced_update(..., staging=True)`:
conditional on the post still `scheduled`, still `staging` and on the staging lease."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from instasched.models import ScheduledPost
from instasched.models.base import loaded
from instasched.models.post_rows import POST_COLUMNS, post_attributes
from instasched.publishing.repository import Driver
from instasched.publishing.staging import USABLE_FOR

# A post whose containers are to be staged: `scheduled`, not due yet, and not staged (or its
# staging's worker died: lease expired; or its staged container would expire before the due
# time: discarded here).
_CLAIM = (
    "UPDATE instagram_scheduled_posts SET staging_status = 'staging',"  # noqa: S608
    " staging_lease_expires_at = $3, staging_error = NULL, staged_at = NULL,"
    " container_id = CASE WHEN staging_status = 'staged' THEN NULL ELSE container_id END,"
    " child_container_ids = CASE WHEN staging_status = 'staged' THEN '[]'::jsonb"
    " ELSE child_container_ids END,"
    " container_created_at = CASE WHEN staging_status = 'staged' THEN NULL"
    " ELSE container_created_at END"
    " WHERE id = $1 AND status = 'scheduled' AND coalesce(next_attempt_at, scheduled_for) > $2"
    " AND ((staging_status IS NULL AND container_id IS NULL)"
    " OR (staging_status = 'staging' AND staging_lease_expires_at < $2)"
    " OR (staging_status = 'staged' AND (container_created_at IS NULL"
    " OR container_created_at + $4::interval < coalesce(next_attempt_at, scheduled_for))))"
    f" RETURNING {POST_COLUMNS}"
)

_PRUNE = (
    "DELETE FROM instagram_container_creations WHERE instagram_account_id = $1 AND created_at <= $2"
)
_USED = (
    "SELECT coalesce(sum(containers), 0) FROM instagram_container_creations"
    " WHERE instagram_account_id = $1 AND created_at > $2"
)


async def claim(
    conn: Driver, post_id: uuid.UUID, *, now: datetime, lease_until: datetime
) -> ScheduledPost | None:
    row = await conn.fetchrow(_CLAIM, post_id, now, lease_until, USABLE_FOR)
    return loaded(ScheduledPost, post_attributes(row)) if row is not None else None


async def containers_since(conn: Driver, account_id: uuid.UUID, *, since: datetime) -> int:
    """The containers the account created after `since` (the older rows are deleted)."""
    await conn.execute(_PRUNE, account_id, since - timedelta(minutes=1))
    return int(await conn.fetchval(_USED, account_id, since))
