"""Reading what was created and published: a container's status, the account's media, a
media's fields and insights, and comments on published media.

`GET /{media-id}?fields=...` also answers Graph field expansion of the insights edge
(`fields=permalink,insights.metric(reach)` → `"insights": {"data": [...]}`); an error of the
nested edge fails the whole request, as on Meta.
"""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import APIRouter, Request

from instasched.integrations.instagram import publish_rules as meta
from instasched.integrations.instagram.media import MEDIA_INSIGHT_METRICS
from instasched.sandbox.media_state import (
    Container,
    DropConnection,
    Media,
    MediaState,
    account_call,
    apply_fault,
    graph_params,
    iso,
    media_state,
)
from instasched.sandbox.state import (
    GraphFault,
    SandboxState,
    SandboxUser,
    missing_object,
    sandbox,
)

DEPRECATED_METRICS = {"impressions", "plays", "clips_replays_count", "video_views"}
# Meta's media metrics: those the client asks for (its table), and three more it serves.
MEDIA_METRICS = {*MEDIA_INSIGHT_METRICS, "follows", "profile_visits", "ig_reels_avg_watch_time"}


router = APIRouter()


@router.get("/{version:graphver}/{ig_user_id}/media", tags=["Graph API"])
async def list_media(
    version: str, ig_user_id: str, request: Request, limit: int = 25
) -> dict[str, Any]:
    """The account's media, newest first."""
    ms = (await account_call(request, ig_user_id, "list_media")).ms
    wanted = set((request.query_params.get("fields") or "id").split(","))
    # Ids grow with time (one sequence): the newest first without reading every media.
    items = ms.media.newest_of(ig_user_id, max(1, min(limit, 100)))
    return {"data": [_media_fields(m, wanted) for m in items], "paging": {}}


def _media_fields(m: Media, wanted: set[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": m.id,
        "caption": m.caption,
        "media_type": "CAROUSEL_ALBUM" if m.media_type == "CAROUSEL" else m.media_type,
        "media_product_type": {"REELS": "REELS", "STORIES": "STORY"}.get(m.media_type, "FEED"),
        "media_url": m.media_url,
        "permalink": m.permalink,
        "timestamp": iso(m.timestamp),
        "like_count": m.like_count,
        "comments_count": m.comments_count,
        "shortcode": m.permalink.rstrip("/").rsplit("/", 1)[-1],
    }
    out = {k: v for k, v in values.items() if k in wanted and v is not None}
    out["id"] = m.id
    return out


def _owned_object(
    sb: SandboxState, ms: MediaState, object_id: str, token: str | None
) -> tuple[SandboxUser, Container | None, Media | None]:
    user, _ = sb.user_for_token(token)
    container = ms.containers.get(object_id)
    media = ms.media.get(object_id)
    owner = container.owner if container else media.owner if media else None
    if owner != user.ig_user_id:
        raise missing_object(object_id)
    return user, container, media


def parse_fields(raw: str | None) -> dict[str, dict[str, str]]:
    """The `fields` parameter with Graph field expansion: `a,b,edge.metric(x,y).limit(3)` →
    `{"a": {}, "b": {}, "edge": {"metric": "x,y", "limit": "3"}}` (commas inside parentheses
    or braces belong to the field)."""
    items: list[str] = []
    depth, start = 0, 0
    text = raw or "id"
    for index, char in enumerate(text):
        if char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:index])
            start = index + 1
    items.append(text[start:])
    fields: dict[str, dict[str, str]] = {}
    for item in (i.strip() for i in items):
        if not item:
            continue
        name, _, rest = item.partition(".")
        modifiers: dict[str, str] = {}
        for match in re.finditer(r"([a-z_]+)\(([^)]*)\)", rest):
            modifiers[match.group(1)] = match.group(2)
        if "{" in name:
            name = name.split("{", 1)[0]
        fields[name] = modifiers
    return fields


@router.get("/{version:graphver}/{object_id:igobject}", tags=["Graph API"])
async def get_object(version: str, object_id: str, request: Request) -> dict[str, Any]:
    """A container (`fields=status_code,status`) or a published media; a media's `insights`
    edge can be expanded in `fields` (`insights.metric(reach)`), answered nested as
    `"insights": {"data": [...]}` like `GET /{media-id}/insights`."""
    sb, ms = sandbox(request), media_state(request)
    user, container, media = _owned_object(
        sb, ms, object_id, request.query_params.get("access_token")
    )
    fields = parse_fields(request.query_params.get("fields"))
    wanted = set(fields)
    if container is not None:
        ms.count(user.ig_user_id, "container_status")
        if "insights" in wanted:
            raise GraphFault(
                "(#100) Tried accessing nonexisting field (insights) on node type (IGContainer)",
                code=100,
            )
        fault = await apply_fault(ms, user.ig_user_id, "container_status")
        code = container.status_code(time.time())
        body: dict[str, Any] = {"id": container.id}
        if "status_code" in wanted:
            body["status_code"] = code
        if "status" in wanted:
            body["status"] = {
                "ERROR": f"Error: {container.error}",
                "EXPIRED": "Expired: the container was not published within 24 hours",
            }.get(code, code.title().replace("_", " "))
        if fault is not None and fault.timeout_after_effect:
            raise DropConnection
        return body
    assert media is not None
    ms.count(user.ig_user_id, "media_fields")
    if "insights" not in fields:
        await apply_fault(ms, user.ig_user_id, "media_fields")
        return _media_fields(media, wanted)
    # An error of the nested edge fails the whole request, as on Meta.
    fault = await apply_fault(ms, user.ig_user_id, "insights")
    metric = fields["insights"].get("metric")
    if metric is None:
        raise GraphFault("(#100) For field 'insights': The parameter metric is required", code=100)
    try:
        nested = _insights(media, metric)
    except GraphFault as exc:
        exc.message = exc.message.replace("(#100) ", "(#100) For field 'insights': ", 1)
        raise
    body = _media_fields(media, wanted)
    body["insights"] = nested
    if fault is not None and fault.timeout_after_effect:
        raise DropConnection
    return body


def _insights(media: Media, metric_param: str | None) -> dict[str, Any]:
    """`{"data": [...]}` for the requested metrics of a media (Meta's checks and shape)."""
    metrics = [m for m in (metric_param or "").split(",") if m]
    if not metrics:
        raise GraphFault("(#100) The parameter metric is required", code=100)
    for name in metrics:
        if name in DEPRECATED_METRICS or name not in MEDIA_METRICS:
            raise GraphFault(
                f"(#100) metric[{metrics.index(name)}] must be one of the following values: "
                + ", ".join(sorted(MEDIA_METRICS)),
                code=100,
            )
    values = {
        "views": media.reach * 2,
        "reach": media.reach,
        "likes": media.like_count,
        "comments": media.comments_count,
        "shares": media.like_count // 5,
        "saved": media.like_count // 4,
        "follows": 0,
        "profile_visits": media.reach // 20,
        "ig_reels_avg_watch_time": 4200 if media.media_type == "REELS" else 0,
    }
    values["total_interactions"] = (
        values["likes"] + values["comments"] + values["shares"] + values["saved"]
    )
    return {
        "data": [
            {
                "name": name,
                "period": "lifetime",
                "values": [{"value": values[name]}],
                "title": name.replace("_", " ").title(),
                "id": f"{media.id}/insights/{name}/lifetime",
            }
            for name in metrics
        ]
    }


@router.get("/{version:graphver}/{object_id:igobject}/insights", tags=["Graph API"])
async def media_insights(version: str, object_id: str, request: Request) -> dict[str, Any]:
    sb, ms = sandbox(request), media_state(request)
    user, _container, media = _owned_object(
        sb, ms, object_id, request.query_params.get("access_token")
    )
    if media is None:
        raise GraphFault("(#100) Insights are only available for published media", code=100)
    ms.count(user.ig_user_id, "insights")
    fault = await apply_fault(ms, user.ig_user_id, "insights")
    body = _insights(media, request.query_params.get("metric"))
    if fault is not None and fault.timeout_after_effect:
        raise DropConnection
    return body


@router.post("/{version:graphver}/{object_id:igobject}/comments", tags=["Graph API"])
async def post_comment(version: str, object_id: str, request: Request) -> dict[str, Any]:
    sb, ms = sandbox(request), media_state(request)
    params = await graph_params(request)
    user, _container, media = _owned_object(sb, ms, object_id, params.get("access_token"))
    if media is None:
        raise GraphFault("(#100) Comments can only be made on published media", code=100)
    ms.count(user.ig_user_id, "comments")
    fault = await apply_fault(ms, user.ig_user_id, "comments")
    message = params.get("message") or ""
    if not meta.comment_ok(message):
        raise GraphFault(
            "(#100) The parameter message is required"
            if not message.strip()
            else f"(#100) The comment is too long (at most {meta.COMMENT_MAX} characters)",
            code=100,
        )
    comment_id = ms.next_id()
    media.comments.append({"id": comment_id, "text": message, "username": user.username})
    media.comments_count += 1
    ms.media[media.id] = media
    if fault is not None and fault.timeout_after_effect:
        raise DropConnection
    return {"id": comment_id}
