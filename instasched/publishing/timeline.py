"""A publish attempt in the post's history (posts.history): the attempt, each Graph call it
made, and how it ended. Written in one INSERT after the attempt, so the attempt itself makes no
extra round trip; a failure to write is logged, never a failed publication."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from instasched.db import is_connection_error
from instasched.integrations.instagram.call_log import GraphCall
from instasched.kit.time import utcnow
from instasched.posts.history import Event, Kind, graph_call_events, record_many

if TYPE_CHECKING:
    from instasched.publishing.attempt import Attempt, Outcome
    from instasched.publishing.service import Publisher

log = logging.getLogger("instasched.publishing")


def attempt_events(
    attempt: Attempt, graph_calls: Sequence[GraphCall], outcome: Outcome | None
) -> list[Event]:
    post = attempt.post
    number = post.publish_attempts or None
    started = post.publishing_started_at or (graph_calls[0].at if graph_calls else None)
    start_detail: dict[str, Any] = {}
    if attempt.recovering:
        start_detail["recovering"] = True
    if post.container_id:
        start_detail["containerId"] = post.container_id
    events = [Event(post.id, Kind.ATTEMPT, started, None, number, start_detail)]
    events.extend(graph_call_events(post.id, number, graph_calls))
    failed_calls = [c for c in graph_calls if c.error_code is not None]
    last_error = failed_calls[-1] if failed_calls else None
    error: dict[str, Any] = {}
    if last_error is not None:
        error = {"errorCode": last_error.error_code, "fbtraceId": last_error.fbtrace_id}
    detail: dict[str, Any]
    if outcome is None:  # the worker stopped or lost the database mid-attempt
        kind, detail = Kind.RETRY_PLANNED, {"message": "The attempt was interrupted", **error}
    elif outcome.kind == "published":
        kind, detail = Kind.PUBLISHED, {"mediaId": outcome.detail}
        detail.update({k: v for k, v in attempt.notes.items() if isinstance(v, str | bool)})
    elif outcome.kind == "retry":
        kind = Kind.RETRY_PLANNED
        detail = {
            "nextAttemptAt": outcome.due_at.isoformat() if outcome.due_at else None,
            "message": last_error.error_message if last_error else outcome.detail,
            **error,
            "errorCode": outcome.detail,
        }
    elif outcome.kind == "rescheduled":
        kind = Kind.QUOTA_WAIT
        detail = {"nextAttemptAt": outcome.due_at.isoformat() if outcome.due_at else None, **error}
    elif outcome.kind == "failed":
        kind, detail = Kind.FAILED, {"message": outcome.detail, **error}
    else:  # skipped: another worker owns the post now
        kind, detail = Kind.RETRY_PLANNED, {"message": f"Attempt stopped: {outcome.detail}"}
    events.append(Event(post.id, kind, utcnow(), None, number, detail))
    return events


async def record_attempt(
    publisher: Publisher,
    attempt: Attempt,
    graph_calls: Sequence[GraphCall],
    outcome: Outcome | None,
) -> None:
    await _write(
        publisher, [attempt.post.id], lambda: attempt_events(attempt, graph_calls, outcome)
    )


def staging_events(
    attempt: Attempt, graph_calls: Sequence[GraphCall], outcome: Outcome
) -> list[Event]:
    """A staging ahead of the due time (publishing.stager): its Graph calls, then a `staged`
    event whose detail says how it ended (staged, failed, deferred, or again later)."""
    post = attempt.post
    result = "failed" if outcome.kind == "failed" else outcome.detail or outcome.kind
    detail: dict[str, Any] = {"result": result}
    if attempt.notes.get("message"):
        detail["message"] = attempt.notes["message"]
    events = graph_call_events(post.id, None, graph_calls)
    events.append(Event(post.id, Kind.STAGED, utcnow(), None, None, detail))
    return events


async def record_staging(
    publisher: Publisher, attempt: Attempt, graph_calls: Sequence[GraphCall], outcome: Outcome
) -> None:
    await _write(
        publisher, [attempt.post.id], lambda: staging_events(attempt, graph_calls, outcome)
    )


async def record_failed_together(
    publisher: Publisher, post_ids: Sequence[Any], *, message: str, code: str
) -> None:
    """Due posts of an account that needs reconnecting, failed without an attempt of their own."""
    if not post_ids:
        return
    now = utcnow()
    await _write(
        publisher,
        post_ids,
        lambda: [
            Event(post_id, Kind.FAILED, now, None, None, {"message": message, "errorCode": code})
            for post_id in post_ids
        ],
    )


async def _write(
    publisher: Publisher, post_ids: Sequence[Any], events: Callable[[], list[Event]]
) -> None:
    """Write the events `events()` makes in one INSERT; a failure (making or writing them) is
    logged, never a failed publication."""
    try:
        made = events()
        async with publisher.connect() as conn:
            await record_many(conn, made)
    except Exception as exc:
        _not_written(exc, post_ids=post_ids)


def _not_written(exc: Exception, *, post_ids: Sequence[Any]) -> None:
    extra = {"post_ids": [str(p) for p in post_ids]}
    if is_connection_error(exc):  # the database is down: the publisher says so already
        log.warning("post history not written: database unavailable", extra=extra)
    else:
        log.exception("post history not written", extra=extra)
