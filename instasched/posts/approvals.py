"""Drafts and approvals (issue 20 item 2; docs/approvals.md).

A post's status says where it is in the workflow:

    draft ──submit──> needs_approval ──approve──> scheduled ──> publishing ──> published
      │                 │      ▲ │                   ▲
      │                 │      │ └──reject──> changes_requested ──submit──┘ (or needs_approval)
      └──submit (the caller may approve, or the workspace does not require approval)──┘
    needs_approval / changes_requested ──its time passes──> approval_expired (never published)

- The workspace setting `require_approval` decides whether a post of a member who may not
  approve (an editor) waits for an approver: created, edited or submitted, it goes to
  `needs_approval` instead of `scheduled`; an owner's or approver's own posts are scheduled
  directly. Editing a scheduled post under that rule sends it back (its jobs and staged
  containers are dropped).
- Only `scheduled` posts are queued, staged, claimed and published (every one of those steps
  checks `status = 'scheduled'` in its SQL), so nothing here can publish a post not approved.
- Every change writes a history event with its actor, and the post's `approval_*` columns keep
  who submitted, who decided, when, and the comment.
- The worker's sweep (`expire_due`) marks the posts awaiting approval whose time has come
  `approval_expired`, writes their history and raises the alert `post.approval_expired`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.accounts import repository as accounts_repository
from instasched.config import Settings
from instasched.db import after_commit, driver_connection
from instasched.exceptions import Invalid
from instasched.kit.time import utcnow, zone
from instasched.models import PostStatus, ScheduledPost
from instasched.posts import history, quota, repository, rules, service, times
from instasched.posts.history import Kind
from instasched.posts.workflow_schemas import PostApprove, PostReject, PostSubmit
from instasched.publishing import staging
from instasched.worker.queue import PublishQueue

if TYPE_CHECKING:
    from instasched.observability.events import Events
    from instasched.workspaces.access import Access

log = logging.getLogger(__name__)

# How many expired posts one statement of the sweep marks (the sweep repeats until fewer).
EXPIRE_BATCH = 500

_REQUIRES = "SELECT require_approval FROM workspaces WHERE id = $1"


async def requires_approval(session: AsyncSession, *, workspace_id: uuid.UUID) -> bool:
    conn = await driver_connection(session)
    return bool(await conn.fetchval(_REQUIRES, workspace_id))


async def placed_status(session: AsyncSession, access: Access) -> str:
    """The status of a post its author schedules: `needs_approval` when the workspace requires
    approval and the author may not approve, else `scheduled`. No read for an owner or an
    approver (every personal workspace's requests)."""
    if access.can_approve:
        return PostStatus.SCHEDULED
    if await requires_approval(session, workspace_id=access.workspace_id):
        return PostStatus.NEEDS_APPROVAL
    return PostStatus.SCHEDULED


def mark_submitted(post: Any, *, user_id: uuid.UUID, at: datetime) -> None:
    """A post entering `needs_approval`: who submitted it and when; an earlier decision is
    forgotten (its comment stays in the history)."""
    post.approval_submitted_by = user_id
    post.approval_submitted_at = at
    post.approval_decided_by = None
    post.approval_decided_at = None
    post.approval_comment = None


# The hints of a refused approval step (service.require_status has those of the other statuses).
_HINTS = {
    PostStatus.SCHEDULED: "it is scheduled already",
    PostStatus.NEEDS_APPROVAL: "it was submitted and waits for an approver",
    PostStatus.DRAFT: "it is a draft: submit it first",
    PostStatus.CHANGES_REQUESTED: "it was sent back: edit it and submit it again",
    PostStatus.APPROVAL_EXPIRED: "its time passed before it was approved",
}


async def _future_time(
    session: AsyncSession,
    *,
    settings: Settings,
    post: ScheduledPost,
    sent: str | None,
    now: datetime,
    missing: str,
) -> datetime:
    """The time the post will be published at: `sent` (ISO 8601) or its own, which must be at
    least SCHEDULE_MIN_LEAD_SECONDS ahead (422 naming `scheduledFor` otherwise)."""
    account = await accounts_repository.read_owned(
        session, workspace_id=post.workspace_id, account_id=post.instagram_account_id
    )
    if sent is not None:
        return await times.resolve_time(
            session,
            settings=settings,
            account=account,
            scheduled_for=sent,
            use_next_slot=False,
            now=now,
            exclude_post_id=post.id,
        )
    if post.scheduled_for is None:
        raise Invalid(missing, field="scheduledFor")
    rules.check_time_window(
        post.scheduled_for,
        now=now,
        min_lead_seconds=settings.schedule_min_lead_seconds,
        max_lead_months=settings.schedule_max_lead_months,
        tz=zone(account.timezone),
        field="scheduledFor",
    )
    return post.scheduled_for


async def _schedule(
    session: AsyncSession,
    *,
    settings: Settings,
    queue: PublishQueue,
    post: ScheduledPost,
    at: datetime,
    allow_over_quota: bool,
    now: datetime,
) -> quota.QuotaWindow | None:
    """Make the post `scheduled` at `at` (checked against the publishing quota, as an edit) and
    queue its jobs after the commit."""
    account = await accounts_repository.read_owned(
        session, workspace_id=post.workspace_id, account_id=post.instagram_account_id
    )
    warning = await quota.check(
        session,
        account=account,
        settings=settings,
        at=at,
        exclude_post_id=post.id,
        allow_over=allow_over_quota,
        field="scheduledFor",
    )
    post.status = PostStatus.SCHEDULED
    post.scheduled_for = at
    post.next_attempt_at = None
    return warning


def _queue_after_commit(
    session: AsyncSession,
    *,
    settings: Settings,
    queue: PublishQueue,
    post: ScheduledPost,
    now: datetime,
) -> None:
    """The post's jobs as its status wants them (none unless scheduled), after the commit."""
    jobs = staging.jobs_for(post, settings=settings, now=now)
    after_commit(
        session, partial(queue.set_jobs, post.id, jobs), timeout=service.ENQUEUE_TIMEOUT_SECONDS
    )


@dataclass(frozen=True, slots=True)
class Decision:
    post: ScheduledPost
    quota_warning: quota.QuotaWindow | None


async def submit_post(
    session: AsyncSession,
    *,
    settings: Settings,
    queue: PublishQueue,
    access: Access,
    post_id: uuid.UUID,
    body: PostSubmit,
    now: datetime | None = None,
) -> Decision:
    """A draft (or a post sent back, or expired) goes to an approver, or is scheduled when the
    caller may approve or the workspace does not require approval. It needs a future time."""
    post = await repository.get_owned(
        session, workspace_id=access.workspace_id, post_id=post_id, for_update=True
    )
    service.require_status(
        post,
        (PostStatus.DRAFT, PostStatus.CHANGES_REQUESTED, PostStatus.APPROVAL_EXPIRED),
        "submitted",
        _HINTS,
    )
    now = now or utcnow()
    at = await _future_time(
        session,
        settings=settings,
        post=post,
        sent=body.scheduled_for,
        now=now,
        missing="This draft has no time yet: send scheduledFor (ISO 8601) to submit it, or set "
        "its time first (PUT .../posts/{postId})",
    )
    before = post.status
    target = await placed_status(session, access)
    warning = None
    mark_submitted(post, user_id=access.user_id, at=now)
    if target == PostStatus.SCHEDULED:
        warning = await _schedule(
            session, settings=settings, queue=queue, post=post, at=at,
            allow_over_quota=bool(body.allow_over_quota), now=now,
        )  # fmt: skip
        post.approval_submitted_by = None  # scheduled directly: it went through no approval
        post.approval_submitted_at = None
    else:
        post.status = PostStatus.NEEDS_APPROVAL
        post.scheduled_for = at
    await session.flush()
    await history.record(
        session, post.id, Kind.SUBMITTED, actor_user_id=access.user_id,
        detail={"from": before, "to": post.status, "scheduledFor": at.isoformat()},
    )  # fmt: skip
    await session.refresh(post)
    _queue_after_commit(session, settings=settings, queue=queue, post=post, now=now)
    log.info("post %s submitted: %s", post.id, post.status)
    return Decision(post, warning)


async def approve_post(
    session: AsyncSession,
    *,
    settings: Settings,
    queue: PublishQueue,
    access: Access,
    post_id: uuid.UUID,
    body: PostApprove,
    now: datetime | None = None,
) -> Decision:
    """needs_approval (or approval_expired, given a new future time) -> scheduled."""
    post = await repository.get_owned(
        session, workspace_id=access.workspace_id, post_id=post_id, for_update=True
    )
    service.require_status(
        post, (PostStatus.NEEDS_APPROVAL, PostStatus.APPROVAL_EXPIRED), "approved", _HINTS
    )
    if post.status == PostStatus.APPROVAL_EXPIRED and body.scheduled_for is None:
        raise Invalid(
            "This post's time passed before it was approved: send a new scheduledFor "
            "(ISO 8601, in the future) with the approval",
            field="scheduledFor",
        )
    now = now or utcnow()
    at = await _future_time(
        session,
        settings=settings,
        post=post,
        sent=body.scheduled_for,
        now=now,
        missing="This post has no time: send scheduledFor with the approval",
    )
    before = post.status
    warning = await _schedule(
        session, settings=settings, queue=queue, post=post, at=at,
        allow_over_quota=bool(body.allow_over_quota), now=now,
    )  # fmt: skip
    post.approval_decided_by = access.user_id
    post.approval_decided_at = now
    post.approval_comment = body.comment or None
    await session.flush()
    detail: dict[str, Any] = {"from": before, "scheduledFor": at.isoformat()}
    if body.comment:
        detail["comment"] = body.comment
    await history.record(
        session, post.id, Kind.APPROVED, actor_user_id=access.user_id, detail=detail
    )
    await session.refresh(post)
    _queue_after_commit(session, settings=settings, queue=queue, post=post, now=now)
    log.info("post %s approved", post.id)
    return Decision(post, warning)


async def reject_post(
    session: AsyncSession, *, access: Access, post_id: uuid.UUID, body: PostReject
) -> ScheduledPost:
    """needs_approval -> changes_requested, with the approver's comment."""
    post = await repository.get_owned(
        session, workspace_id=access.workspace_id, post_id=post_id, for_update=True
    )
    service.require_status(post, PostStatus.NEEDS_APPROVAL, "sent back", _HINTS)
    comment = body.comment.strip()
    if not comment:
        raise Invalid("comment must say what to change (it is empty)", field="comment")
    post.status = PostStatus.CHANGES_REQUESTED
    post.approval_decided_by = access.user_id
    post.approval_decided_at = utcnow()
    post.approval_comment = comment
    await session.flush()
    await history.record(
        session, post.id, Kind.CHANGES_REQUESTED, actor_user_id=access.user_id,
        detail={"comment": comment},
    )  # fmt: skip
    await session.refresh(post)
    log.info("post %s sent back for changes", post.id)
    return post


# --- the worker's sweep ---------------------------------------------------------------------
# The posts awaiting approval whose time has come (idx_scheduled_posts_awaiting_approval: an
# index range over those posts only), marked approval_expired, with their history event, in one
# statement. SKIP LOCKED: a post being approved right now is left to that approval.
_EXPIRE = """
WITH due AS (
    SELECT id, status FROM instagram_scheduled_posts
    WHERE status IN ('needs_approval', 'changes_requested') AND scheduled_for <= $1
    ORDER BY scheduled_for LIMIT $2 FOR UPDATE SKIP LOCKED
), marked AS (
    UPDATE instagram_scheduled_posts p SET status = 'approval_expired', updated_at = now()
    FROM due WHERE p.id = due.id
    RETURNING p.id, p.instagram_account_id, p.scheduled_for, due.status AS was
), ev AS (
    INSERT INTO instagram_post_events (post_id, kind, detail)
    SELECT id, 'approval_expired', jsonb_build_object(
        'was', was, 'scheduledFor', scheduled_for,
        'message', 'Not published: it was not approved before its time')
    FROM marked
)
SELECT id, instagram_account_id, scheduled_for, was FROM marked
"""


async def expire_due(session: AsyncSession, *, events: Events, now: datetime | None = None) -> int:
    """Mark the posts awaiting approval whose time has come `approval_expired` (in batches of
    EXPIRE_BATCH, each committed), with an alert each. Returns how many. Safe in every worker
    process at once (SKIP LOCKED)."""
    now = now or utcnow()
    total = 0
    while True:
        conn = await driver_connection(session, write=True)
        rows = await conn.fetch(_EXPIRE, now, EXPIRE_BATCH)
        await session.commit()
        for row in rows:
            events.approval_expired(
                post_id=row["id"],
                account_id=row["instagram_account_id"],
                scheduled_for=row["scheduled_for"].isoformat(),
                was=row["was"],
            )
        total += len(rows)
        if len(rows) < EXPIRE_BATCH:
            return total


__all__ = [
    "Decision",
    "approve_post",
    "expire_due",
    "mark_submitted",
    "placed_status",
    "reject_post",
    "submit_post",
]
