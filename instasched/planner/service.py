"""Read-only answers for the web app: the publishing quota left around a time (composer) and
the account's published media as its profile grid shows them (grid planner)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.accounts import repository as accounts
from instasched.config import Settings
from instasched.exceptions import Invalid
from instasched.integrations.instagram.client import GraphClient
from instasched.integrations.instagram.errors import GraphAuthError, GraphError
from instasched.integrations.instagram.profile import profile_media
from instasched.kit.time import utcnow
from instasched.models import ScheduledPost
from instasched.planner import repository
from instasched.planner.schemas import PostChanges, ProfileMediaItem, ProfileMediaList, QuotaLeft
from instasched.posts import quota
from instasched.posts.schemas import Post
from instasched.security import TokenCipher

# Posts are scheduled at most about 6 months ahead; past windows hold published posts.
QUOTA_RANGE = timedelta(days=400)
# Changes further back than this are not listed (a client that old reads its range again).
CHANGES_RANGE = timedelta(days=1)


async def quota_left(
    session: AsyncSession,
    *,
    settings: Settings,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    at: datetime,
    exclude_post_id: uuid.UUID | None = None,
) -> QuotaLeft:
    """The fullest 24 h window holding `at` (a time without offset is the account's wall
    time), how many posts it holds and how many more fit. `exclude_post_id`: a post being
    edited is not counted against itself."""
    account = await accounts.get_owned(session, workspace_id=workspace_id, account_id=account_id)
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(account.timezone))
    if abs(at - utcnow()) > QUOTA_RANGE:
        raise Invalid(
            f"at must be within {QUOTA_RANGE.days} days of now (got {at.isoformat()})", field="at"
        )
    limit = quota.quota_of(account, settings)
    found = await quota.windows(
        session, account_id=account.id, quota=limit, times=[at], exclude_post_id=exclude_post_id
    )
    window = next(iter(found.values()))
    # `windows` counts a new post at `at`; the answer is about the posts already there.
    count = window.posts - 1
    return QuotaLeft(
        at=at.astimezone(UTC),
        window_start=window.start,
        window_end=window.end,
        count=count,
        quota=limit,
        remaining=limit - count,
    )


def _ours(post: ScheduledPost) -> ProfileMediaItem:
    return ProfileMediaItem(
        id=post.instagram_media_id or str(post.id),
        media_type="CAROUSEL_ALBUM" if post.media_type == "CAROUSEL" else post.media_type,
        product_type={"REELS": "REELS", "STORIES": "STORY"}.get(post.media_type, "FEED"),
        media_url=post.instagram_media_url,
        thumbnail_url=None,
        permalink=post.permalink,
        timestamp=post.published_at,
        caption=post.caption,
        post_id=str(post.id),
        media_ids=[str(i) for i in post.media_ids or []],
    )


async def published_media(
    session: AsyncSession,
    *,
    graph: GraphClient,
    cipher: TokenCipher,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    limit: int,
) -> ProfileMediaList:
    """The account's media from Instagram (newest first), each matched to our post that
    published it; when Instagram does not answer, our own published posts with a notice."""
    account = await accounts.get_owned(session, workspace_id=workspace_id, account_id=account_id)
    ours = await repository.published_posts(session, account_id=account.id, limit=limit)
    by_media_id = {p.instagram_media_id: p for p in ours if p.instagram_media_id}
    try:
        token = cipher.decrypt(account.access_token_encrypted)
        remote = await profile_media(
            graph, ig_user_id=account.ig_user_id, access_token=token, limit=limit
        )
    except (GraphAuthError, ValueError):
        notice = "Instagram refused the account's token: reconnect the account to see its grid."
    except GraphError as exc:
        notice = f"Instagram's media list is unavailable ({exc.message})."
    else:
        items = []
        for m in remote:
            if m.product_type == "STORY":
                continue  # stories are not on the profile grid
            post = by_media_id.get(m.id)
            items.append(
                ProfileMediaItem(
                    id=m.id,
                    media_type=m.media_type,
                    product_type=m.product_type,
                    media_url=m.media_url,
                    thumbnail_url=m.thumbnail_url,
                    permalink=m.permalink,
                    timestamp=m.timestamp,
                    caption=m.caption,
                    post_id=str(post.id) if post else None,
                    media_ids=[str(i) for i in post.media_ids or []] if post else [],
                )
            )
        return ProfileMediaList(items=items, notice=None)
    shown = [_ours(p) for p in ours if p.media_type != "STORIES"]
    return ProfileMediaList(items=shown, notice=f"{notice} Showing the posts published here.")


async def post_changes(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    since: datetime,
    limit: int,
) -> PostChanges:
    """The account's posts changed after `since` (status, time, content, a new post): the web
    app's calendar polls this instead of reading its whole range again."""
    account = await accounts.get_owned(session, workspace_id=workspace_id, account_id=account_id)
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    now = utcnow()
    since = min(max(since, now - CHANGES_RANGE), now)  # also keeps odd years out of SQL
    rows = await repository.changed_posts(
        session, account_id=account.id, since=since, limit=limit + 1
    )
    return PostChanges(now=now, posts=[Post.of(p) for p in rows[:limit]], more=len(rows) > limit)
