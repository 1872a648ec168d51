"""Scheduled posts: create, list, read, edit, cancel, publish now.

Rules live in `instasched.posts.rules` (pure); this module loads what they need, writes the row
and registers the queue change to run after the commit. Services never commit.

Concurrency with the worker: the worker claims a post with a conditional
`UPDATE ... SET status='publishing' WHERE id=:id AND status='scheduled' AND <due>`. Edits, cancels
and publish-now lock the row (`SELECT ... FOR UPDATE`) and check the status under that lock, so
either the worker claimed first (and we answer 409 with the state) or our change commits first
(and the worker's claim re-reads our row: a cancelled or moved post is not claimed).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import ipaddress
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote, urlsplit

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instasched.accounts import repository as accounts_repository
from instasched.config import Settings
from instasched.db import after_commit
from instasched.exceptions import Conflict, Invalid, NotFound, Unauthorized
from instasched.integrations.instagram import publish_rules as meta
from instasched.kit.time import parse_datetime, utcnow, zone
from instasched.models import (
    InstagramAccount,
    MediaAsset,
    PostStatus,
    PostTemplate,
    ScheduledPost,
    post_time,
)
from instasched.posts import approvals, history, quota, repository, rules
from instasched.posts.schemas import PostCreate, PostUpdate, TemplateValue
from instasched.publishing import staging
from instasched.security import SESSION_ENDED, USER_GONE
from instasched.templates.render import append_suggestions, render
from instasched.worker.queue import PublishQueue

if TYPE_CHECKING:
    from instasched.workspaces.access import Access

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 255

SlotFinder = Callable[..., Awaitable[datetime | None]]

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
    key = check_idempotency_key(idempotency_key)
    fingerprint = _fingerprint(body) if key is not None else None
    if key is not None:
        existing = await repository.find_by_idempotency_key(
            session,
            workspace_id=workspace_id,
            user_id=user_id,
            key=key,
            token_version=token_version,
        )
        if existing is not None:
            return _replay(existing, fingerprint), False, None
    # The user (the endpoint verified the token only), the account and the assets at once.
    context = await repository.read_create_context(
        session,
        user_id=user_id,
        workspace_id=workspace_id,
        account_id=body.instagram_account_id,
        asset_ids=_ids_to_prefetch(body.media_ids),
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
            raise _deleted_meanwhile(media, inserted.missing_assets)
        quota.refuse_or_warn(window, allow_over=False, field=_time_field(body.use_next_slot))
        # two requests raced with one Idempotency-Key: the first one's post
        winner = await repository.find_by_idempotency_key(
            session,
            workspace_id=workspace_id,
            user_id=user_id,
            key=key or "",
            token_version=token_version,
        )
        if winner is None:  # pragma: no cover - the conflict said it exists
            raise Conflict("A post with this Idempotency-Key is being created; retry")
        return _replay(winner, fingerprint), False, None
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
    media: list[MediaRef]
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
        scheduled_for = await resolve_time(
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
        caption = await _render_template(
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

    media = await resolve_media(
        session, settings=settings, workspace_id=workspace_id, media_ids=body.media_ids,
        media_urls=body.media_urls, known=known_assets,
    )  # fmt: skip
    draft = _Draft(
        media_type=media_type,
        caption=caption,
        media=media,
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
    )
    checked = await _check_draft(
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
    return Prepared(post, media, quota.quota_of(account, settings), _time_field(body.use_next_slot))


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
        new_time = await resolve_time(
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
        caption = await _render_template(
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
        media = await resolve_media(
            session, settings=settings, workspace_id=workspace_id, media_ids=body.media_ids,
            media_urls=body.media_urls,
        )  # fmt: skip
    else:
        media = await _existing_media(
            session, settings=settings, workspace_id=workspace_id, post=post
        )

    def pick(name: str, current: Any) -> Any:
        return getattr(body, name) if name in sent else current

    draft = _Draft(
        media_type=media_type,
        caption=caption,
        media=media,
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
    )
    checked = await _check_draft(
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
            raise _deleted_meanwhile(media, missing)
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
            field=_time_field(bool(body.use_next_slot)),
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
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    post_id: uuid.UUID,
) -> ScheduledPost:
    post = await repository.get_owned(
        session, workspace_id=workspace_id, post_id=post_id, for_update=True
    )
    require_status(post, CANCELLABLE_STATUSES, "cancelled")
    post.status = PostStatus.CANCELLED
    post.cancelled_at = await repository.database_now(session)
    post.next_attempt_at = None
    for name, value in staging.discarded().items():  # staged containers are left to expire
        setattr(post, name, value)
    await session.flush()
    await history.record(session, post.id, history.Kind.CANCELLED, actor_user_id=user_id)
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
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    post_id: uuid.UUID,
) -> ScheduledPost:
    """Make a scheduled post due at once (the original time is kept in metadata)."""
    post = await repository.get_owned(
        session, workspace_id=workspace_id, post_id=post_id, for_update=True
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
        session, post.id, history.Kind.PUBLISH_NOW, actor_user_id=user_id,
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


def _deleted_meanwhile(media: Sequence[MediaRef], missing: Set[uuid.UUID]) -> Invalid:
    label = next(label for asset, label in media if asset.id in missing)
    return Invalid(
        f"{label} was deleted from your media library while this post was being saved",
        field=label,
    )


# --- shared steps ---------------------------------------------------------------------------
def _fingerprint(body: PostCreate) -> str:
    """SHA-256 of the request as parsed (the same post sent again, whatever its JSON's spacing or
    key order, has the same fingerprint)."""
    # `draft: false` (the default) is left out: the fingerprints stored before drafts existed
    # still match a replay of the same request.
    dumped = body.model_dump(mode="json", exclude=None if body.draft else {"draft"})
    canonical = orjson.dumps(dumped, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def _replay(existing: repository.PostRow, fingerprint: str | None) -> repository.PostRow:
    """The first post of an Idempotency-Key, when the request is the same one again: a reuse
    of the key with another body is a client bug that must not look like a success (payment
    APIs answer 422 the same way). Posts from before migration 0010 have no fingerprint."""
    stored = existing.idempotency_fingerprint
    if stored is not None and stored != fingerprint:
        raise Invalid(
            f"This {IDEMPOTENCY_HEADER} was already used for a different post: send the same "
            "request to get that post again, or use a new key for a new post",
            field=IDEMPOTENCY_HEADER,
        )
    return existing


def check_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > IDEMPOTENCY_KEY_MAX or not value.isprintable():
        raise Invalid(
            f"{IDEMPOTENCY_HEADER} must be 1 to {IDEMPOTENCY_KEY_MAX} printable characters "
            "(a UUID is a good choice)",
            field=IDEMPOTENCY_HEADER,
        )
    return value


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


async def resolve_time(
    session: AsyncSession,
    *,
    settings: Settings,
    account: InstagramAccount,
    scheduled_for: str | None,
    use_next_slot: bool,
    now: datetime,
    exclude_post_id: uuid.UUID | None = None,
) -> datetime:
    """`scheduledFor` (read in the account's timezone without an offset) or the next free slot,
    checked against SCHEDULE_MIN_LEAD_SECONDS / SCHEDULE_MAX_LEAD_MONTHS."""
    tz = zone(account.timezone)
    if use_next_slot and scheduled_for is not None:
        raise Invalid("Send scheduledFor or useNextSlot: true, not both", field="useNextSlot")
    if use_next_slot:
        finder = _slot_finder()
        if finder is None:
            raise Invalid(
                "Posting schedules are not available on this server; send scheduledFor",
                field="useNextSlot",
            )
        # Two concurrent "next slot" requests must not pick the same minute (nor the last room
        # in a 24 h window): hold the account's quota lock until this transaction ends.
        await quota.lock(session, account_id=account.id)
        extra: dict[str, Any] = {"quota": quota.quota_of(account, settings)}
        if exclude_post_id is not None:  # a post being moved does not block its own minute
            extra["exclude_post_id"] = exclude_post_id
        slot = await finder(
            session,
            account=account,
            now=now,
            min_lead_seconds=settings.schedule_min_lead_seconds,
            **extra,
        )
        if slot is None:
            raise Invalid(
                "There is no free slot in the posting schedule of this account; add time "
                "slots to its posting schedule or send scheduledFor",
                field="useNextSlot",
            )
        when = slot.astimezone(UTC)
    elif scheduled_for is None:
        raise Invalid(
            "scheduledFor is required (an ISO 8601 date-time), or send useNextSlot: true",
            field="scheduledFor",
        )
    else:
        when = parse_datetime(scheduled_for, tz, field="scheduledFor")
    rules.check_time_window(
        when,
        now=now,
        min_lead_seconds=settings.schedule_min_lead_seconds,
        max_lead_months=settings.schedule_max_lead_months,
        tz=tz,
        field=_time_field(use_next_slot),
    )
    return when


def _time_field(use_next_slot: bool) -> str:
    return "useNextSlot" if use_next_slot else "scheduledFor"


def _slot_finder() -> SlotFinder | None:
    """`instasched.schedules.service.next_free_slot`, looked up when used (another domain)."""
    try:
        module = importlib.import_module("instasched.schedules.service")
    except ImportError:
        return None
    finder = getattr(module, "next_free_slot", None)
    return cast(SlotFinder, finder) if callable(finder) else None


async def _render_template(
    session: AsyncSession,
    *,
    settings: Settings,
    workspace_id: uuid.UUID,
    account: InstagramAccount,
    template_id: uuid.UUID,
    variables: dict[str, TemplateValue],
    caption_sent: str | None,
    media_type: str,
    templates: dict[uuid.UUID, PostTemplate | None] | None = None,
) -> str:
    if caption_sent:
        raise Invalid(
            "Send either a caption or a templateId (the caption is rendered from the "
            "template), not both",
            field="caption",
        )
    if media_type == rules.STORIES:
        raise Invalid("STORIES carry no caption, so they cannot use a template", field="templateId")
    if templates is not None and template_id in templates:
        template = templates[template_id]
    else:
        template = await repository.get_template_owned(
            session, workspace_id=workspace_id, template_id=template_id
        )
        if templates is not None:
            templates[template_id] = template
    if template is None:
        raise NotFound("Template not found", detail=[{"field": "templateId"}])
    if not template.is_active:
        raise Invalid(
            f"Template {template.name!r} is inactive; activate it or choose another",
            field="templateId",
        )
    if template.instagram_account_id is not None and template.instagram_account_id != account.id:
        raise Invalid(
            f"Template {template.name!r} belongs to another Instagram account",
            field="templateId",
        )
    rendered = render(template.caption_template, variables)
    if rendered.missing:
        raise Invalid(
            "templateVariables is missing values for: " + ", ".join(rendered.missing),
            field="templateVariables",
            detail=[
                {"field": "templateVariables", "message": "missing: " + ", ".join(rendered.missing)}
            ]
            + [
                {"field": f"templateVariables.{name}", "message": "is required by the template"}
                for name in rendered.missing
            ],
        )
    caption = append_suggestions(
        rendered.caption,
        [str(t) for t in template.suggested_hashtags or []],
        [str(m) for m in template.suggested_mentions or []],
    )
    try:
        rules.check_caption(caption, max_hashtags=settings.max_hashtags)
    except Invalid as exc:
        raise Invalid(
            f"The caption rendered from template {template.name!r} is not valid: {exc.message}",
            field="caption",
        ) from exc
    return caption


MediaRef = tuple[MediaAsset, str]  # the asset and the JSON path the client used for it


async def resolve_media(
    session: AsyncSession,
    *,
    settings: Settings,
    workspace_id: uuid.UUID,
    media_ids: Sequence[str] | None,
    media_urls: Sequence[str] | None,
    known: Mapping[uuid.UUID, MediaAsset] | None = None,
) -> list[MediaRef]:
    """Every item must be one of the user's media assets (else 422); order is kept.

    `known`: the user's assets among `media_ids`, already read (`_ids_to_prefetch`: every
    valid id when there are not too many, which is checked here first)."""
    for name, values in (("mediaIds", media_ids), ("mediaUrls", media_urls)):
        if values is not None and len(values) > meta.CAROUSEL_MAX:
            raise Invalid(
                f"{name} has {len(values)} items; a post takes at most {meta.CAROUSEL_MAX}",
                field=name,
            )
    by_ids = (
        await _media_by_ids(session, workspace_id=workspace_id, values=media_ids, known=known)
        if media_ids
        else None
    )
    by_urls = (
        await _media_by_urls(
            session, settings=settings, workspace_id=workspace_id, values=media_urls
        )
        if media_urls
        else None
    )
    if by_ids is not None and by_urls is not None:
        if [a.id for a, _ in by_ids] != [a.id for a, _ in by_urls]:
            raise Invalid(
                "mediaIds and mediaUrls name different media; send only one of them",
                field="mediaUrls",
            )
        return by_ids
    return by_ids or by_urls or []


def _ids_to_prefetch(values: Sequence[str] | None) -> list[uuid.UUID]:
    """The valid ids among `mediaIds`, when there are not too many (the rest of the checks,
    with their messages, are `resolve_media`'s)."""
    if not values or len(values) > meta.CAROUSEL_MAX:
        return []
    ids = []
    for value in values:
        try:
            ids.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return ids


async def _media_by_ids(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    values: Sequence[str],
    known: Mapping[uuid.UUID, MediaAsset] | None = None,
) -> list[MediaRef]:
    parsed: list[uuid.UUID] = []
    for i, value in enumerate(values):
        try:
            parsed.append(uuid.UUID(str(value)))
        except ValueError:
            raise Invalid(
                f"mediaIds[{i}] {value!r} is not a media asset id", field=f"mediaIds[{i}]"
            ) from None
    found = (
        known
        if known is not None
        else await repository.assets_by_ids(session, workspace_id=workspace_id, ids=parsed)
    )
    result: list[MediaRef] = []
    for i, asset_id in enumerate(parsed):
        asset = found.get(asset_id)
        if asset is None:
            raise Invalid(
                f"mediaIds[{i}] is not one of your uploaded media assets; upload the file "
                "first (POST /api/instagram/scheduling/media/upload)",
                field=f"mediaIds[{i}]",
            )
        result.append((asset, f"mediaIds[{i}]"))
    return result


def url_locations(url: str) -> list[tuple[str, str]]:
    """Candidate (bucket, key) pairs of an S3 object URL, path-style first, then virtual-host.

    The query (a presigned URL's signature) is ignored; the key is percent-decoded.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return []
    path = parts.path.lstrip("/")
    found: list[tuple[str, str]] = []
    if "/" in path:
        bucket, key = path.split("/", 1)
        if bucket and key:
            found.append((unquote(bucket), unquote(key)))
    host = parts.hostname or ""
    if "." in host and path and not _is_ip(host):
        found.append((host.split(".", 1)[0], unquote(path)))
    return found


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _media_by_urls(
    session: AsyncSession, *, settings: Settings, workspace_id: uuid.UUID, values: Sequence[str]
) -> list[MediaRef]:
    candidates: list[list[tuple[str, str]]] = []
    for i, value in enumerate(values):
        locations = url_locations(value) if isinstance(value, str) else []
        if not locations:
            raise Invalid(
                f"mediaUrls[{i}] is not an http(s) URL of an uploaded file", field=f"mediaUrls[{i}]"
            )
        candidates.append(locations)
    found = await repository.assets_by_locations(
        session, workspace_id=workspace_id, locations=[loc for locs in candidates for loc in locs]
    )
    result: list[MediaRef] = []
    for i, locations in enumerate(candidates):
        asset = next((found[loc] for loc in locations if loc in found), None)
        if asset is None:
            raise Invalid(
                f"mediaUrls[{i}] is not one of your uploaded media assets; upload the file "
                "first (POST /api/instagram/scheduling/media/upload) and use its s3Url",
                field=f"mediaUrls[{i}]",
            )
        result.append((asset, f"mediaUrls[{i}]"))
    return result


async def _existing_media(
    session: AsyncSession, *, settings: Settings, workspace_id: uuid.UUID, post: ScheduledPost
) -> list[MediaRef]:
    """The post's current media, re-read (an edit re-validates the whole post)."""
    if post.media_ids:
        ids = [str(i) for i in post.media_ids]
        try:
            return await _media_by_ids(session, workspace_id=workspace_id, values=ids)
        except Invalid as exc:
            raise Invalid(
                "This post's media is no longer in your media library; send new mediaIds",
                field="mediaIds",
            ) from exc
    urls = [str(u) for u in post.media_urls or []]
    return await resolve_media(
        session, settings=settings, workspace_id=workspace_id, media_ids=None, media_urls=urls
    )


def _stories_out(post: ScheduledPost) -> bool:
    """A story sequence retried after some of its stories were published (publishing/
    sequence.py): changing its media would publish them again."""
    items = (post.meta or {}).get("storySequence")
    return isinstance(items, list) and any(
        isinstance(i, dict) and i.get("status") == "published" for i in items
    )


async def check_existing(
    session: AsyncSession,
    *,
    settings: Settings,
    workspace_id: uuid.UUID,
    post: ScheduledPost,
    login_kind: str,
) -> None:
    """A stored post against the rules of today (its media still in the library): a retry's
    check, as an edit re-validates the whole post."""
    media = await _existing_media(session, settings=settings, workspace_id=workspace_id, post=post)
    draft = _Draft(
        media_type=post.media_type,
        caption=post.caption,
        media=media,
        product_tags=list(post.product_tags or []),
        user_tags=list(post.user_tags or []),
        collaborators=[str(c) for c in post.collaborators or []],
        first_comment=post.first_comment,
        alt_text=post.alt_text,
        cover_url=post.cover_url,
        thumb_offset_ms=post.thumb_offset_ms,
        share_to_feed=post.share_to_feed,
        location_id=post.location_id,
        trial_strategy=post.trial_graduation_strategy,
        is_ai_generated=bool(post.is_ai_generated),
    )
    await _check_draft(
        session, settings=settings, workspace_id=workspace_id, draft=draft, login_kind=login_kind
    )


@dataclass
class _Draft:
    media_type: str
    caption: str
    media: list[MediaRef]
    product_tags: list[dict[str, Any]]
    user_tags: list[dict[str, Any]]
    collaborators: list[str]
    first_comment: str | None
    alt_text: str | None
    cover_url: str | None
    thumb_offset_ms: int | None
    share_to_feed: bool | None
    location_id: str | None
    trial_strategy: str | None = None
    is_ai_generated: bool = False


@dataclass
class _Checked:
    draft: _Draft
    product_tags: list[dict[str, Any]]
    user_tags: list[dict[str, Any]]
    collaborators: list[str]
    location_id: str | None
    cover_url: str | None

    def apply(self, post: ScheduledPost | repository.NewPost) -> None:
        d = self.draft
        post.media_type = d.media_type
        post.caption = d.caption
        post.media_ids = [str(a.id) for a, _ in d.media]
        post.media_urls = [a.s3_url for a, _ in d.media]
        post.product_tags = self.product_tags
        post.user_tags = self.user_tags
        post.collaborators = self.collaborators
        post.first_comment = d.first_comment
        post.alt_text = d.alt_text
        post.cover_url = self.cover_url
        post.thumb_offset_ms = d.thumb_offset_ms
        post.share_to_feed = d.share_to_feed
        post.location_id = self.location_id
        post.trial_graduation_strategy = d.trial_strategy
        post.is_ai_generated = d.is_ai_generated


async def _check_draft(
    session: AsyncSession,
    *,
    settings: Settings,
    workspace_id: uuid.UUID,
    draft: _Draft,
    login_kind: str,
) -> _Checked:
    media_type = draft.media_type
    items = [
        rules.MediaItem(
            field=label,
            kind=asset.media_type,
            compatibility=asset.compatibility or {},
            duration_ms=(asset.media_metadata or {}).get("duration_ms"),
        )
        for asset, label in draft.media
    ]
    rules.check_media(media_type, items)
    product_tags = rules.check_product_tags(draft.product_tags)
    user_tags = rules.check_user_tags(draft.user_tags, need_position=media_type == rules.IMAGE)
    collaborators = rules.check_collaborators(draft.collaborators, media_type=media_type)
    location_id = rules.check_location_id(draft.location_id) if draft.location_id else None
    rules.check_extras(
        media_type,
        rules.Extras(
            caption=draft.caption,
            first_comment=draft.first_comment,
            product_tags=product_tags,
            user_tags=user_tags,
            collaborators=collaborators,
            alt_text=draft.alt_text,
            cover_url=draft.cover_url,
            thumb_offset_ms=draft.thumb_offset_ms,
            share_to_feed=draft.share_to_feed,
            location_id=location_id,
            trial_strategy=draft.trial_strategy,
            is_ai_generated=draft.is_ai_generated,
        ),
        max_hashtags=settings.max_hashtags,
    )
    # Features Meta offers only with Facebook Login (docs/login-kinds.md).
    rules.check_login_kind(
        login_kind, {"collaborators": bool(collaborators), "productTags": bool(product_tags)}
    )
    if draft.thumb_offset_ms is not None:
        rules.check_thumb_offset(draft.thumb_offset_ms, items[0])
    cover_url = (
        await _resolve_cover(
            session, settings=settings, workspace_id=workspace_id, url=draft.cover_url
        )
        if draft.cover_url
        else None
    )
    return _Checked(
        draft=draft,
        product_tags=product_tags,
        user_tags=user_tags,
        collaborators=collaborators,
        location_id=location_id,
        cover_url=cover_url,
    )


async def _resolve_cover(
    session: AsyncSession, *, settings: Settings, workspace_id: uuid.UUID, url: str
) -> str:
    """A reel cover: one of the user's image assets (stored as its s3Url) or a public https URL.

    A URL into our own bucket that is not one of the user's assets is refused: the publisher
    signs URLs of our bucket, and must never sign another user's object.
    """
    locations = url_locations(url)
    if not locations:
        raise Invalid("coverUrl must be an http(s) URL", field="coverUrl")
    found = await repository.assets_by_locations(
        session, workspace_id=workspace_id, locations=locations
    )
    asset = next((found[loc] for loc in locations if loc in found), None)
    if asset is not None:
        if asset.media_type != "image":
            raise Invalid("coverUrl must be an image", field="coverUrl")
        return asset.s3_url
    if any(bucket == settings.s3_bucket for bucket, _ in locations):
        raise Invalid(
            "coverUrl is not one of your uploaded images; upload it first", field="coverUrl"
        )
    if urlsplit(url).scheme != "https":
        raise Invalid("coverUrl must be an https URL Instagram can fetch", field="coverUrl")
    return url.strip()
