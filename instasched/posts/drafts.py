"""The checks of a post's content, whatever made it (a create, an edit, a retry): its media
against the post type, tags, collaborators, location, caption and the per-type extras
(`posts.rules`, pure), the features of the account's login kind, and the reel's cover.

`Draft` is the content to check (its type, media and `rules.Extras`); `check_draft` returns
it `Checked` (the values normalised), which `apply` writes onto the post.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.config import Settings
from instasched.models import ScheduledPost
from instasched.posts import media_refs, repository, rules


@dataclass
class Draft:
    """A post's content to check: its type, its media and the rest (`rules.Extras`)."""

    media_type: str
    media: list[media_refs.MediaRef]
    extras: rules.Extras


class Checked(Draft):
    """A draft that passed `check_draft`, its values normalised (tags, collaborators, location
    id, the cover as stored)."""

    def apply(self, post: ScheduledPost | repository.NewPost) -> None:
        e = self.extras
        post.media_type = self.media_type
        post.caption = e.caption
        post.media_ids = [str(a.id) for a, _ in self.media]
        post.media_urls = [a.s3_url for a, _ in self.media]
        post.product_tags = e.product_tags
        post.user_tags = e.user_tags
        post.collaborators = e.collaborators
        post.first_comment = e.first_comment
        post.alt_text = e.alt_text
        post.cover_url = e.cover_url
        post.thumb_offset_ms = e.thumb_offset_ms
        post.share_to_feed = e.share_to_feed
        post.location_id = e.location_id
        post.trial_graduation_strategy = e.trial_strategy
        post.is_ai_generated = e.is_ai_generated


async def check_draft(
    session: AsyncSession,
    *,
    settings: Settings,
    workspace_id: uuid.UUID,
    draft: Draft,
    login_kind: str,
) -> Checked:
    media_type, sent = draft.media_type, draft.extras
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
    extras = replace(
        sent,
        product_tags=rules.check_product_tags(sent.product_tags),
        user_tags=rules.check_user_tags(sent.user_tags, need_position=media_type == rules.IMAGE),
        collaborators=rules.check_collaborators(sent.collaborators, media_type=media_type),
        location_id=rules.check_location_id(sent.location_id) if sent.location_id else None,
    )
    rules.check_extras(media_type, extras, max_hashtags=settings.max_hashtags)
    # Features Meta offers only with Facebook Login (docs/login-kinds.md).
    rules.check_login_kind(
        login_kind,
        {"collaborators": bool(extras.collaborators), "productTags": bool(extras.product_tags)},
    )
    if extras.thumb_offset_ms is not None:
        rules.check_thumb_offset(extras.thumb_offset_ms, items[0])
    cover_url = (
        await media_refs.resolve_cover(
            session, settings=settings, workspace_id=workspace_id, url=extras.cover_url
        )
        if extras.cover_url
        else None
    )
    return Checked(media_type, draft.media, replace(extras, cover_url=cover_url))


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
    media = await media_refs.existing_media(session, workspace_id=workspace_id, post=post)
    draft = Draft(
        media_type=post.media_type,
        media=media,
        extras=rules.Extras(
            caption=post.caption,
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
        ),
    )
    await check_draft(
        session, settings=settings, workspace_id=workspace_id, draft=draft, login_kind=login_kind
    )
