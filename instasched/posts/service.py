"""Scheduled posts: create, list, read, edit, cancel, publish now.

Rules live in `instasched.posts.rules` (pure); this module orchestrates them, writes the row
and registers the queue change to run after the commit. Services never commit. Its steps have
their own modules: `times` (when a post is due), `captions` (a caption from a template),
`media_refs` (the media a post names), `drafts` (the checks of a post's content) and
`idempotency` (the Idempotency-Key).

Concurrency with the worker: the worker claims a post with a conditional
`UPDATE ... SET status='publishing' WHERE id=:id AND status='scheduled' AND <due>`. Edits, cancels
and publish-now lock the row (`SELECT ... FOR UPDATE`) and check the status under that lock, so
either the worker claimed first (and we answer 409 with the state) or our change commits first
(and the worker's claim re-reads our row: a cancelled or moved post is not claimed).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instasched.accounts import repository as accounts_repository
from instasched.config import Settings
from instasched.db import after_commit
from instasched.exceptions import Conflict, Invalid, NotFound, Unauthorized
from instasched.kit.time import parse_datetime, utcnow, zone
from instasched.models import (
    InstagramAccount,
    MediaAsset,
    PostStatus,
    PostTemplate,
    ScheduledPost,
    post_time,
)
from instasched.posts import (
    approvals,
    captions,
    drafts,
    history,
    idempotency,
    media_refs,
    quota,
    repository,
    rules,
    times,
)
from instasched.posts.schemas import PostCreate, PostUpdate, TemplateValue
from instasched.publishing import staging
from instasched.security import SESSION_ENDED, USER_GONE
from instasched.worker.queue import PublishQueue

if TYPE_CHECKING:
    from instasched.workspaces.access import Access

log = logging.getLogger(__name__)

# An unreachable Redis must not hold the response: the row is committed and the reconciler
# re-creates a missing job, so a slow enqueue is abandoned after this long.
ENQUEUE_TIMEOUT_SECONDS = 3.0


# --- create ---------------------------------------------------------------------------------
async def create_post(
    session: AsyncSession,
    *,
    settings: Settings,
    queue: PublishQueue,
    access: Access,
    token_version: int,
    body: PostCreate,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    event: dict[str, Any] | None = None,
) -> tuple[ScheduledPost | repository.PostRow, bool, quota.QuotaWindow | None]:
    """Validate and store a post, enqueue its job after the commit.

    Returns (post, created, quota warning). With an `Idempotency-Key` already used by this user,
    the first post is returned unchanged (created=False), also when two requests race (unique
    index); with the key used for another body, 422. Over the publishing quota: 422, or saved
    with the warning when `allowOverQuota`. `token_version` is the bearer token's (the endpoint
    verified its signature only): a revoked token is a 401 here.

    `access`: the caller, the workspace the post is made in and the caller's role there. A
    draft (`draft: true`) needs no time and is never queued; a member who may not approve, in a
    workspace that requires approval, makes a post that waits in `needs_approval`
    (posts.approvals).
    """
    workspace_id, user_id = access.workspace_id, access.user_id
    key = idempotency.check_idempotency_key(idempotency_key)
    fingerprint = idempotency.fingerprint(body) if key is not None else None
    if key is not None:
        first = await idempotency.replayed(
            session, access=access, key=key, fingerprint=fingerprint, token_version=token_version
        )
        if first is not None:
            return first, False, None
    # The user (the endpoint verified the token only), the account and the assets at once.
    context = await repository.read_create_context(
        session,
        user_id=user_id,
        workspace_id=workspace_id,
        account_id=body.instagram_account_id,
        asset_ids=media_refs.ids_to_prefetch(body.media_ids),
    )
    if context is None:
        raise Unauthorized(USER_GONE)
    if context.token_version != token_version:
        raise Unauthorized(SESSION_ENDED)
    account = context.account
    if account is None:
        raise NotFound("Instagram account not found")
    now = now or utcnow()
    prepared = await prepare_post(
        session,
        settings=settings,
        workspace_id=workspace_id,
        account=account,
        body=body,
        known_assets=context.assets,
        now=now,
    )
    post = prepared.post
    post.idempotency_key = key
    post.idempotency_fingerprint = fingerprint
    post.status = PostStatus.DRAFT if body.draft else await approvals.placed_status(session, access)
    if post.status == PostStatus.NEEDS_APPROVAL:
        approvals.mark_submitted(post, user_id=user_id, at=now)
    scheduled_for = post.scheduled_for
    media = prepared.media
    limit = prepared.quota
    # One statement: the post, its media and template uses, its `created` event
    # (repository._insert_sql). A draft uses no quota.
    inserted = await repository.insert_post(
        session,
        post,
        asset_ids=[a.id for a, _ in media],
        quota=None if body.allow_over_quota or body.draft else limit,
        actor_user_id=user_id,
        event={
            "scheduledFor": scheduled_for.isoformat() if scheduled_for else None,
            "status": post.status,
            **(event or {}),
        },
    )
    row = inserted.row
    window = quota.QuotaWindow(*inserted.quota_window, quota=limit)
    if row is None:
        if inserted.missing_assets:
            raise media_refs.deleted_meanwhile(media, inserted.missing_assets)
        quota.refuse_or_warn(window, allow_over=False, field=times.time_field(body.use_next_slot))
        # two requests raced with one Idempotency-Key: the first one's post
        winner = await idempotency.replayed(
            session, access=access, key=key or "", fingerprint=fingerprint,
            token_version=token_version,
        )  # fmt: skip
        if winner is None:  # pragma: no cover - the conflict said it exists
            raise Conflict("A post with this Idempotency-Key is being created; retry")
        return winner, False, None
    if row.status != PostStatus.SCHEDULED:  # a draft or a post awaiting approval: no job
        if row.status == PostStatus.NEEDS_APPROVAL:
            await history.record(
                session, row.id, history.Kind.SUBMITTED, actor_user_id=user_id,
                detail={"to": row.status, "scheduledFor": _iso(scheduled_for)},
            )  # fmt: skip
        log.info("post %s saved as %s", row.id, row.status)
        return row, True, window if window.over and not body.draft else None
    # A new post has no job yet: a plain add (no remove first) saves a Redis round trip.
    after_commit(
        session,
        partial(queue.schedule_many, staging.jobs_for(row, settings=settings, now=now)),
        timeout=ENQUEUE_TIMEOUT_SECONDS,
    )
    log.info("post %s scheduled for %s", row.id, _iso(scheduled_for))
    return row, True, window if window.over else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass
class Prepared:
    """A new post checked by every rule of a create, ready to insert (`repository.insert_post`
    checks the publishing quota and the assets' existence as it inserts)."""

    post: repository.NewPost
    media: list[media_refs.MediaRef]
    quota: int  # the account's publishing quota
    time_field: str  # the field a quota problem is reported on


async def prepare_post(
    session: AsyncSession,
    *,
    settings: Settings,
    workspace_id: uuid.UUID,
    account: InstagramAccount,
    body: PostCreate,
    known_assets: Mapping[uuid.UUID, MediaAsset] | None,
    now: datetime,
    templates: dict[uuid.UUID, PostTemplate | None] | None = None,
) -> Prepared:
    """The checks of a new post (time window, template, media, caption and Meta's rules), in the
    order a create makes them; raises the first problem (`Invalid` naming its field).
    `templates`: a cache of the user's templates by id (a CSV import renders many rows).
    A draft needs no time (one given is checked as any)."""
    scheduled_for: datetime | None = None
    if not body.draft or body.scheduled_for is not None or body.use_next_slot:
        scheduled_for = await times.resolve_time(
            session,
            settings=settings,
            account=account,
            scheduled_for=body.scheduled_for,
            use_next_slot=body.use_next_slot,
            now=now,
        )
    media_type = body.media_type
    caption = body.caption or ""
    variables: dict[str, TemplateValue] = dict(body.template_variables or {})
    template_id = body.template_id
    if template_id is not None:
        caption = await captions.render_template(
            session,
            settings=settings,
            workspace_id=workspace_id,
            account=account,
            template_id=template_id,
            variables=variables,
            caption_sent=body.caption,
            media_type=media_type,
            templates=templates,
        )
    elif body.template_variables:
        raise Invalid("templateVariables need a templateId", field="templateVariables")

    media = await media_refs.resolve_media(
        session, workspace_id=workspace_id, media_ids=body.media_ids, media_urls=body.media_urls,
        known=known_assets,
    )  # fmt: skip
    draft = drafts.Draft(
        media_type=media_type,
        media=media,
        extras=rules.Extras(
            caption=caption,
            product_tags=[t.model_dump(by_alias=True) for t in body.product_tags or []],
            user_tags=[t.model_dump(by_alias=True) for t in body.user_tags or []],
            collaborators=list(body.collaborators or []),
            first_comment=body.first_comment,
            alt_text=body.alt_text,
            cover_url=body.cover_url,
            thumb_offset_ms=body.thumb_offset_ms,
            share_to_feed=body.share_to_feed,
            location_id=body.location_id,
            trial_strategy=body.trial_params.graduation_strategy if body.trial_params else None,
            is_ai_generated=bool(body.is_ai_generated),
        ),
    )
    checked = await drafts.check_draft(
        session,
        settings=settings,
        workspace_id=workspace_id,
        draft=draft,
        login_kind=account.login_kind,
    )
    post = repository.NewPost(
        instagram_account_id=account.id,
        workspace_id=workspace_id,
        scheduled_for=scheduled_for,
        status=PostStatus.SCHEDULED,
        template_id=template_id,
        template_variables=variables,
        idempotency_key=None,
        idempotency_fingerprint=None,
        meta={},
    )
    checked.apply(post)
    return Prepared(
        post, media, quota.quota_of(account, settings), times.time_field(body.use_next_slot)
    )


# --- read -----------------------------------------------------------------------------------
async def list_posts(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    status: str | None,
    scheduled_after: str | None,
    scheduled_before: str | None,
    page: int,
    limit: int,
) -> tuple[list[repository.PostRow], int]:
    account = await accounts_repository.read_owned(
        session, workspace_id=workspace_id, account_id=account_id
    )
    tz = zone(account.timezone)
    after = parse_datetime(scheduled_after, tz, field="scheduledAfter") if scheduled_after else None
    before = (
        parse_datetime(scheduled_before, tz, field="scheduledBefore") if scheduled_before else None
    )
    if after is not None and before is not None and after > before:
        raise Invalid(
            "scheduledBefore must not be earlier than scheduledAfter", field="scheduledBefore"
        )
    return await repository.list_for_account(
        session,
        account_id=account.id,  # the user's: read_owned answered 404 otherwise
        status=status,
        scheduled_after=after,
        scheduled_before=before,
        offset=(page - 1) * limit,
        limit=limit,
    )


async def get_post(
    session: AsyncSession, *, workspace_id: uuid.UUID, account_id: uuid.UUID, post_id: uuid.UUID
) -> ScheduledPost:
    await accounts_repository.get_owned(session, workspace_id=workspace_id, account_id=account_id)
    return await repository.get_owned(
        session, workspace_id=workspace_id, post_id=post_id, account_id=account_id
    )


# --- update ---------------------------------------------------------------------------------
async def update_post(
    session: AsyncSession,
    *,
    settings: Settings,
    queue: PublishQueue,
    access: Access,
    post_id: uuid.UUID,
    body: PostUpdate,
    now: datetime | None = None,
) -> tuple[ScheduledPost, quota.QuotaWindow | None]:
    """Change a scheduled post, a draft or a post in the approval workflow; the merged result
    passes the same validation as a new post.

    Returns the post and, when a new time is over the publishing quota and `allowOverQuota` was
    sent, the quota warning (without the flag: 422). `access`: as `create_post`'s; a member
    who may not approve, editing a scheduled post of a workspace that requires approval, sends
    it back to `needs_approval` (its jobs and staged containers are dropped)."""
    workspace_id, user_id = access.workspace_id, access.user_id
    sent = body.model_fields_set
    for name, label in (("caption", "caption"), ("media_type", "mediaType")):
        if name in sent and getattr(body, name) is None:
            raise Invalid(f"{label} cannot be null", field=label)
    if "scheduled_for" in sent and body.scheduled_for is None and not body.use_next_slot:
        raise Invalid("scheduledFor cannot be null", field="scheduledFor")

    post = await repository.get_owned(
        session, workspace_id=workspace_id, post_id=post_id, for_update=True
    )
    require_status(post, EDITABLE_STATUSES, "edited")
    if sent & {"media_ids", "media_urls", "media_type"} and _stories_out(post):
        raise Conflict(
            "Some stories of this post are already on Instagram (storyItems); its media and "
            "type can no longer change. Cancel it and make a new post for the other stories",
            detail={"field": "mediaIds"},
        )
    account = await accounts_repository.read_owned(
        session, workspace_id=workspace_id, account_id=post.instagram_account_id
    )
    now = now or utcnow()

    new_time: datetime | None = None
    if body.scheduled_for is not None or body.use_next_slot:
        new_time = await times.resolve_time(
            session,
            settings=settings,
            account=account,
            scheduled_for=body.scheduled_for,
            use_next_slot=bool(body.use_next_slot),
            now=now,
            exclude_post_id=post.id,
        )
    media_type = body.media_type or post.media_type
    caption = body.caption if "caption" in sent and body.caption is not None else post.caption

    template_id = post.template_id
    variables: dict[str, TemplateValue] = dict(post.template_variables or {})
    count_use = False
    if "template_variables" in sent:
        variables = dict(body.template_variables or {})
    if "template_id" in sent:
        count_use = body.template_id is not None and body.template_id != post.template_id
        template_id = body.template_id
        if template_id is None:
            variables = {}
    if template_id is not None and ("template_id" in sent or "template_variables" in sent):
        caption = await captions.render_template(
            session,
            settings=settings,
            workspace_id=workspace_id,
            account=account,
            template_id=template_id,
            variables=variables,
            caption_sent=body.caption if "caption" in sent else None,
            media_type=media_type,
        )
    elif template_id is None and variables:
        raise Invalid("templateVariables need a templateId", field="templateVariables")

    media_sent = "media_ids" in sent or "media_urls" in sent
    if media_sent:
        media = await media_refs.resolve_media(
            session, workspace_id=workspace_id, media_ids=body.media_ids, media_urls=body.media_urls
        )
    else:
        media = await media_refs.existing_media(session, workspace_id=workspace_id, post=post)

    def pick(name: str, current: Any) -> Any:
        return getattr(body, name) if name in sent else current

    draft = drafts.Draft(
        media_type=media_type,
        media=media,
        extras=rules.Extras(
            caption=caption,
            product_tags=(
                [t.model_dump(by_alias=True) for t in body.product_tags or []]
                if "product_tags" in sent
                else list(post.product_tags or [])
            ),
            user_tags=(
                [t.model_dump(by_alias=True) for t in body.user_tags or []]
                if "user_tags" in sent
                else list(post.user_tags or [])
            ),
            collaborators=list(pick("collaborators", post.collaborators) or []),
            first_comment=pick("first_comment", post.first_comment),
            alt_text=pick("alt_text", post.alt_text),
            cover_url=pick("cover_url", post.cover_url),
            thumb_offset_ms=pick("thumb_offset_ms", post.thumb_offset_ms),
            share_to_feed=pick("share_to_feed", post.share_to_feed),
            location_id=pick("location_id", post.location_id),
            trial_strategy=(
                (body.trial_params.graduation_strategy if body.trial_params else None)
                if "trial_params" in sent
                else post.trial_graduation_strategy
            ),
            is_ai_generated=bool(pick("is_ai_generated", post.is_ai_generated)),
        ),
    )
    checked = await drafts.check_draft(
        session,
        settings=settings,
        workspace_id=workspace_id,
        draft=draft,
        login_kind=account.login_kind,
    )

    old_assets = [uuid.UUID(str(i)) for i in post.media_ids or []]
    moved = new_time is not None and new_time != post.scheduled_for
    carried = staging.snapshot(post)  # what its containers (staged or kept) carry
    before = history.snapshot(post)
    checked.apply(post)
    post.template_id = template_id
    post.template_variables = variables
    if new_time is not None and moved:
        post.scheduled_for = new_time
        post.next_attempt_at = None  # a retry wait is replaced by the new time
    if media_sent:
        new_assets = [a.id for a, _ in media]
        added = set(new_assets) - set(old_assets)
        missing = await repository.lock_assets(session, asset_ids=sorted(added))
        if missing:
            raise media_refs.deleted_meanwhile(media, missing)
    if count_use and template_id is not None:
        await repository.count_template_use(session, template_id=template_id)
    warning = None
    if new_time is not None and moved and post.status not in UNQUEUED_DRAFTS:
        # After the assets' locks, as a create takes them (assets, then the quota lock).
        warning = await quota.check(
            session,
            account=account,
            settings=settings,
            at=new_time,
            exclude_post_id=post.id,
            allow_over=bool(body.allow_over_quota),
            field=times.time_field(bool(body.use_next_slot)),
        )
    due = post.next_attempt_at or post.scheduled_for
    discard = (
        staging.discard_on_edit(post, carried, due=due, moved=moved) if due is not None else None
    )
    changed = history.changes(before, history.snapshot(post))
    sent_back = (
        changed
        and post.status == PostStatus.SCHEDULED
        and await approvals.placed_status(session, access) == PostStatus.NEEDS_APPROVAL
    )
    if sent_back:  # it waits for an approver again: no job, no staged container
        post.status = PostStatus.NEEDS_APPROVAL
        post.next_attempt_at = None
        approvals.mark_submitted(post, user_id=user_id, at=now)
        discard = staging.discarded()
    for name, value in (discard or {}).items():
        setattr(post, name, value)
    await session.flush()
    if changed:
        await history.record(
            session, post.id, history.Kind.EDITED, actor_user_id=user_id,
            detail={"changed": changed},
        )  # fmt: skip
    if sent_back:
        await history.record(
            session, post.id, history.Kind.SUBMITTED, actor_user_id=user_id,
            detail={"from": PostStatus.SCHEDULED, "to": post.status, "reason": "edited",
                    "scheduledFor": _iso(post.scheduled_for)},
        )  # fmt: skip
    await session.refresh(post)
    if new_time is not None or discard is not None:
        jobs = staging.jobs_for(post, settings=settings, now=now)
        after_commit(
            session, partial(queue.set_jobs, post.id, jobs), timeout=ENQUEUE_TIMEOUT_SECONDS
        )
    return post, warning


# --- cancel ---------------------------------------------------------------------------------
async def cancel_post(
    session: AsyncSession,
    *,
    queue: PublishQueue,
    access: Access,
    post_id: uuid.UUID,
) -> ScheduledPost:
    post = await repository.get_owned(
        session, workspace_id=access.workspace_id, post_id=post_id, for_update=True
    )
    require_status(post, CANCELLABLE_STATUSES, "cancelled")
    post.status = PostStatus.CANCELLED
    post.cancelled_at = await repository.database_now(session)
    post.next_attempt_at = None
    for name, value in staging.discarded().items():  # staged containers are left to expire
        setattr(post, name, value)
    await session.flush()
    await history.record(session, post.id, history.Kind.CANCELLED, actor_user_id=access.user_id)
    await session.refresh(post)
    after_commit(session, partial(queue.remove, post.id), timeout=ENQUEUE_TIMEOUT_SECONDS)
    log.info("post %s cancelled", post.id)
    return post


# --- publish now ----------------------------------------------------------------------------
async def publish_now(
    session: AsyncSession,
    *,
    settings: Settings,
    queue: PublishQueue,
    access: Access,
    post_id: uuid.UUID,
) -> ScheduledPost:
    """Make a scheduled post due at once (the original time is kept in metadata)."""
    post = await repository.get_owned(
        session, workspace_id=access.workspace_id, post_id=post_id, for_update=True
    )
    _require_scheduled(post, "published now")
    now = await repository.database_now(session)
    meta = dict(post.meta or {})
    meta.setdefault("originalScheduledFor", post_time(post).astimezone(UTC).isoformat())
    meta["publishNowRequestedAt"] = now.astimezone(UTC).isoformat()
    post.meta = meta
    post.scheduled_for = now
    post.next_attempt_at = None
    await session.flush()
    await history.record(
        session, post.id, history.Kind.PUBLISH_NOW, actor_user_id=access.user_id,
        detail={"originalScheduledFor": meta["originalScheduledFor"]},
    )  # fmt: skip
    await session.refresh(post)
    # Its publish job now (a staged container is used), no staging job any more.
    jobs = staging.jobs_for(post, settings=settings, now=now)
    after_commit(session, partial(queue.set_jobs, post.id, jobs), timeout=ENQUEUE_TIMEOUT_SECONDS)
    log.info("post %s: publish now requested", post.id)
    return post


async def wait_for_outcome(
    factory: async_sessionmaker[AsyncSession],
    *,
    workspace_id: uuid.UUID,
    post_id: uuid.UUID,
    attempts_before: int,
    wait_seconds: float,
    interval: float = 0.2,
) -> ScheduledPost:
    """Poll the committed row until the worker is done with this attempt, or `wait_seconds`.

    Done: published, failed or cancelled, or back to scheduled after an attempt (a retry is
    waiting). Always returns a freshly read row, never the copy from before publishing.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        async with factory() as fresh:  # the row as committed now, in a short session
            post = await repository.get_owned(fresh, workspace_id=workspace_id, post_id=post_id)
        if post.status in (PostStatus.PUBLISHED, PostStatus.FAILED, PostStatus.CANCELLED):
            return post
        if post.status == PostStatus.SCHEDULED and (post.publish_attempts or 0) > attempts_before:
            return post
        if time.monotonic() >= deadline:
            return post
        await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))


# --- statuses -------------------------------------------------------------------------------
_STATUS_HINTS = {
    PostStatus.SCHEDULED: "it is scheduled",
    PostStatus.PUBLISHING: "it is being published right now",
    PostStatus.PUBLISHED: "it is already published",
    PostStatus.FAILED: "its publishing failed",
    PostStatus.CANCELLED: "it was cancelled",
}


def require_status(
    post: ScheduledPost,
    wanted: str | tuple[str, ...],
    verb: str,
    hints: Mapping[str, str] | None = None,
) -> None:
    """409 naming the post's status (and what to do instead) unless it is `wanted` (one of)."""
    allowed = (wanted,) if isinstance(wanted, str) else wanted
    if post.status in allowed:
        return
    hint = {**_STATUS_HINTS, **(hints or {})}.get(post.status, f"its status is {post.status}")
    names = ", ".join(allowed[:-1]) + (" or " if len(allowed) > 1 else "") + allowed[-1]
    raise Conflict(
        f"Only {names} posts can be {verb}; this post is {post.status} ({hint})",
        detail={"status": post.status, "postId": str(post.id)},
    )


# The statuses an edit accepts, and those an edit's new time is not checked against the quota.
EDITABLE_STATUSES = (
    PostStatus.SCHEDULED,
    PostStatus.DRAFT,
    PostStatus.NEEDS_APPROVAL,
    PostStatus.CHANGES_REQUESTED,
    PostStatus.APPROVAL_EXPIRED,
)
# A draft or a post in the approval workflow is cancelled (discarded) like a scheduled one.
CANCELLABLE_STATUSES = EDITABLE_STATUSES
UNQUEUED_DRAFTS = (PostStatus.DRAFT, PostStatus.CHANGES_REQUESTED, PostStatus.APPROVAL_EXPIRED)


def _require_scheduled(post: ScheduledPost, verb: str) -> None:
    require_status(post, PostStatus.SCHEDULED, verb)


def _stories_out(post: ScheduledPost) -> bool:
    """A story sequence retried after some of its stories were published (publishing/
    sequence.py): changing its media would publish them again."""
    items = (post.meta or {}).get("storySequence")
    return isinstance(items, list) and any(
        isinstance(i, dict) and i.get("status") == "published" for i in items
    )
