"""The checks of a post's content, whatever made it (a create, an edit, a retry): its media
against the post type, tags, collaborators, location, caption and the per-type extras
(`posts.rules`, pure), the features of the account's login kind, and the reel's cover.

`Draft` is the content to check; `check_draft` returns it `Checked` (the values normalised),
which `apply` writes onto the post.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.config import Settings
from instasched.models import ScheduledPost
from instasched.posts import media_refs, repository, rules


@dataclass
class Draft:
    media_type: str
    caption: str
    media: list[media_refs.MediaRef]
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
class Checked:
    draft: Draft
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


async def check_draft(
    session: AsyncSession,
    *,
    settings: Settings,
    workspace_id: uuid.UUID,
    draft: Draft,
    login_kind: str,
) -> Checked:
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
        await media_refs.resolve_cover(
            session, settings=settings, workspace_id=workspace_id, url=draft.cover_url
        )
        if draft.cover_url
        else None
    )
    return Checked(
        draft=draft,
        product_tags=product_tags,
        user_tags=user_tags,
        collaborators=collaborators,
        location_id=location_id,
        cover_url=cover_url,
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
    media = await media_refs.existing_media(
        session, settings=settings, workspace_id=workspace_id, post=post
    )
    draft = Draft(
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
    await check_draft(
        session, settings=settings, workspace_id=workspace_id, draft=draft, login_kind=login_kind
    )
