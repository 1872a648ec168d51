"""Which media a post names: `mediaIds` and `mediaUrls` resolved to the workspace's own
assets (order kept, each with the JSON path the client used for it), a stored post's media read
again, and a reel's cover URL.

An item that is not one of the workspace's uploads is a 422 naming it; a URL into our own
bucket that is not one of them is refused (the publisher signs URLs of our bucket).
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Mapping, Sequence, Set
from urllib.parse import unquote, urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.config import Settings
from instasched.exceptions import Invalid
from instasched.integrations.instagram import publish_rules as meta
from instasched.models import MediaAsset, ScheduledPost
from instasched.posts import repository

MediaRef = tuple[MediaAsset, str]  # the asset and the JSON path the client used for it


async def resolve_media(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    media_ids: Sequence[str] | None,
    media_urls: Sequence[str] | None,
    known: Mapping[uuid.UUID, MediaAsset] | None = None,
) -> list[MediaRef]:
    """Every item must be one of the user's media assets (else 422); order is kept.

    `known`: the user's assets among `media_ids`, already read (`ids_to_prefetch`: every
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
        await _media_by_urls(session, workspace_id=workspace_id, values=media_urls)
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


def ids_to_prefetch(values: Sequence[str] | None) -> list[uuid.UUID]:
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
    return _refs("mediaIds", [found.get(asset_id) for asset_id in parsed])


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
    session: AsyncSession, *, workspace_id: uuid.UUID, values: Sequence[str]
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
    assets = [asset_at(found, locations) for locations in candidates]
    return _refs("mediaUrls", assets, hint=" and use its s3Url")


def _refs(name: str, assets: Sequence[MediaAsset | None], *, hint: str = "") -> list[MediaRef]:
    """Each asset with its JSON path (`name[i]`); 422 naming the first item that is not one of
    the workspace's assets."""
    refs: list[MediaRef] = []
    for i, asset in enumerate(assets):
        if asset is None:
            raise Invalid(
                f"{name}[{i}] is not one of your uploaded media assets; upload the file first "
                f"(POST /api/instagram/scheduling/media/upload){hint}",
                field=f"{name}[{i}]",
            )
        refs.append((asset, f"{name}[{i}]"))
    return refs


def asset_at(
    found: Mapping[tuple[str, str], MediaAsset], locations: Sequence[tuple[str, str]]
) -> MediaAsset | None:
    """The asset at the first of a URL's candidate locations (`url_locations`) that holds one."""
    return next((found[loc] for loc in locations if loc in found), None)


async def existing_media(
    session: AsyncSession, *, workspace_id: uuid.UUID, post: ScheduledPost
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
    return await resolve_media(session, workspace_id=workspace_id, media_ids=None, media_urls=urls)


async def resolve_cover(
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
    asset = asset_at(found, locations)
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


def deleted_meanwhile(media: Sequence[MediaRef], missing: Set[uuid.UUID]) -> Invalid:
    label = next(label for asset, label in media if asset.id in missing)
    return Invalid(
        f"{label} was deleted from your media library while this post was being saved",
        field=label,
    )
