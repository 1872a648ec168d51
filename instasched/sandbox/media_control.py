"""The sandbox's control endpoints of publishing, for tests and demos (camelCase JSON).

`GET /_control/media?igUserId=` (everything published), `DELETE /_control/media/{media-id}`,
`GET /_control/calls?igUserId=` (Graph calls by endpoint), `POST|DELETE /_control/faults`,
`PUT /_control/quota`, `POST /_control/containers/{id}/expire`,
`GET|DELETE /_control/concurrency` (calls waiting out an added latency: now, and the peak),
`PUT /_control/latency` (every call's added latency from now on).
"""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from instasched.sandbox.latency import LATENCY_ENDPOINTS, Latency, LatencyProfile
from instasched.sandbox.media_state import CONTAINER_TTL_SECONDS, Fault, iso, media_state
from instasched.sandbox.state import GraphFault, sandbox

router = APIRouter()


class FaultError(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: int
    subcode: int | None = None
    message: str = "Fault injected by the sandbox"


class FaultIn(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    ig_user_id: str = Field(min_length=1)
    endpoint: Literal["media", "container_status", "media_publish", "insights", "comments"]
    count: int = Field(1, ge=1, le=1000)
    error: FaultError | None = None
    timeout_after_effect: bool = False
    latency_ms: int = Field(0, ge=0, le=120_000)
    # endpoint "media" only: the container is created, then reads ERROR with this text.
    container_error: str | None = Field(None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _one_kind(self) -> FaultIn:
        if (
            self.error is None
            and not self.timeout_after_effect
            and not self.latency_ms
            and not self.container_error
        ):
            raise ValueError("give error, timeoutAfterEffect: true, latencyMs or containerError")
        if self.container_error and self.endpoint != "media":
            raise ValueError("containerError applies to the endpoint media")
        return self


class QuotaIn(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    ig_user_id: str = Field(min_length=1)
    quota_total: int = Field(ge=0, le=100_000)


@router.get("/_control/media", tags=["Sandbox control"])
async def control_media(request: Request, igUserId: str | None = None) -> dict[str, Any]:
    """Everything published (optionally for one account), oldest first."""
    ms = media_state(request)
    items = ms.media.of(igUserId)
    items.sort(key=lambda m: (m.timestamp, m.id))
    return {
        "media": [
            {
                "id": m.id,
                "igUserId": m.owner,
                "containerId": m.container_id,
                "caption": m.caption,
                "mediaType": m.media_type,
                "children": m.children,
                "timestamp": iso(m.timestamp),
                "permalink": m.permalink,
                "mediaUrl": m.media_url,
                "likeCount": m.like_count,
                "commentsCount": m.comments_count,
                "comments": m.comments,
                "params": m.params,
            }
            for m in items
        ]
    }


@router.delete("/_control/media/{media_id}", tags=["Sandbox control"])
async def delete_media(media_id: str, request: Request) -> dict[str, Any]:
    """Delete a published media, as its owner would in the Instagram app: reading it (fields,
    insights) then answers Meta's missing-object error (code 100, sub-code 33). The publication
    still counts in the account's publishing quota."""
    ms = media_state(request)
    if not ms.media.delete(media_id):
        raise GraphFault(f"Unknown media {media_id}", code=100)
    return {"deleted": media_id}


@router.get("/_control/calls", tags=["Sandbox control"])
async def control_calls(request: Request, igUserId: str) -> dict[str, Any]:
    """How many Graph calls the account made, by endpoint (media, container_status,
    media_publish, media_fields, insights, comments, list_media, publishing_limit)."""
    ms = media_state(request)
    return {"igUserId": igUserId, "calls": ms.calls_of(igUserId)}


@router.get("/_control/concurrency", tags=["Sandbox control"])
async def control_concurrency(request: Request) -> dict[str, Any]:
    """Graph calls waiting out an added latency (profile or `latencyMs` fault) in this sandbox
    process: now, and the most at once since the last reset, overall and per account."""
    ms = media_state(request)
    return {
        "inFlight": sum(ms.waiting.values()),
        "peak": ms.peak,
        "peakByAccount": dict(ms.peak_by_owner),
    }


@router.delete("/_control/concurrency", tags=["Sandbox control"])
async def reset_concurrency(request: Request) -> dict[str, Any]:
    """Start counting the peaks again."""
    ms = media_state(request)
    ms.peak = sum(ms.waiting.values())
    ms.peak_by_owner = dict(ms.waiting)
    return {"peak": ms.peak}


class LatencyIn(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    ms: float = Field(ge=0, le=120_000)
    spread_ms: float = Field(0, ge=0, le=120_000)


@router.put("/_control/latency", tags=["Sandbox control"])
async def set_latency(body: LatencyIn, request: Request) -> dict[str, Any]:
    """Every Graph call's added latency from now on (this sandbox process), mean ± spread ms, as
    SANDBOX_LATENCY_MS / SANDBOX_LATENCY_SPREAD_MS set it at start; `ms: 0` takes it away.
    bench/run's Meta-timed rows use it on a server that serves the other rows without."""
    ms = media_state(request)
    latency = Latency(body.ms, body.spread_ms)
    ms.latency = LatencyProfile(
        {endpoint: latency for endpoint in LATENCY_ENDPOINTS} if latency.bounds_ms[1] > 0 else {}
    )
    return {"ms": body.ms, "spreadMs": body.spread_ms}


@router.post("/_control/faults", status_code=201, tags=["Sandbox control"])
async def add_faults(body: FaultIn, request: Request) -> dict[str, Any]:
    """Queue `count` faults for one account and one endpoint (consumed one call at a time)."""
    ms = media_state(request)
    if body.ig_user_id not in sandbox(request).users:
        raise GraphFault("Unknown igUserId", code=100)
    fault = Fault(
        error=body.error.model_dump() if body.error else None,
        timeout_after_effect=body.timeout_after_effect,
        latency_ms=body.latency_ms,
        container_error=body.container_error,
    )
    queued = ms.add_faults(body.ig_user_id, body.endpoint, [fault] * body.count)
    return {"igUserId": body.ig_user_id, "endpoint": body.endpoint, "queued": queued}


@router.delete("/_control/faults", tags=["Sandbox control"])
async def clear_faults(request: Request, igUserId: str | None = None) -> dict[str, Any]:
    """Clear queued faults (of one account, or all)."""
    return {"cleared": media_state(request).clear_faults(igUserId)}


@router.put("/_control/quota", tags=["Sandbox control"])
async def set_quota(body: QuotaIn, request: Request) -> dict[str, Any]:
    """Set one account's publishing quota per 24 h (default SANDBOX_PUBLISH_QUOTA)."""
    ms = media_state(request)
    if body.ig_user_id not in sandbox(request).users:
        raise GraphFault("Unknown igUserId", code=100)
    ms.set_quota(body.ig_user_id, body.quota_total)
    return {
        "igUserId": body.ig_user_id,
        "quotaTotal": body.quota_total,
        "quotaUsage": ms.usage(body.ig_user_id, time.time()),
    }


@router.post("/_control/containers/{container_id}/expire", tags=["Sandbox control"])
async def expire_container(container_id: str, request: Request) -> dict[str, Any]:
    """Age a container past Meta's 24 h, so it reads EXPIRED (tests the new-container path)."""
    containers = media_state(request).containers
    container = containers.get(container_id)
    if container is None:
        raise GraphFault("Unknown container", code=100)
    container.created_at -= CONTAINER_TTL_SECONDS + 60
    containers[container.id] = container
    # Its creation leaves the 24 h window of the container limit too.
    media_state(request).store.execute(
        "UPDATE container_creations SET at = ? WHERE id = ?", (container.created_at, container.id)
    )
    return {"id": container.id, "statusCode": container.status_code(time.time())}
