"""Container creation (`POST /{ig-user-id}/media`) and the media checks Meta makes there.

The sandbox **downloads** `image_url` / `video_url` as Meta does (a bad or expired presigned URL
fails with 9004 / 2207052), checks JPEG and the feed aspect ratio, the video's container,
duration and format, carousel children, captions, tags, collaborators and labels, with the
limits and checks of `instasched.integrations.instagram.publish_rules` (which the API's
validation runs too, so a post the API accepts publishes here), and stores the container
(IN_PROGRESS while a video "processes") within Meta's 400 containers per account per 24 h.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from typing import Any

import aiohttp
import yarl
from fastapi import APIRouter, Request

from instasched.integrations.instagram import login_kinds, video_probe
from instasched.integrations.instagram import publish_rules as meta
from instasched.sandbox.media_state import (
    Container,
    DropConnection,
    MediaState,
    account_call,
)
from instasched.sandbox.state import GRAPH_HOST, GraphFault, SandboxState

INLINE_INSPECT_BYTES = 1024 * 1024

router = APIRouter()


@router.post("/{version:graphver}/{ig_user_id}/media", tags=["Graph API"])
async def create_container(version: str, ig_user_id: str, request: Request) -> dict[str, Any]:
    call = await account_call(request, ig_user_id, "media")
    ms, fault = call.ms, call.fault
    container = await _build_container(call.sb, ms, ig_user_id, call.params)
    if fault is not None and fault.container_error:
        container.error = fault.container_error
    ms.add_container(container)
    if fault is not None and fault.timeout_after_effect:
        raise DropConnection
    return {"id": container.id}


async def _build_container(
    sb: SandboxState, ms: MediaState, owner: str, params: dict[str, str]
) -> Container:
    now = time.time()
    media_type = (params.get("media_type") or "").upper()
    is_item = params.get("is_carousel_item", "").lower() == "true"
    caption = params.get("caption")
    tags = check_tags(params)
    labels = check_labels(params)
    kept: dict[str, Any] = {
        k: v
        for k, v in params.items()
        if k not in ("access_token", "image_url", "video_url", "children")
    }
    kept.update({k: v for k, v in tags.items() if v})
    kept.update(labels)
    ready_at = now
    children: list[str] = []
    if media_type == "CAROUSEL":
        check_caption(caption, ms.max_hashtags)
        children = [c.strip() for c in (params.get("children") or "").split(",") if c.strip()]
        if not meta.CAROUSEL_MIN <= len(children) <= meta.CAROUSEL_MAX:
            raise GraphFault(
                f"(#100) A carousel needs {meta.CAROUSEL_MIN} to {meta.CAROUSEL_MAX} children; "
                f"got {len(children)}",
                code=100,
            )
        for child_id in children:
            child = ms.containers.get(child_id)
            if child is None or child.owner != owner or not child.is_carousel_item:
                raise GraphFault(
                    f"(#100) Child {child_id} is not a carousel item container of this account",
                    code=100,
                )
            state = child.status_code(now)
            if state == "IN_PROGRESS":
                raise GraphFault(
                    "Media ID is not available: a child is still processing",
                    code=9007,
                    subcode=2207027,
                )
            if state != "FINISHED":
                raise GraphFault(f"(#100) Child {child_id} is {state}, not FINISHED", code=100)
    elif media_type in ("REELS", "VIDEO", "STORIES") and (
        params.get("video_url") or media_type != "STORIES"
    ):
        if media_type == "VIDEO" and not is_item:
            raise GraphFault(
                "(#100) The VIDEO media type is only for carousel items; use REELS", code=100
            )
        if media_type == "REELS" and is_item:
            raise GraphFault("(#100) Carousel items use media_type VIDEO", code=100)
        if media_type != "STORIES" and not is_item:
            check_caption(caption, ms.max_hashtags)
        data = await fetch(sb, params.get("video_url"), "video_url")
        duration_ms = await asyncio.to_thread(inspect_video, data, reel=media_type == "REELS")
        kept["duration"] = duration_ms / 1000
        ready_at = now + ms.processing_seconds
        if params.get("cover_url"):
            await fetch(sb, params.get("cover_url"), "cover_url")
        offset = params.get("thumb_offset")
        if offset and not (offset.isdigit() and meta.thumb_offset_ok(int(offset), duration_ms)):
            raise GraphFault("The thumbnail offset is outside the video", code=100, subcode=2207057)
    elif media_type in ("", "IMAGE", "STORIES"):
        if media_type == "IMAGE":
            media_type = ""
        data = await fetch(sb, params.get("image_url"), "image_url")
        feed = media_type != "STORIES"
        if len(data) <= INLINE_INSPECT_BYTES:
            # Reading a small JPEG's header costs less than the hop to a thread.
            width, height = inspect_image(data, feed=feed)
        else:
            width, height = await asyncio.to_thread(inspect_image, data, feed=feed)
        kept["width"], kept["height"] = width, height
        if not is_item and media_type != "STORIES":
            check_caption(caption, ms.max_hashtags)
    else:
        raise GraphFault(f"(#100) Unsupported media_type {media_type!r}", code=100)
    if is_item and caption:
        raise GraphFault("(#100) Carousel items cannot have a caption", code=100)
    if media_type == "STORIES" and caption:
        raise GraphFault("(#100) Stories cannot have a caption", code=100)
    kind = media_type or "IMAGE"
    if kind == "VIDEO" and not is_item:
        kind = "REELS"
    return Container(
        id=ms.next_id(),
        owner=owner,
        media_type=kind,
        params=kept,
        created_at=now,
        ready_at=ready_at,
        is_carousel_item=is_item,
        children=children,
    )


def _json_list(raw: str | None, name: str) -> list[Any]:
    if raw is None or raw == "":
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        if name == "collaborators":
            return [part.strip() for part in raw.split(",") if part.strip()]
        raise GraphFault(f"(#100) Param {name} must be a JSON array", code=100) from None
    if not isinstance(value, list):
        raise GraphFault(f"(#100) Param {name} must be a JSON array", code=100)
    return value


def check_caption(caption: str | None, max_hashtags: int) -> None:
    if not caption:
        return
    excess, _ = meta.caption_limits(caption, max_hashtags=max_hashtags)
    if excess is not None:
        raise GraphFault(
            f"The caption has {excess.count} {excess.what}; the maximum is {excess.limit}",
            code=100,
            subcode=2207010,
        )


def check_tags(params: dict[str, str]) -> dict[str, Any]:
    """Parse and check user_tags / product_tags / collaborators; return them decoded."""
    host = GRAPH_HOST.get()
    for feature in login_kinds.FEATURES:
        if params.get(feature.graph_param) not in (None, "", "[]") and host not in feature.allowed:
            # Meta offers these only through the Instagram API with Facebook Login.
            raise GraphFault(
                f"(#100) Param {feature.graph_param} is not supported by the Instagram API with "
                "Instagram Login; it needs the Instagram API with Facebook Login "
                "(graph.facebook.com)",
                code=100,
            )
    user_tags = _tag_list(params, "user_tags", meta.USER_TAGS_MAX, needs="username")
    for tag in user_tags:
        for axis in ("x", "y"):
            if axis in tag and not meta.coordinate_ok(tag[axis]):
                raise GraphFault(f"(#100) user_tags {axis} must be between 0 and 1", code=100)
    product_tags = _tag_list(params, "product_tags", meta.PRODUCT_TAGS_MAX, needs="product_id")
    collaborators = _json_list(params.get("collaborators"), "collaborators")
    media_type = (params.get("media_type") or "IMAGE").upper()
    problem = meta.collaborators_problem(
        len(collaborators),
        media_type="REELS" if media_type == "VIDEO" else media_type,
        carousel_item=params.get("is_carousel_item", "").lower() == "true",
    )
    if problem is not None:
        raise GraphFault(f"(#100) Param collaborators: {problem}", code=100)
    return {"user_tags": user_tags, "product_tags": product_tags, "collaborators": collaborators}


def _tag_list(params: dict[str, str], name: str, limit: int, *, needs: str) -> list[Any]:
    """The tags of `name` (user_tags, product_tags): at most `limit`, each an object with
    `needs`."""
    tags = _json_list(params.get(name), name)
    what = name.replace("_", " ")  # "user tags"
    if len(tags) > limit:
        raise GraphFault(f"(#100) A media can have at most {limit} {what}", code=100)
    for tag in tags:
        if not isinstance(tag, dict) or not tag.get(needs):
            raise GraphFault(f"(#100) Each {what[:-1]} needs a {needs}", code=100)
    return tags


def check_labels(params: dict[str, str]) -> dict[str, Any]:
    """Parse and check trial_params (reels only) and is_ai_generated (not on carousel items);
    return them decoded (absent ones left out)."""
    out: dict[str, Any] = {}
    media_type = (params.get("media_type") or "IMAGE").upper()
    item = params.get("is_carousel_item", "").lower() == "true"
    raw = params.get("trial_params")
    if raw is not None:
        try:
            trial = json.loads(raw)
        except ValueError:
            trial = None
        if not isinstance(trial, dict):
            raise GraphFault("(#100) Param trial_params must be a JSON object", code=100)
        problem = meta.trial_params_problem(
            trial.get("graduation_strategy"),
            media_type="VIDEO" if item else media_type,
        )
        if problem is None and params.get("share_to_feed", "").lower() == "true":
            problem = meta.TRIAL_WITH_SHARE_TO_FEED
        if problem is not None:
            raise GraphFault(f"(#100) Param trial_params: {problem}", code=100)
        out["trial_params"] = trial
    label = params.get("is_ai_generated")
    if label is not None:
        if label.lower() not in ("true", "false"):
            raise GraphFault("(#100) Param is_ai_generated must be a boolean", code=100)
        problem = meta.ai_label_problem(carousel_item=item)
        if problem is not None:
            raise GraphFault(f"(#100) Param is_ai_generated: {problem}", code=100)
        out["is_ai_generated"] = label.lower() == "true"
    return out


async def fetch(sb: SandboxState, url: str | None, what: str) -> bytes:
    """Download the media like Meta does; any failure is 9004 / 2207052."""
    if not url:
        raise GraphFault(f"(#100) The parameter {what} is required", code=100)
    if sb.http is None or sb.http.closed:  # pragma: no cover - startup() opens it
        await sb.startup()
    assert sb.http is not None
    try:
        # encoded=True: sent exactly as given (a presigned URL's signature covers its bytes).
        target = yarl.URL(url, encoded=True)
        if target.scheme not in ("http", "https") or not target.host:
            raise ValueError(f"not an http(s) URL: {url[:100]!r}")
        async with sb.http.get(target, allow_redirects=False) as response:
            status = response.status
            content = await response.read() if status == 200 else b""
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
        raise GraphFault(
            f"Media download has failed: the media URI could not be fetched ({type(exc).__name__})",
            code=9004,
            subcode=2207052,
        ) from exc
    if status != 200:
        raise GraphFault(
            f"Media download has failed: the media URI answered HTTP {status}",
            code=9004,
            subcode=2207052,
        )
    return content


def inspect_image(data: bytes, *, feed: bool) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    if len(data) > meta.IMAGE_MAX_BYTES:
        raise GraphFault(
            f"The image is {len(data)} bytes; the maximum is {meta.IMAGE_MAX_BYTES}",
            code=36001,
            subcode=2207004,
        )
    if not data.startswith(b"\xff\xd8\xff"):
        raise GraphFault("Only JPEG images are supported", code=36001, subcode=2207005)
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            width, height = img.size
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise GraphFault("The image could not be decoded", code=36001, subcode=2207005) from exc
    if fmt != "JPEG":
        raise GraphFault("Only JPEG images are supported", code=36001, subcode=2207005)
    if feed and not meta.aspect_ratio_ok(width, height):
        raise GraphFault(
            f"The aspect ratio {width / max(height, 1):.2f} is not supported (4:5 to 1.91:1)",
            code=36003,
            subcode=2207009,
        )
    return width, height


def inspect_video(data: bytes, *, reel: bool) -> int:
    """The video's duration in ms, after Meta's checks (size, container, duration, and the
    format rules of `publish_rules.video_problems`: codecs, scan, GOP, chroma, fps, width,
    bitrate, audio, moov position)."""
    import av

    if len(data) > meta.VIDEO_MAX_BYTES:
        raise GraphFault("The video file is too large", code=352, subcode=2207004)
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            fmt = container.format.name or ""
            if not ({"mp4", "mov"} & set(fmt.split(","))):
                raise GraphFault(
                    f"The video container {fmt!r} is not supported (use MP4 or MOV)",
                    code=352,
                    subcode=2207026,
                )
            if not container.streams.video:
                raise GraphFault("The file has no video stream", code=352, subcode=2207026)
            if container.duration is not None:
                duration = float(container.duration) / 1_000_000
            else:
                stream = container.streams.video[0]
                duration = float((stream.duration or 0) * (stream.time_base or 0))
            first = next(container.decode(container.streams.video[0]), None)
            container.seek(0)
            facts = video_probe.measure(
                container,
                kind="mov" if data[4:12] == b"ftypqt  " else "mp4",
                faststart=video_probe.faststart_of(io.BytesIO(data), len(data)),
                first_frame=first,
            )
        problems = meta.video_problems(facts)
        if problems:
            raise GraphFault(
                "The video format is not supported: " + "; ".join(p.message for p in problems),
                code=352,
                subcode=2207026,
            )
    except GraphFault:
        raise
    except Exception as exc:  # PyAV raises many error types for garbage input
        raise GraphFault(
            "The video could not be read (use MP4/MOV with H.264 and AAC)",
            code=352,
            subcode=2207026,
        ) from exc
    duration_ms = meta.milliseconds(duration)
    if not meta.duration_ok(duration_ms, reel=reel):
        low, high = meta.duration_limits_ms(reel=reel)
        raise GraphFault(
            f"The video is {meta.seconds_text(duration_ms)} long; it must be {low // 1000} to "
            f"{high // 1000} s",
            code=352,
            subcode=2207026,
        )
    return duration_ms
