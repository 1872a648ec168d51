"""A post after it was made: its history, retry in place (a failed post) and duplicate.

- Retry: a `failed` post goes back to `scheduled` with the same id, a fresh attempt budget and
  the container it had (read first by the publisher, so a publication Meta made after all is
  found, never repeated), after the same checks as an edit (media still there, Meta's rules,
  the time window and the publishing quota). Not while the account needs reconnecting: that
  retry would fail at once.
- Duplicate: a copy of any post as a new draft (at the time the user gives, if any), through
  the create path (`service.create_post`); submitting the draft schedules it or sends it for
  approval (posts.approvals).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.accounts import repository as accounts_repository
from instasched.config import Settings
from instasched.db import after_commit
from instasched.exceptions import Conflict
from instasched.kit.time import utcnow
from instasched.models import PostStatus, ScheduledPost, post_time
from instasched.posts import drafts, history, quota, repository, service, times
from instasched.posts.schemas import PostCreate
from instasched.posts.workflow_schemas import (
    PostDuplicate,
    PostEventOut,
    PostHistory,
    PostRetry,
)
from instasched.publishing import staging
from instasched.worker.queue import PublishQueue

if TYPE_CHECKING:
    from instasched.workspaces.access import Access

# A retry without a time is due this soon: long enough to read the answer, short enough to watch.
RETRY_DELAY = timedelta(seconds=10)
HISTORY_LIMIT = 2000
_RETRY_HINTS = {
    PostStatus.SCHEDULED: "it is scheduled already; to move it, edit its scheduledFor",
    PostStatus.PUBLISHED: "it is published; duplicate it to post it again",
    PostStatus.CANCELLED: "it was cancelled; duplicate it to schedule it again",
}


async def post_history(
    session: AsyncSession, *, workspace_id: uuid.UUID, post_id: uuid.UUID
) -> PostHistory:
    post = await repository.get_owned(session, workspace_id=workspace_id, post_id=post_id)
    events = await history.read(session, post_id=post.id, limit=HISTORY_LIMIT)
    return PostHistory(
        post_id=post.id,
        status=post.status,
        last_publish_error=post.last_publish_error,
        last_error_code=post.last_error_code,
        events=[
            PostEventOut(
                id=e.id,
                at=e.at,
                kind=e.kind,
                actor_user_id=e.actor_user_id,
                attempt=e.attempt,
                summary=history.summary(e.kind, e.attempt, e.detail),
                detail=e.detail,
            )
            for e in events
        ],
    )


async def retry_post(
    session: AsyncSession,
    *,
    settings: Settings,
    queue: PublishQueue,
    access: Access,
    post_id: uuid.UUID,
    body: PostRetry,
    now: datetime | None = None,
) -> tuple[ScheduledPost, quota.QuotaWindow | None]:
    post = await repository.get_owned(
        session, workspace_id=access.workspace_id, post_id=post_id, for_update=True
    )
    service.require_status(post, PostStatus.FAILED, "retried", _RETRY_HINTS)
    account = await accounts_repository.read_owned(
        session, workspace_id=access.workspace_id, account_id=post.instagram_account_id
    )
    if account.needs_reauth:
        raise Conflict(
            f"The Instagram connection of @{account.username} has expired or was revoked: "
            "reconnect the account (Instagram accounts → reconnect), then retry this post",
            detail={"reason": "needs_reauth", "accountId": str(account.id)},
        )
    now = now or utcnow()
    if body.scheduled_for is not None:
        when = await times.resolve_time(
            session,
            settings=settings,
            account=account,
            scheduled_for=body.scheduled_for,
            use_next_slot=False,
            now=now,
            exclude_post_id=post.id,
        )
    else:
        when = now + RETRY_DELAY
    # The checks of an edit: the media must still be there, and pass today's rules.
    await drafts.check_existing(
        session,
        settings=settings,
        workspace_id=access.workspace_id,
        post=post,
        login_kind=account.login_kind,
    )
    warning = await quota.check(
        session,
        account=account,
        settings=settings,
        at=when,
        exclude_post_id=post.id,
        allow_over=bool(body.allow_over_quota),
        field="scheduledFor",
    )
    meta: dict[str, Any] = dict(post.meta or {})
    retries = int(meta.get("manualRetries", 0)) + 1
    meta["manualRetries"] = retries
    meta.setdefault("originalScheduledFor", post_time(post).astimezone(UTC).isoformat())
    detail = {
        "scheduledFor": when.astimezone(UTC).isoformat(),
        "retry": retries,
        "previousError": post.last_publish_error,
        "previousErrorCode": post.last_error_code,
        "previousAttempts": post.publish_attempts or 0,
    }
    post.status = PostStatus.SCHEDULED
    post.scheduled_for = when
    post.next_attempt_at = None
    post.failed_at = None
    post.lease_expires_at = None
    post.publish_attempts = 0  # a new attempt budget; the history keeps the earlier attempts
    post.last_publish_error = None
    post.last_error_code = None
    post.meta = meta
    # Its container stays (read first, so a publication Meta made after all is found), but it
    # no longer counts as staged: a retry never goes straight to media_publish.
    for name, value in staging.unstaged().items():
        setattr(post, name, value)
    await session.flush()
    await history.record(
        session, post.id, history.Kind.RETRIED, actor_user_id=access.user_id, detail=detail
    )
    await session.refresh(post)
    jobs = staging.jobs_for(post, settings=settings, now=now)
    after_commit(
        session, partial(queue.set_jobs, post.id, jobs), timeout=service.ENQUEUE_TIMEOUT_SECONDS
    )
    return post, warning


async def duplicate_post(
    session: AsyncSession,
    *,
    settings: Settings,
    queue: PublishQueue,
    access: Access,
    token_version: int,
    post_id: uuid.UUID,
    body: PostDuplicate,
) -> tuple[ScheduledPost | repository.PostRow, quota.QuotaWindow | None]:
    """A new draft with the source's content (its rendered caption, not its template), made
    and checked by the create path."""
    source = await repository.get_owned(session, workspace_id=access.workspace_id, post_id=post_id)
    create = PostCreate.model_validate(
        {
            "instagramAccountId": body.instagram_account_id or source.instagram_account_id,
            "scheduledFor": body.scheduled_for,
            "useNextSlot": body.use_next_slot,
            "mediaType": source.media_type,
            "caption": source.caption or None,
            "mediaIds": [str(i) for i in source.media_ids or []] or None,
            "productTags": list(source.product_tags or []) or None,
            "locationId": source.location_id,
            "firstComment": source.first_comment,
            "userTags": list(source.user_tags or []) or None,
            "collaborators": list(source.collaborators or []) or None,
            "altText": source.alt_text,
            "coverUrl": source.cover_url,
            "thumbOffsetMs": source.thumb_offset_ms,
            "shareToFeed": source.share_to_feed,
            "allowOverQuota": body.allow_over_quota,
            "draft": True,
        }
    )
    post, _, warning = await service.create_post(
        session,
        settings=settings,
        queue=queue,
        access=access,
        token_version=token_version,
        body=create,
        event={"source": "duplicate", "duplicatedFrom": str(source.id)},
    )
    return post, warning
