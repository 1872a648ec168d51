"""A post's history: every event of a post in one timeline (table instagram_post_events).

Writers: the posts service (created, edited with the fields that changed, cancelled, published
now, retried, duplicated, imported), the publisher (each attempt, each Graph call with its
outcome, Meta's error code and `fbtrace_id`, then published / retry planned / quota wait /
failed) and the insights refresh (metrics read). Reader: GET .../posts/{postId}/history.

Writes are cheap on purpose: a new post's `created` event is part of the create's single INSERT
statement (posts.repository), the publisher writes an attempt's events in one INSERT after it
ends (`record_many`), and the other writers add one row in their own transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.db import driver_connection
from instasched.integrations.instagram.call_log import GraphCall


class Kind(StrEnum):
    CREATED = "created"
    EDITED = "edited"
    CANCELLED = "cancelled"
    PUBLISH_NOW = "publish_now"
    RETRIED = "retried"  # a failed post put back by its user (POST .../retry)
    # Drafts and approvals (issue 20 item 2, posts.approvals): the actor is who did it.
    SUBMITTED = "submitted"  # sent for approval (or scheduled, by a member who may approve)
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"  # sent back, with the approver's comment
    APPROVAL_EXPIRED = "approval_expired"  # its time came unapproved (the worker's sweep)
    STAGED = "staged"  # containers made ahead of the time (staging) write it
    ATTEMPT = "attempt"  # the worker claimed the post: publish attempt n starts
    GRAPH_CALL = "graph_call"
    PUBLISHED = "published"
    RETRY_PLANNED = "retry_planned"  # a transient error: the worker tries again later
    QUOTA_WAIT = "quota_wait"
    FAILED = "failed"
    METRICS_READ = "metrics_read"


@dataclass(frozen=True, slots=True)
class Event:
    post_id: uuid.UUID
    kind: str
    at: datetime | None = None  # None: the database clock when written
    actor_user_id: uuid.UUID | None = None
    attempt: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


_INSERT_MANY = (
    "INSERT INTO instagram_post_events (post_id, at, kind, actor_user_id, attempt, detail) "
    "SELECT p, coalesce(t, clock_timestamp()), k, a, n, d::jsonb FROM unnest("
    "$1::uuid[], $2::timestamptz[], $3::text[], $4::uuid[], $5::int[], $6::text[]"
    ") AS e(p, t, k, a, n, d)"
)


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


async def record_many(conn: Any, events: Sequence[Event]) -> None:
    """Write `events` in one statement on an asyncpg connection (the caller's transaction)."""
    if not events:
        return
    await conn.execute(
        _INSERT_MANY,
        [e.post_id for e in events],
        [e.at for e in events],
        [str(e.kind) for e in events],
        [e.actor_user_id for e in events],
        [e.attempt for e in events],
        [_json(e.detail) for e in events],
    )


async def record(
    session: AsyncSession,
    post_id: uuid.UUID,
    kind: Kind,
    *,
    actor_user_id: uuid.UUID | None = None,
    attempt: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """One event, in the session's transaction (it commits or rolls back with the change)."""
    conn = await driver_connection(session, write=True)
    await record_many(
        conn,
        [Event(post_id, kind, None, actor_user_id, attempt, dict(detail or {}))],
    )


def graph_call_events(
    post_id: uuid.UUID, attempt: int | None, graph_calls: Iterable[GraphCall]
) -> list[Event]:
    """One event per Graph call; a run of identical calls with the same outcome (a container
    polled while IN_PROGRESS) is one event with its `count` and the last call's duration."""
    events: list[Event] = []
    last_key: tuple[Any, ...] | None = None
    for call in graph_calls:
        detail = call.as_detail()
        key = (call.method, call.path, call.http_status, call.error_code, orjson.dumps(call.result))
        if key == last_key and events:
            previous = events[-1]
            previous.detail["count"] = int(previous.detail.get("count", 1)) + 1
            previous.detail["durationMs"] = detail["durationMs"]
            continue
        last_key = key
        events.append(Event(post_id, Kind.GRAPH_CALL, call.at, None, attempt, detail))
    return events


# --- changes --------------------------------------------------------------------------------
# The fields an edit can change, by attribute, as the API names them.
EDITABLE = {
    "scheduled_for": "scheduledFor",
    "caption": "caption",
    "media_type": "mediaType",
    "media_ids": "mediaIds",
    "product_tags": "productTags",
    "user_tags": "userTags",
    "collaborators": "collaborators",
    "first_comment": "firstComment",
    "alt_text": "altText",
    "cover_url": "coverUrl",
    "thumb_offset_ms": "thumbOffsetMs",
    "share_to_feed": "shareToFeed",
    "location_id": "locationId",
    "template_id": "templateId",
    "template_variables": "templateVariables",
}


def snapshot(post: Any) -> dict[str, Any]:
    return {attr: _plain(getattr(post, attr, None)) for attr in EDITABLE}


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """{apiName: {"from": old, "to": new}} for every field whose value changed."""
    return {
        EDITABLE[attr]: {"from": before[attr], "to": after[attr]}
        for attr in EDITABLE
        if before.get(attr) != after.get(attr)
    }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


# --- reading --------------------------------------------------------------------------------
_READ = (
    "SELECT id, at, kind, actor_user_id, attempt, detail FROM instagram_post_events "
    "WHERE post_id = $1 ORDER BY at, id LIMIT $2"
)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    at: datetime
    kind: str
    actor_user_id: uuid.UUID | None
    attempt: int | None
    detail: dict[str, Any]


async def read(session: AsyncSession, *, post_id: uuid.UUID, limit: int) -> list[StoredEvent]:
    """The post's events, oldest first (the caller checked that the post is the user's)."""
    conn = await driver_connection(session)
    rows = await conn.fetch(_READ, post_id, limit)
    return [
        StoredEvent(
            id=r["id"],
            at=r["at"],
            kind=r["kind"],
            actor_user_id=r["actor_user_id"],
            attempt=r["attempt"],
            detail=_detail(r["detail"]),
        )
        for r in rows
    ]


def _detail(value: Any) -> dict[str, Any]:
    if isinstance(value, str):  # a connection without the JSON codec
        value = orjson.loads(value)
    return dict(value or {})


# --- what a person reads --------------------------------------------------------------------
def summary(kind: str, attempt: int | None, detail: Mapping[str, Any]) -> str:
    """One sentence per event, for the timeline."""
    n = f" {attempt}" if attempt else ""
    if kind == Kind.CREATED:
        source = detail.get("source")
        if source == "import":
            return f"Created by a CSV import (row {detail.get('row')})"
        if source == "duplicate":
            return f"Created as a draft copy of post {detail.get('duplicatedFrom')}"
        return {
            "draft": "Created as a draft",
            "needs_approval": "Created and submitted for approval",
        }.get(str(detail.get("status")), "Created and scheduled")
    if kind == Kind.EDITED:
        names = ", ".join(sorted(detail.get("changed", {}))) or "nothing"
        return f"Edited: {names}"
    if kind == Kind.CANCELLED:
        return "Cancelled"
    if kind == Kind.PUBLISH_NOW:
        return "Publish now requested"
    if kind == Kind.RETRIED:
        return f"Retry requested for {detail.get('scheduledFor')}"
    if kind == Kind.SUBMITTED:
        if detail.get("to") == "scheduled":
            return f"Scheduled for {detail.get('scheduledFor')}"
        return f"Submitted for approval (for {detail.get('scheduledFor')})"
    if kind == Kind.APPROVED:
        comment = detail.get("comment")
        return f"Approved for {detail.get('scheduledFor')}" + (f": {comment}" if comment else "")
    if kind == Kind.CHANGES_REQUESTED:
        return f"Sent back for changes: {detail.get('comment')}"
    if kind == Kind.APPROVAL_EXPIRED:
        return "Not published: it was not approved before its time"
    if kind == Kind.STAGED:
        message = detail.get("message")
        return {
            "staged": "Staged: Instagram container made ahead of time, ready to publish",
            "failed": f"Staging ahead failed: {message}",
            "deferred": f"Not staged ahead: {message}" if message else "Not staged ahead",
        }.get(str(detail.get("result")), f"Staging ahead: {detail.get('result')}")
    if kind == Kind.ATTEMPT:
        return f"Publish attempt{n} started" + (
            " (recovering after a worker stopped)" if detail.get("recovering") else ""
        )
    if kind == Kind.GRAPH_CALL:
        what = f"{detail.get('method')} {detail.get('endpoint')}"
        count = detail.get("count")
        times = f" ×{count}" if count else ""
        if detail.get("ok"):
            result = detail.get("result") or {}
            shown = ", ".join(f"{k} {v}" for k, v in result.items())
            return f"Instagram {what}{times}: OK" + (f" ({shown})" if shown else "")
        trace = detail.get("fbtraceId")
        return (
            f"Instagram {what}{times}: error {detail.get('errorCode')}: {detail.get('message')}"
            + (f" (fbtrace_id {trace})" if trace else "")
        )
    if kind == Kind.PUBLISHED:
        link = detail.get("permalink")
        return "Published" + (f": {link}" if link else "")
    if kind == Kind.RETRY_PLANNED:
        when = detail.get("nextAttemptAt")
        return f"Attempt{n} did not publish; next try at {when}: {detail.get('message')}"
    if kind == Kind.QUOTA_WAIT:
        return f"Publishing limit reached; waiting until {detail.get('nextAttemptAt')}"
    if kind == Kind.FAILED:
        return f"Failed: {detail.get('message')}"
    if kind == Kind.METRICS_READ:
        return f"Metrics read ({detail.get('checkpoint')})"
    return kind.replace("_", " ").capitalize()
