"""From a post row to the Graph API container specs (media URLs signed at publish time)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from instasched.integrations.instagram.media import ContainerSpec
from instasched.integrations.storage import Storage
from instasched.kit.text import with_article
from instasched.media.repository import fetch_assets
from instasched.models import MediaAsset, ScheduledPost

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v")


class PostProblem(Exception):
    """Something about the post itself prevents publishing (permanent, shown to the user)."""


@dataclass(frozen=True)
class Source:
    url: str
    kind: str  # "image" | "video"


@dataclass(frozen=True)
class Plan:
    """Children (carousel only) and the container to publish."""

    children: list[ContainerSpec]
    parent: ContainerSpec


def key_from_url(storage: Storage, url: str) -> str | None:
    """The object key when `url` points into our bucket (s3_url or a presigned URL of it)."""
    parts = urlsplit(url)
    path = parts.path
    for base in {storage.endpoint, storage.public_endpoint}:
        if not base:
            continue
        base_parts = urlsplit(base)
        if base_parts.netloc != parts.netloc:
            continue
        prefix = (base_parts.path.rstrip("/") + f"/{storage.bucket}/").lstrip("/")
        trimmed = path.lstrip("/")
        if trimmed.startswith(prefix):
            return trimmed[len(prefix) :]
    return None


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


async def load_assets(conn: Any, post: ScheduledPost) -> dict[uuid.UUID, MediaAsset]:
    """The post's media assets (and cover asset), owned by the post's user, by id, on an
    asyncpg connection."""
    wanted = [i for i in (_as_uuid(v) for v in post.media_ids or []) if i is not None]
    cover = _as_uuid(post.cover_url) if post.cover_url else None
    if cover is not None:
        wanted.append(cover)
    return await fetch_assets(conn, workspace_id=post.workspace_id, ids=wanted)


async def resolve_sources(
    storage: Storage,
    post: ScheduledPost,
    assets: dict[uuid.UUID, MediaAsset],
    *,
    ttl_seconds: int,
) -> list[Source]:
    """Each media of the post as a URL Instagram can fetch (signed now, valid `ttl_seconds`)."""
    ids = [_as_uuid(v) for v in post.media_ids or []]
    sources: list[Source] = []
    if ids and all(ids):
        for asset_id in [i for i in ids if i is not None]:
            asset = assets.get(asset_id)
            if asset is None:
                raise PostProblem(
                    f"Media file {asset_id} of this post no longer exists; edit the post and "
                    "choose its media again."
                )
            url = await storage.presign_get(asset.publish_key or asset.s3_key, ttl_seconds)
            sources.append(
                Source(url=url, kind="video" if asset.media_type == "video" else "image")
            )
        return sources
    for raw in post.media_urls or []:
        url = str(raw)
        key = key_from_url(storage, url)
        signed = await storage.presign_get(key, ttl_seconds) if key else url
        path = urlsplit(url).path.lower()
        sources.append(
            Source(url=signed, kind="video" if path.endswith(VIDEO_EXTENSIONS) else "image")
        )
    if not sources:
        raise PostProblem("This post has no media; edit it and add an image or a video.")
    return sources


async def resolve_cover(
    storage: Storage,
    post: ScheduledPost,
    assets: dict[uuid.UUID, MediaAsset],
    *,
    ttl_seconds: int,
) -> str | None:
    if not post.cover_url:
        return None
    asset_id = _as_uuid(post.cover_url)
    if asset_id is not None:
        asset = assets.get(asset_id)
        if asset is None:
            raise PostProblem("The reel cover image no longer exists; edit the post.")
        return await storage.presign_get(asset.publish_key or asset.s3_key, ttl_seconds)
    key = key_from_url(storage, post.cover_url)
    return await storage.presign_get(key, ttl_seconds) if key else post.cover_url


def user_tags_param(tags: list[Any] | None) -> list[dict[str, Any]]:
    """Stored user tags as Meta's `user_tags` (x, y only when both are set)."""
    out: list[dict[str, Any]] = []
    for tag in tags or []:
        if isinstance(tag, dict) and tag.get("username"):
            item: dict[str, Any] = {"username": str(tag["username"])}
            if tag.get("x") is not None and tag.get("y") is not None:
                item["x"], item["y"] = float(tag["x"]), float(tag["y"])
            out.append(item)
    return out


def _product_tags(tags: list[Any] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tag in tags or []:
        if not isinstance(tag, dict):
            continue
        product_id = tag.get("product_id") or tag.get("productId")
        if product_id:
            item: dict[str, Any] = {"product_id": str(product_id)}
            if tag.get("x") is not None and tag.get("y") is not None:
                item["x"], item["y"] = float(tag["x"]), float(tag["y"])
            out.append(item)
    return out


def build_plan(post: ScheduledPost, sources: list[Source], cover_url: str | None) -> Plan:
    """Meta's parameters per media type; optional ones only when the post has them."""
    kind = (post.media_type or "IMAGE").upper()
    caption = post.caption or None
    user_tags = user_tags_param(post.user_tags)
    product_tags = _product_tags(post.product_tags)
    collaborators = [str(c) for c in post.collaborators or []]
    first = sources[0]
    # The AI label goes on the published container only, never on carousel items.
    ai_label = bool(post.is_ai_generated)
    if kind == "CAROUSEL":
        if not 2 <= len(sources) <= 10:
            raise PostProblem(
                f"A carousel needs 2 to 10 media items; this post has {len(sources)}."
            )
        children = []
        for index, source in enumerate(sources):
            child = ContainerSpec(is_carousel_item=True)
            if source.kind == "video":
                child = replace(child, media_type="VIDEO", video_url=source.url)
            else:
                child = replace(
                    child,
                    image_url=source.url,
                    alt_text=post.alt_text if index == 0 else None,
                    user_tags=user_tags if index == 0 else [],
                    product_tags=product_tags if index == 0 else [],
                )
            children.append(child)
        parent = ContainerSpec(
            media_type="CAROUSEL",
            caption=caption,
            location_id=post.location_id,
            collaborators=collaborators,
            is_ai_generated=ai_label,
        )
        return Plan(children=children, parent=parent)
    if len(sources) != 1:
        raise PostProblem(
            f"{with_article(kind, start=True)} post takes exactly one media item; this post has "
            f"{len(sources)}."
        )
    if kind == "STORIES":
        spec = ContainerSpec(media_type="STORIES", user_tags=user_tags, is_ai_generated=ai_label)
        if first.kind == "video":
            spec = replace(spec, video_url=first.url)
        else:
            spec = replace(spec, image_url=first.url)
        return Plan(children=[], parent=spec)
    if kind in ("REELS", "VIDEO") or first.kind == "video":
        if first.kind != "video":
            raise PostProblem(
                f"{with_article(kind, start=True)} post needs a video; its media is an image."
            )
        # Every single video is a Reel since 2023 (VIDEO is only a carousel child type).
        trial = post.trial_graduation_strategy
        return Plan(
            children=[],
            parent=ContainerSpec(
                media_type="REELS",
                video_url=first.url,
                caption=caption,
                share_to_feed=post.share_to_feed,
                trial_params={"graduation_strategy": trial} if trial else None,
                is_ai_generated=ai_label,
                cover_url=cover_url,
                thumb_offset=post.thumb_offset_ms if not cover_url else None,
                user_tags=user_tags,
                location_id=post.location_id,
                collaborators=collaborators,
            ),
        )
    return Plan(
        children=[],
        parent=ContainerSpec(
            image_url=first.url,
            caption=caption,
            alt_text=post.alt_text,
            location_id=post.location_id,
            user_tags=user_tags,
            product_tags=product_tags,
            collaborators=collaborators,
            is_ai_generated=ai_label,
        ),
    )
