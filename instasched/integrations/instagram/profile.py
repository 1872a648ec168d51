"""The account's published media as its profile grid shows it: `GET /{ig-user-id}/media`
(newest first), with the fields the grid planner draws."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from instasched.integrations.instagram.client import GraphClient
from instasched.integrations.instagram.media import _parse_ts

PROFILE_FIELDS = (
    "id,media_type,media_product_type,media_url,thumbnail_url,permalink,timestamp,caption"
)


@dataclass(frozen=True)
class ProfileMedia:
    id: str
    media_type: str | None  # IMAGE, VIDEO, CAROUSEL_ALBUM
    product_type: str | None  # FEED, REELS, STORY
    media_url: str | None
    thumbnail_url: str | None
    permalink: str | None
    timestamp: datetime | None
    caption: str | None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


async def profile_media(
    graph: GraphClient, *, ig_user_id: str, access_token: str, limit: int = 30
) -> list[ProfileMedia]:
    body = await graph.request(
        "GET",
        f"{ig_user_id}/media",
        token=access_token,
        params={"fields": PROFILE_FIELDS, "limit": limit},
    )
    found: list[ProfileMedia] = []
    for item in body.get("data") or []:
        if not isinstance(item, dict) or not item.get("id"):
            continue
        found.append(
            ProfileMedia(
                id=str(item["id"]),
                media_type=_text(item.get("media_type")),
                product_type=_text(item.get("media_product_type")),
                media_url=_text(item.get("media_url")),
                thumbnail_url=_text(item.get("thumbnail_url")),
                permalink=_text(item.get("permalink")),
                timestamp=_parse_ts(item.get("timestamp")),
                caption=_text(item.get("caption")),
            )
        )
    return found
