"""Publishing calls of the Graph API: containers, status, media_publish, media, insights, comments.

(The account insight `online_followers` is in `insights.py`.)

A mixin of `GraphClient` (which provides `request`). Every optional container parameter is sent
only when it has a value; lists and dicts are sent as JSON, as Meta expects.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from instasched.integrations.instagram import login_kinds
from instasched.integrations.instagram.calls import GraphCalls
from instasched.integrations.instagram.errors import (
    GraphError,
    GraphMediaNotReady,
    GraphPermanentError,
)

MEDIA_FIELDS = "id,media_type,media_url,permalink,timestamp,like_count,comments_count,caption"
# Meta's current media metrics (impressions, plays, clips_replays_count: refused since 2025-04).
MEDIA_INSIGHT_METRICS = (
    "views",
    "reach",
    "likes",
    "comments",
    "shares",
    "saved",
    "total_interactions",
)


class ContainerStatusCode:
    IN_PROGRESS = "IN_PROGRESS"
    FINISHED = "FINISHED"
    PUBLISHED = "PUBLISHED"
    ERROR = "ERROR"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class ContainerStatus:
    id: str
    status_code: str
    status: str | None = None


@dataclass(frozen=True)
class ContainerSpec:
    """What `POST /{ig-user-id}/media` receives (None and empty values are not sent)."""

    media_type: str | None = None  # None (feed image), REELS, VIDEO (carousel child), CAROUSEL,
    image_url: str | None = None  # STORIES
    video_url: str | None = None
    caption: str | None = None
    is_carousel_item: bool = False
    children: list[str] = field(default_factory=list)
    alt_text: str | None = None
    user_tags: list[dict[str, Any]] = field(default_factory=list)
    product_tags: list[dict[str, Any]] = field(default_factory=list)
    collaborators: list[str] = field(default_factory=list)
    location_id: str | None = None
    cover_url: str | None = None
    thumb_offset: int | None = None
    share_to_feed: bool | None = None
    audio_name: str | None = None
    # Reels only: {"graduation_strategy": "MANUAL" | "SS_PERFORMANCE"} (a trial reel).
    trial_params: dict[str, str] | None = None
    # The AI label; sent only when true, and never on a carousel item (Meta refuses it there).
    is_ai_generated: bool = False

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "media_type": self.media_type,
            "image_url": self.image_url,
            "video_url": self.video_url,
            "caption": self.caption,
            "alt_text": self.alt_text,
            "location_id": self.location_id,
            "cover_url": self.cover_url,
            "thumb_offset": self.thumb_offset,
            "share_to_feed": self.share_to_feed,
            "audio_name": self.audio_name,
        }
        if self.is_carousel_item:
            out["is_carousel_item"] = True
        if self.children:
            out["children"] = ",".join(self.children)
        if self.user_tags:
            out["user_tags"] = self.user_tags
        if self.product_tags:
            out["product_tags"] = self.product_tags
        if self.collaborators:
            out["collaborators"] = self.collaborators
        if self.trial_params:
            out["trial_params"] = self.trial_params
        if self.is_ai_generated:
            out["is_ai_generated"] = True
        return {k: v for k, v in out.items() if v is not None and v != ""}


@dataclass(frozen=True)
class MediaInfo:
    id: str
    media_type: str | None = None
    media_url: str | None = None
    permalink: str | None = None
    timestamp: str | None = None
    like_count: int | None = None
    comments_count: int | None = None
    caption: str | None = None


@dataclass(frozen=True)
class RecentMedia:
    id: str
    caption: str | None
    timestamp: datetime | None


@dataclass(frozen=True)
class PublishingLimit:
    quota_usage: int
    quota_total: int | None
    quota_duration: int | None


class MediaCalls(GraphCalls):
    """Content publishing; mixed into `GraphClient`."""

    poll_initial_seconds: float = 1.0
    poll_max_interval_seconds: float = 20.0
    # Which login's host this client speaks to (`login_kinds`): decides the parameters it sends.
    login_kind: str = login_kinds.INSTAGRAM

    # --- containers ----------------------------------------------------------------------
    async def create_container(self, ig_user_id: str, token: str, spec: ContainerSpec) -> str:
        params = spec.params()
        for name in params:
            feature = login_kinds.BY_GRAPH_PARAM.get(name)
            if feature is not None and self.login_kind not in feature.allowed:
                # Only sent where Meta accepts it: a post scheduled before its account was
                # reconnected with the other login fails here, saying what to do.
                fix = login_kinds.fix_for(feature, self.login_kind)
                raise GraphPermanentError(
                    f"{feature.graph_param} is not available with "
                    f"{login_kinds.LABELS[self.login_kind]}",
                    explanation=fix[0].upper() + fix[1:] + ".",
                )
        body = await self.request("POST", f"{ig_user_id}/media", token=token, data=params)
        return _id(body, "container")

    async def container_status(self, container_id: str, token: str) -> ContainerStatus:
        body = await self.request(
            "GET", container_id, token=token, params={"fields": "id,status_code,status"}
        )
        return ContainerStatus(
            id=str(body.get("id") or container_id),
            status_code=str(body.get("status_code") or ""),
            status=str(body["status"]) if body.get("status") else None,
        )

    async def wait_for_container(
        self, container_id: str, token: str, *, max_seconds: float
    ) -> ContainerStatus:
        """Poll until the container leaves IN_PROGRESS (bounded backoff, at most `max_seconds`).

        Returns the final status (FINISHED, PUBLISHED, ERROR or EXPIRED); raises
        `GraphMediaNotReady` when it is still processing after `max_seconds`.
        """
        deadline = time.monotonic() + max_seconds
        interval = self.poll_initial_seconds
        while True:
            status = await self.container_status(container_id, token)
            if status.status_code != ContainerStatusCode.IN_PROGRESS:
                return status
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise GraphMediaNotReady(
                    f"Container {container_id} is still processing after {max_seconds:.0f}s",
                    explanation="Instagram is still processing the media; we will check again.",
                )
            await asyncio.sleep(min(interval, remaining))
            interval = min(interval * 1.5, self.poll_max_interval_seconds)

    async def publish_container(self, ig_user_id: str, container_id: str, token: str) -> str:
        body = await self.request(
            "POST", f"{ig_user_id}/media_publish", token=token, data={"creation_id": container_id}
        )
        return _id(body, "media")

    # --- published media -----------------------------------------------------------------
    async def get_media(self, media_id: str, token: str, fields: str = MEDIA_FIELDS) -> MediaInfo:
        body = await self.request("GET", media_id, token=token, params={"fields": fields})
        return _media_info(body, media_id)

    async def get_media_with_insights(
        self, media_id: str, token: str, metrics: tuple[str, ...], fields: str = MEDIA_FIELDS
    ) -> tuple[MediaInfo, dict[str, int]]:
        """The media's fields and its insights in one call (Graph field expansion:
        `fields=...,insights.metric(reach)` answers the edge nested under `insights`).

        An error of the nested edge fails the whole request, as on Meta.
        """
        expanded = f"{fields},insights.metric({','.join(metrics)})"
        body = await self.request("GET", media_id, token=token, params={"fields": expanded})
        nested = body.get("insights")
        return _media_info(body, media_id), _insight_values(
            nested if isinstance(nested, dict) else {}
        )

    async def media_insights(
        self, media_id: str, token: str, metrics: tuple[str, ...] = MEDIA_INSIGHT_METRICS
    ) -> dict[str, int]:
        """Lifetime insights of one media, by metric name (current names only)."""
        body = await self.request(
            "GET", f"{media_id}/insights", token=token, params={"metric": ",".join(metrics)}
        )
        return _insight_values(body)

    async def recent_media(self, ig_user_id: str, token: str, limit: int = 50) -> list[RecentMedia]:
        """The account's latest media, newest first (to find the id of an uncertain publish)."""
        body = await self.request(
            "GET",
            f"{ig_user_id}/media",
            token=token,
            params={"fields": "id,caption,timestamp", "limit": limit},
        )
        found: list[RecentMedia] = []
        for item in body.get("data") or []:
            if isinstance(item, dict) and item.get("id"):
                found.append(
                    RecentMedia(
                        id=str(item["id"]),
                        caption=_str(item.get("caption")),
                        timestamp=_parse_ts(item.get("timestamp")),
                    )
                )
        return found

    async def post_comment(self, media_id: str, message: str, token: str) -> str:
        body = await self.request(
            "POST", f"{media_id}/comments", token=token, data={"message": message}
        )
        return _id(body, "comment")

    async def publishing_limit(self, ig_user_id: str, token: str) -> PublishingLimit:
        body = await self.request(
            "GET",
            f"{ig_user_id}/content_publishing_limit",
            token=token,
            params={"fields": "config,quota_usage"},
        )
        data = body.get("data")
        entry = data[0] if isinstance(data, list) and data else body
        config = entry.get("config") if isinstance(entry, dict) else None
        config = config if isinstance(config, dict) else {}
        return PublishingLimit(
            quota_usage=_intval(entry.get("quota_usage")) or 0,
            quota_total=_intval(config.get("quota_total")),
            quota_duration=_intval(config.get("quota_duration")),
        )


def _media_info(body: dict[str, Any], media_id: str) -> MediaInfo:
    return MediaInfo(
        id=str(body.get("id") or media_id),
        media_type=_str(body.get("media_type")),
        media_url=_str(body.get("media_url")),
        permalink=_str(body.get("permalink")),
        timestamp=_str(body.get("timestamp")),
        like_count=_intval(body.get("like_count")),
        comments_count=_intval(body.get("comments_count")),
        caption=_str(body.get("caption")),
    )


def _insight_values(body: dict[str, Any]) -> dict[str, int]:
    """`{"data": [{"name", "values": [{"value"}]} | {"name", "total_value": {"value"}}]}`."""
    out: dict[str, int] = {}
    for item in body.get("data") or []:
        if not isinstance(item, dict) or "name" not in item:
            continue
        values = item.get("values") or []
        value = values[-1].get("value") if values and isinstance(values[-1], dict) else None
        if value is None and "total_value" in item:
            value = (item.get("total_value") or {}).get("value")
        number = _intval(value)
        if number is not None:
            out[str(item["name"])] = number
    return out


def _id(body: dict[str, Any], what: str) -> str:
    value = body.get("id")
    if not value:
        raise GraphError(f"Instagram did not return a {what} id")
    return str(value)


def _str(value: Any) -> str | None:
    return str(value) if value is not None else None


def _intval(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # Meta's +0000
        text = text[:-2] + ":" + text[-2:]
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
