"""The sandbox's content publishing: containers, media_publish, media, insights, comments.

Same paths and JSON as the Graph API, and Meta's rules: the sandbox **downloads** `image_url` /
`video_url` at container creation (a bad or expired presigned URL fails with 9004 / 2207052),
checks JPEG and the feed aspect ratio, video container and duration, carousel children, caption
limits (the limits and checks of `instasched.integrations.instagram.publish_rules`, which the
API's validation runs too, so a post the API accepts publishes here); keeps container states
(IN_PROGRESS while a video "processes", FINISHED, PUBLISHED, EXPIRED after 24 h, ERROR);
enforces the publishing quota and the 400 containers per account per moving 24 h; records every
published media. Every Graph call takes the added latency of `latency.py` (none by default).

`GET /{media-id}?fields=...` also answers Graph field expansion of the insights edge
(`fields=permalink,insights.metric(reach)` → `"insights": {"data": [...]}`); an error of the
nested edge fails the whole request, as on Meta.

Control endpoints for tests and demos (camelCase JSON): `GET /_control/media?igUserId=`,
`GET /_control/calls?igUserId=` (Graph calls by endpoint), `POST /_control/faults`,
`DELETE /_control/faults`, `PUT /_control/quota`, `DELETE /_control/media/{media-id}`,
`GET|DELETE /_control/concurrency` (calls waiting out an added latency: now, and the peak),
`PUT /_control/latency` (every call's added latency from now on).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import random
import re
import secrets
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

import aiohttp
import yarl
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from starlette.convertors import Convertor, register_url_convertor
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from instasched.integrations.instagram import login_kinds, video_probe
from instasched.integrations.instagram import publish_rules as meta
from instasched.sandbox.latency import (
    LATENCY_ENDPOINTS,
    Latency,
    LatencyProfile,
    video_processing_seconds,
)
from instasched.sandbox.state import (
    GRAPH_HOST,
    GraphFault,
    Records,
    SandboxState,
    SandboxStore,
    SandboxUser,
)

log = logging.getLogger(__name__)

CONTAINER_TTL_SECONDS = 24 * 3600
QUOTA_WINDOW_SECONDS = 24 * 3600
INLINE_INSPECT_BYTES = 1024 * 1024
DEPRECATED_METRICS = {"impressions", "plays", "clips_replays_count", "video_views"}
MEDIA_METRICS = {
    "views",
    "reach",
    "likes",
    "comments",
    "shares",
    "saved",
    "total_interactions",
    "follows",
    "profile_visits",
    "ig_reels_avg_watch_time",
}
FAULT_ENDPOINTS = ("media", "container_status", "media_publish", "insights", "comments")


class GraphVersion(Convertor[str]):
    """`v26.0`-style path segment, so the generic routes never shadow `/_control/...` (which
    versions Meta serves: `GraphVersionGate` in app.py)."""

    regex = r"v[0-9]+(?:\.[0-9]+)?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class ObjectId(Convertor[str]):
    """Container and media ids (numeric, starting with 18; user ids start with 178414)."""

    regex = r"18[0-9]{15}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("graphver", GraphVersion())
register_url_convertor("igobject", ObjectId())


# --- state ---------------------------------------------------------------------------------
@dataclass
class Container:
    id: str
    owner: str
    media_type: str  # IMAGE, VIDEO, REELS, CAROUSEL, STORIES
    params: dict[str, Any]
    created_at: float
    ready_at: float
    is_carousel_item: bool = False
    children: list[str] = field(default_factory=list)
    error: str | None = None
    media_id: str | None = None

    def status_code(self, now: float) -> str:
        if self.media_id:
            return "PUBLISHED"
        if self.error:
            return "ERROR"
        if now - self.created_at > CONTAINER_TTL_SECONDS:
            return "EXPIRED"
        if now < self.ready_at:
            return "IN_PROGRESS"
        return "FINISHED"


@dataclass
class Media:
    id: str
    owner: str
    container_id: str
    media_type: str
    caption: str | None
    params: dict[str, Any]
    children: list[dict[str, Any]]
    timestamp: float
    permalink: str
    media_url: str
    like_count: int
    comments_count: int
    reach: int
    comments: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Fault:
    error: dict[str, Any] | None = None
    timeout_after_effect: bool = False
    latency_ms: int = 0
    container_error: str | None = None


class MediaState:
    """The media part of the sandbox's state, in its SQLite store (see `state.py`)."""

    def __init__(
        self,
        store: SandboxStore,
        *,
        processing_seconds: float = 2.0,
        quota_total: int = 100,
        container_limit: int = 400,
        max_hashtags: int = meta.HASHTAGS_MAX,
        latency: LatencyProfile | None = None,
    ) -> None:
        self.store = store
        self.containers = Records(store, "containers", Container, "owner")
        self.media = Records(store, "media", Media, "owner")
        self.processing_seconds = processing_seconds
        self.quota_total = quota_total
        self.container_limit = container_limit
        self.max_hashtags = max_hashtags
        self.latency = latency or LatencyProfile()
        # Graph calls waiting out an added latency right now, and the most at once (this
        # process; `GET /_control/concurrency`): how many calls a worker has in flight.
        self.waiting: dict[str, int] = {}
        self.peak = 0
        self.peak_by_owner: dict[str, int] = {}

    @contextlib.contextmanager
    def waiting_call(self, owner: str) -> Iterator[None]:
        self.waiting[owner] = self.waiting.get(owner, 0) + 1
        self.peak = max(self.peak, sum(self.waiting.values()))
        self.peak_by_owner[owner] = max(self.peak_by_owner.get(owner, 0), self.waiting[owner])
        try:
            yield
        finally:
            self.waiting[owner] -= 1
            if not self.waiting[owner]:
                del self.waiting[owner]

    def next_id(self) -> str:
        # The first id is drawn at random: ids of one sandbox file never repeat those of another.
        start = 18000000000000001 + random.randrange(10**9)
        return str(self.store.next_value("objects", start=start, step=random.randint(1, 97)))

    def quota_for(self, owner: str) -> int:
        row = self.store.execute("SELECT total FROM quotas WHERE owner = ?", (owner,)).fetchone()
        return self.quota_total if row is None else int(row[0])

    def set_quota(self, owner: str, total: int) -> None:
        self.store.execute(
            "INSERT INTO quotas (owner, total) VALUES (?, ?) "
            "ON CONFLICT (owner) DO UPDATE SET total = excluded.total",
            (owner, total),
        )

    def usage(self, owner: str, now: float) -> int:
        """Publications of the account in the moving 24 h window."""
        row = self.store.execute(
            "SELECT count(*) FROM publications WHERE owner = ? AND at > ?",
            (owner, now - QUOTA_WINDOW_SECONDS),
        ).fetchone()
        return int(row[0])

    def record_publication(self, owner: str, now: float) -> None:
        self.store.execute("INSERT INTO publications (owner, at) VALUES (?, ?)", (owner, now))

    def add_container(self, container: Container) -> None:
        """Store a new container within Meta's limit of containers created per account per
        moving 24 h (the count and the write are one transaction across processes).

        Meta documents the limit (400) but not the error it answers; this is code 9, its
        rate-limit code, without the publishing quota's sub-code 2207042."""
        with self.store.transaction():
            row = self.store.execute(
                "SELECT count(*) FROM container_creations WHERE owner = ? AND at > ?",
                (container.owner, container.created_at - CONTAINER_TTL_SECONDS),
            ).fetchone()
            if int(row[0]) >= self.container_limit:
                raise GraphFault(
                    f"Application request limit reached: the account created "
                    f"{self.container_limit} media containers in the last 24 hours, the most "
                    "Instagram allows; publish or wait for older containers to leave the window",
                    code=9,
                )
            self.containers[container.id] = container
            self.store.execute(
                "INSERT INTO container_creations (id, owner, at) VALUES (?, ?, ?)",
                (container.id, container.owner, container.created_at),
            )

    def count(self, owner: str, endpoint: str) -> None:
        """One Graph call of an account (read by `GET /_control/calls`)."""
        self.store.execute(
            "INSERT INTO calls (owner, endpoint, n) VALUES (?, ?, 1) "
            "ON CONFLICT (owner, endpoint) DO UPDATE SET n = n + 1",
            (owner, endpoint),
        )

    def calls_of(self, owner: str) -> dict[str, int]:
        rows = self.store.execute(
            "SELECT endpoint, n FROM calls WHERE owner = ? ORDER BY endpoint", (owner,)
        ).fetchall()
        return {str(endpoint): int(n) for endpoint, n in rows}

    def add_faults(self, owner: str, endpoint: str, faults: list[Fault]) -> int:
        """Queue faults; answers how many are queued for the account and endpoint."""
        with self.store.transaction():
            for fault in faults:
                self.store.execute(
                    "INSERT INTO faults (owner, endpoint, body) VALUES (?, ?, ?)",
                    (owner, endpoint, json.dumps(vars(fault))),
                )
            row = self.store.execute(
                "SELECT count(*) FROM faults WHERE owner = ? AND endpoint = ?", (owner, endpoint)
            ).fetchone()
        return int(row[0])

    def take_fault(self, owner: str, endpoint: str) -> Fault | None:
        while True:  # a read first: most calls find no fault, and a read takes no write lock
            row = self.store.execute(
                "SELECT seq, body FROM faults WHERE owner = ? AND endpoint = ? "
                "ORDER BY seq LIMIT 1",
                (owner, endpoint),
            ).fetchone()
            if row is None:
                return None
            if self.store.execute("DELETE FROM faults WHERE seq = ?", (row[0],)).rowcount:
                return Fault(**json.loads(row[1]))  # else another process took it: the next

    def clear_faults(self, owner: str | None) -> int:
        """Drop queued faults (of one account, or all); answers how many queues were cleared."""
        with self.store.transaction():
            row = self.store.execute(
                "SELECT count(DISTINCT owner || ' ' || endpoint) FROM faults "
                "WHERE ?1 IS NULL OR owner = ?1",
                (owner,),
            ).fetchone()
            self.store.execute("DELETE FROM faults WHERE ?1 IS NULL OR owner = ?1", (owner,))
        return int(row[0])


def media_state(request: Request) -> MediaState:
    sb: SandboxState = request.app.state.sandbox
    state: MediaState = sb.extras["media"]
    return state


def sandbox(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


class DropConnection(Exception):
    """The request took effect; close the connection without an answer (a timeout, as seen
    by the caller)."""


class DropConnectionMiddleware:
    """Turns `DropConnection` into a closed connection: the response is started and never
    completed, so the HTTP server closes the socket ("ASGI callable returned without completing
    response") and the caller sees a transport error, as after a timeout."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except DropConnection:
            if not started:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", b"64"),
                        ],
                    }
                )


# --- request helpers ---------------------------------------------------------------------
async def graph_params(request: Request) -> dict[str, str]:
    """Meta reads parameters from the query string and the form body alike."""
    values: dict[str, str] = dict(request.query_params)
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            # What the form parser does for this content type (last value wins), without its
            # per-field callbacks.
            body = await request.body()
            values.update(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        elif "form" in content_type:
            form = await request.form()
            values.update({k: str(v) for k, v in form.items()})
        elif "json" in content_type:
            try:
                body = await request.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                for k, v in body.items():
                    values[k] = v if isinstance(v, str) else json.dumps(v)
    return values


def owner_check(sb: SandboxState, token: str | None, ig_user_id: str) -> SandboxUser:
    user, _ = sb.user_for_token(token)
    if user.ig_user_id != ig_user_id:
        raise GraphFault(
            f"Unsupported request: object with ID '{ig_user_id}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation",
            code=100,
            subcode=33,
        )
    return user


async def apply_fault(ms: MediaState, owner: str, endpoint: str) -> Fault | None:
    """The latency profile's delay, and latency and error faults act here; the fault is returned
    so that the caller can apply a `timeoutAfterEffect` (do the work, then raise
    `DropConnection`) or a `containerError`."""
    fault = ms.take_fault(owner, endpoint) if endpoint in FAULT_ENDPOINTS else None
    delay_ms = ms.latency.draw_ms(endpoint) + (fault.latency_ms if fault is not None else 0)
    if delay_ms > 0:
        with ms.waiting_call(owner):
            await asyncio.sleep(delay_ms / 1000)
    if fault is None:
        return None
    if fault.error is not None:
        raise GraphFault(
            str(fault.error.get("message") or "Fault injected by the sandbox"),
            code=int(fault.error.get("code") or 1),
            subcode=fault.error.get("subcode"),
            status=500 if int(fault.error.get("code") or 1) in (1, 2) else 400,
        )
    return fault


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
    user_tags = _json_list(params.get("user_tags"), "user_tags")
    if len(user_tags) > meta.USER_TAGS_MAX:
        raise GraphFault(
            f"(#100) A media can have at most {meta.USER_TAGS_MAX} user tags", code=100
        )
    for tag in user_tags:
        if not isinstance(tag, dict) or not tag.get("username"):
            raise GraphFault("(#100) Each user tag needs a username", code=100)
        for axis in ("x", "y"):
            if axis in tag and not meta.coordinate_ok(tag[axis]):
                raise GraphFault(f"(#100) user_tags {axis} must be between 0 and 1", code=100)
    product_tags = _json_list(params.get("product_tags"), "product_tags")
    if len(product_tags) > meta.PRODUCT_TAGS_MAX:
        raise GraphFault(
            f"(#100) A media can have at most {meta.PRODUCT_TAGS_MAX} product tags", code=100
        )
    for tag in product_tags:
        if not isinstance(tag, dict) or not tag.get("product_id"):
            raise GraphFault("(#100) Each product tag needs a product_id", code=100)
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


def _shortcode() -> str:
    alphabet = string.ascii_letters + string.digits + "_-"
    return "".join(secrets.choice(alphabet) for _ in range(11))


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


# --- Graph API routes --------------------------------------------------------------------
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


@router.post("/{version:graphver}/{ig_user_id}/media", tags=["Graph API"])
async def create_container(version: str, ig_user_id: str, request: Request) -> dict[str, Any]:
    sb, ms = sandbox(request), media_state(request)
    params = await graph_params(request)
    owner_check(sb, params.get("access_token"), ig_user_id)
    ms.count(ig_user_id, "media")
    fault = await apply_fault(ms, ig_user_id, "media")
    container = await _build_container(sb, ms, ig_user_id, params)
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


@router.get("/{version:graphver}/{ig_user_id}/media", tags=["Graph API"])
async def list_media(
    version: str, ig_user_id: str, request: Request, limit: int = 25
) -> dict[str, Any]:
    """The account's media, newest first."""
    sb, ms = sandbox(request), media_state(request)
    owner_check(sb, request.query_params.get("access_token"), ig_user_id)
    ms.count(ig_user_id, "list_media")
    await apply_fault(ms, ig_user_id, "list_media")
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


@router.post("/{version:graphver}/{ig_user_id}/media_publish", tags=["Graph API"])
async def media_publish(version: str, ig_user_id: str, request: Request) -> dict[str, Any]:
    sb, ms = sandbox(request), media_state(request)
    params = await graph_params(request)
    owner_check(sb, params.get("access_token"), ig_user_id)
    ms.count(ig_user_id, "media_publish")
    fault = await apply_fault(ms, ig_user_id, "media_publish")
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
    sb, ms = sandbox(request), media_state(request)
    owner_check(sb, request.query_params.get("access_token"), ig_user_id)
    ms.count(ig_user_id, "publishing_limit")
    await apply_fault(ms, ig_user_id, "publishing_limit")
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


def _owned_object(
    sb: SandboxState, ms: MediaState, object_id: str, token: str | None
) -> tuple[SandboxUser, Container | None, Media | None]:
    user, _ = sb.user_for_token(token)
    container = ms.containers.get(object_id)
    media = ms.media.get(object_id)
    owner = container.owner if container else media.owner if media else None
    if owner != user.ig_user_id:
        raise GraphFault(
            f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation",
            code=100,
            subcode=33,
        )
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


def install(app: FastAPI) -> None:
    """Called by `create_sandbox_app`: state, routes, the connection-dropping middleware."""
    sb: SandboxState = app.state.sandbox
    settings = getattr(app.state, "settings", None)
    ms = MediaState(sb.store)
    if settings is not None:
        ms.processing_seconds = video_processing_seconds(settings)
        ms.quota_total = int(settings.sandbox_publish_quota)
        ms.container_limit = int(settings.sandbox_container_limit)
        ms.latency = LatencyProfile.from_settings(settings)
        ms.max_hashtags = int(getattr(settings, "max_hashtags", meta.HASHTAGS_MAX))
    sb.extras["media"] = ms
    app.include_router(router)
    app.add_middleware(DropConnectionMiddleware)
