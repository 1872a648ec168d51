"""Bodies of a post's history, retry, duplicate and the CSV import (issue 20 items 3-5)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from instasched.kit import examples as ex
from instasched.kit.schemas import ApiModel, RequestModel, examples
from instasched.posts.schemas import POST_EXAMPLE

_TRACE = "AbCdEf0123456789xyz"
_FAILED_CALL = {
    "method": "POST",
    "endpoint": "17841400000000000/media_publish",
    "httpStatus": 400,
    "durationMs": 412.3,
    "ok": False,
    "errorCode": "100/2207051",
    "message": "The action is blocked",
    "fbtraceId": _TRACE,
    "retryable": False,
}
_EVENTS: list[dict[str, Any]] = [
    {
        "id": 1,
        "at": ex.POST_CREATED_AT,
        "kind": "created",
        "actorUserId": ex.USER_ID,
        "attempt": None,
        "summary": "Created and scheduled",
        "detail": {"scheduledFor": ex.SCHEDULED_FOR},
    },
    {
        "id": 2,
        "at": "2026-12-01T10:02:00Z",
        "kind": "edited",
        "actorUserId": ex.USER_ID,
        "attempt": None,
        "summary": "Edited: firstComment",
        "detail": {"changed": {"firstComment": {"from": None, "to": "Link in bio"}}},
    },
    {
        "id": 3,
        "at": "2026-12-20T14:00:01Z",
        "kind": "attempt",
        "actorUserId": None,
        "attempt": 1,
        "summary": "Publish attempt 1 started",
        "detail": {},
    },
    {
        "id": 4,
        "at": "2026-12-20T14:00:02Z",
        "kind": "graph_call",
        "actorUserId": None,
        "attempt": 1,
        "summary": "Instagram POST 17841400000000000/media: OK (id 17889455560051444)",
        "detail": {
            "method": "POST",
            "endpoint": "17841400000000000/media",
            "httpStatus": 200,
            "durationMs": 380.1,
            "ok": True,
            "result": {"id": "17889455560051444"},
        },
    },
    {
        "id": 5,
        "at": "2026-12-20T14:00:03Z",
        "kind": "graph_call",
        "actorUserId": None,
        "attempt": 1,
        "summary": "Instagram POST 17841400000000000/media_publish: error 100/2207051: The "
        f"action is blocked (fbtrace_id {_TRACE})",
        "detail": _FAILED_CALL,
    },
    {
        "id": 6,
        "at": "2026-12-20T14:00:04Z",
        "kind": "failed",
        "actorUserId": None,
        "attempt": 1,
        "summary": "Failed: Instagram blocked this action (the content may break its rules).",
        "detail": {
            "message": "Instagram blocked this action (the content may break its rules).",
            "errorCode": "100/2207051",
            "fbtraceId": _TRACE,
        },
    },
]


class PostEventOut(ApiModel):
    model_config = examples(_EVENTS[1], _EVENTS[4])

    id: int
    at: datetime
    kind: str = Field(
        description="created, edited, cancelled, publish_now, retried, approved, staged, "
        "attempt, graph_call, published, retry_planned, quota_wait, failed, metrics_read"
    )
    actor_user_id: uuid.UUID | None = Field(description="The user who did it; null for the worker")
    attempt: int | None = Field(description="The publish attempt the event belongs to")
    summary: str = Field(description="One sentence for a person")
    detail: dict[str, Any] = Field(
        description="edited: `changed` {field: {from, to}}; graph_call: method, endpoint, "
        "httpStatus, durationMs, ok, result, errorCode, message, fbtraceId, retryable, count "
        "(identical polls in a row); retry_planned/quota_wait: nextAttemptAt; failed: message, "
        "errorCode, fbtraceId; created: source (api, import, duplicate)"
    )


class PostHistory(ApiModel):
    model_config = examples(
        {
            "postId": ex.POST_ID,
            "status": "failed",
            "lastPublishError": "Instagram blocked this action (the content may break its rules).",
            "lastErrorCode": "100/2207051",
            "events": _EVENTS,
        }
    )

    post_id: uuid.UUID
    status: str
    last_publish_error: str | None
    last_error_code: str | None
    events: list[PostEventOut] = Field(description="Oldest first")


class PostRetry(RequestModel):
    """Retry a failed post in place (same post id)."""

    model_config = examples({}, {"scheduledFor": "2026-12-21T09:30:00", "allowOverQuota": False})

    scheduled_for: str | None = Field(
        None,
        description="When to try again (ISO 8601; no offset: the account's timezone; at least "
        "SCHEDULE_MIN_LEAD_SECONDS ahead). Without it: in a few seconds",
    )
    allow_over_quota: bool | None = Field(
        None, description="Save it even when the time is over the publishing quota"
    )


class PostSubmit(RequestModel):
    """Submit a draft (or a post sent back, or expired) for approval, or schedule it."""

    model_config = examples({}, {"scheduledFor": "2026-12-21T09:30:00Z"})

    scheduled_for: str | None = Field(
        None,
        description="Its time (ISO 8601; no offset: the account's timezone), if it has none yet "
        "or it changes; at least SCHEDULE_MIN_LEAD_SECONDS ahead",
    )
    allow_over_quota: bool | None = Field(
        None, description="Schedule it even when the time is over the publishing quota"
    )


class PostApprove(RequestModel):
    """Approve a post awaiting approval: it is scheduled (and queued) at its time."""

    model_config = examples({}, {"comment": "Lovely, ship it"})

    comment: str | None = Field(None, max_length=2000, description="Kept on the post")
    scheduled_for: str | None = Field(
        None,
        description="A new time (required for an approval_expired post, whose time passed)",
    )
    allow_over_quota: bool | None = Field(
        None, description="Schedule it even when the time is over the publishing quota"
    )


class PostReject(RequestModel):
    """Send a post back to its author with what to change."""

    model_config = examples({"comment": "Please use the red sweater photo instead"})

    comment: str = Field(
        min_length=1, max_length=2000, description="What to change (shown to the author)"
    )


class PostDuplicate(RequestModel):
    """A copy of the post as a new draft (with the time given, if any)."""

    model_config = examples(
        {"scheduledFor": "2026-12-27T14:00:00Z"},
        {"useNextSlot": True, "instagramAccountId": ex.ACCOUNT_ID},
    )

    scheduled_for: str | None = Field(
        None, description="The draft's time (ISO 8601; optional: a draft needs none)"
    )
    use_next_slot: bool = Field(False, description="Instead: the next free slot of the schedule")
    instagram_account_id: uuid.UUID | None = Field(
        None, description="Another of your accounts to post the copy on (default: the same)"
    )
    allow_over_quota: bool | None = None


_ROW_OK: dict[str, Any] = {
    "row": 2,
    "valid": True,
    "problems": [],
    "postId": None,
    "scheduledFor": ex.SCHEDULED_FOR,
    "status": None,
}
_PROBLEMS: list[dict[str, Any]] = [
    {"column": "account", "message": "No account @knits.paris among your Instagram accounts"},
    {"column": "time", "message": "time is not an ISO 8601 date-time: 'tomorrow'"},
]
_ROW_BAD: dict[str, Any] = {
    "row": 3,
    "valid": False,
    "problems": _PROBLEMS,
    "postId": None,
    "scheduledFor": None,
    "status": None,
}


class ImportProblem(ApiModel):
    model_config = examples(_PROBLEMS[0])

    column: str = Field(description="The CSV column (or `row` for the row as a whole)")
    message: str


class ImportRow(ApiModel):
    model_config = examples(_ROW_OK, _ROW_BAD)

    row: int = Field(description="Line number in the file (the header is line 1)")
    valid: bool
    problems: list[ImportProblem]
    post_id: uuid.UUID | None = Field(description="The post made from the row (commit only)")
    scheduled_for: datetime | None = Field(description="The row's time, in UTC, when it parsed")
    status: str | None = Field(
        None,
        description="The saved post's status (commit only): `scheduled`, or `needs_approval` "
        "when an editor imports into a workspace that requires approval",
    )


class ImportReport(ApiModel):
    model_config = examples(
        {
            "dryRun": True,
            "mode": "valid",
            "committed": False,
            "total": 2,
            "valid": 1,
            "invalid": 1,
            "created": 0,
            "rows": [_ROW_OK, _ROW_BAD],
        },
        {
            "dryRun": False,
            "mode": "valid",
            "committed": True,
            "total": 2,
            "valid": 1,
            "invalid": 1,
            "created": 1,
            "rows": [{**_ROW_OK, "postId": POST_EXAMPLE["id"]}, _ROW_BAD],
        },
    )

    dry_run: bool
    mode: Literal["valid", "all"] = Field(
        description="valid: the valid rows are saved, the others reported; all: nothing is "
        "saved unless every row is valid"
    )
    committed: bool = Field(description="Whether posts were saved")
    total: int
    valid: int
    invalid: int
    created: int
    rows: list[ImportRow]
