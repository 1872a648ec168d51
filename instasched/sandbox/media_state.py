"""The sandbox's media state and what every Graph route of publishing shares.

Containers, published media and queued faults (`Container`, `Media`, `Fault`), kept in the
sandbox's SQLite store by `MediaState` (also quotas, the 400 containers per 24 h, call counts
and the calls waiting out an added latency); the path convertors of the Graph routes
(`graphver`, `igobject`); reading Meta's parameters from the query or the form
(`graph_params`), the owner check, and the latency and faults of `apply_fault`; and
`DropConnection`, a request that took effect and answers nothing (a timeout to the caller).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.convertors import Convertor, register_url_convertor
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from instasched.integrations.instagram import publish_rules as meta
from instasched.sandbox.latency import LatencyProfile
from instasched.sandbox.state import (
    GraphFault,
    Records,
    SandboxState,
    SandboxStore,
    owner_check,
    sandbox,
)

CONTAINER_TTL_SECONDS = 24 * 3600
QUOTA_WINDOW_SECONDS = 24 * 3600
INLINE_INSPECT_BYTES = 1024 * 1024
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
        # Any scope: only an HTTP request raises DropConnection (a lifespan passes through).
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


@dataclass
class AccountCall:
    """A Graph call on an account's edge, once started by `account_call`."""

    sb: SandboxState
    ms: MediaState
    params: dict[str, str]
    fault: Fault | None


async def account_call(request: Request, ig_user_id: str, endpoint: str) -> AccountCall:
    """Start a Graph call on `/{ig_user_id}/...`: its parameters (the query, and a POST's form),
    the token's owner checked (code 100 / 33 otherwise), the call counted (`GET /_control/calls`),
    the added latency and a queued fault applied (`apply_fault`)."""
    sb, ms = sandbox(request), media_state(request)
    params = await graph_params(request)
    owner_check(sb, params.get("access_token"), ig_user_id)
    ms.count(ig_user_id, endpoint)
    return AccountCall(sb, ms, params, await apply_fault(ms, ig_user_id, endpoint))


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
