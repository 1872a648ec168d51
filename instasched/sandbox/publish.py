"""Publishing a container (`POST /{ig-user-id}/media_publish`) and the publishing quota.

`media_publish` checks the container's state (IN_PROGRESS: 9007 / 2207027, EXPIRED: 2207020,
ERROR, already PUBLISHED) and the account's quota in a moving 24 h (9 / 2207042) in one
transaction with the publication, and records the published media;
`GET /{ig-user-id}/content_publishing_limit` answers the quota and its use.
"""

from __future__ import annotations

import random
import secrets
import string
import time
from typing import Any

from fastapi import APIRouter, Request

from instasched.sandbox.media_state import (
    QUOTA_WINDOW_SECONDS,
    DropConnection,
    Media,
    MediaState,
    account_call,
)
from instasched.sandbox.state import GraphFault

router = APIRouter()


@router.post("/{version:graphver}/{ig_user_id}/media_publish", tags=["Graph API"])
async def media_publish(version: str, ig_user_id: str, request: Request) -> dict[str, Any]:
    call = await account_call(request, ig_user_id, "media_publish")
    ms, params, fault = call.ms, call.params, call.fault
    # The check and the publication are atomic (no await, one transaction across processes).
    with ms.store.transaction():
        media = _publish(ms, ig_user_id, params.get("creation_id") or "")
    if fault is not None and fault.timeout_after_effect:
        raise DropConnection
    return {"id": media.id}


def _publish(ms: MediaState, ig_user_id: str, creation_id: str) -> Media:
    container = ms.containers.get(creation_id)
    if container is None or container.owner != ig_user_id:
        raise GraphFault(
            f"(#100) creation_id {creation_id!r} is not a container of this account",
            code=100,
            subcode=33,
        )
    if container.is_carousel_item:
        raise GraphFault("(#100) A carousel item cannot be published alone", code=100)
    now = time.time()
    state = container.status_code(now)
    if state == "IN_PROGRESS":
        raise GraphFault("Media ID is not available", code=9007, subcode=2207027)
    if state == "EXPIRED":
        raise GraphFault(
            "The media container has expired; create a new one", code=100, subcode=2207020
        )
    if state == "ERROR":
        raise GraphFault("The media upload failed; create a new container", code=1, subcode=2207053)
    if state == "PUBLISHED":
        raise GraphFault("(#100) This container has already been published", code=100)
    if ms.usage(ig_user_id, now) >= ms.quota_for(ig_user_id):
        raise GraphFault(
            "Application request limit reached: the account reached its publishing limit",
            code=9,
            subcode=2207042,
            status=400,
        )
    media = Media(
        id=ms.next_id(),
        owner=ig_user_id,
        container_id=container.id,
        media_type=container.media_type,
        caption=container.params.get("caption"),
        params=container.params,
        children=[
            {
                "containerId": c.id,
                "mediaType": c.media_type,
                "params": c.params,
            }
            for c in (ms.containers[cid] for cid in container.children)
        ],
        timestamp=now,
        permalink=f"https://www.instagram.com/p/{_shortcode()}/",
        media_url=f"https://scontent.sandbox.invalid/{container.id}.jpg",
        like_count=random.randint(0, 25),
        comments_count=random.randint(0, 5),
        reach=random.randint(30, 400),
    )
    ms.media[media.id] = media
    container.media_id = media.id
    ms.containers[container.id] = container
    ms.record_publication(ig_user_id, now)
    return media


@router.get("/{version:graphver}/{ig_user_id}/content_publishing_limit", tags=["Graph API"])
async def publishing_limit(version: str, ig_user_id: str, request: Request) -> dict[str, Any]:
    ms = (await account_call(request, ig_user_id, "publishing_limit")).ms
    return {
        "data": [
            {
                "quota_usage": ms.usage(ig_user_id, time.time()),
                "config": {
                    "quota_total": ms.quota_for(ig_user_id),
                    "quota_duration": QUOTA_WINDOW_SECONDS,
                },
            }
        ]
    }


def _shortcode() -> str:
    alphabet = string.ascii_letters + string.digits + "_-"
    return "".join(secrets.choice(alphabet) for _ in range(11))
