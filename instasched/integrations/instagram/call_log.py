"""Which Graph calls a unit of work made, and how each ended (a post's history).

The publisher wraps one publish attempt in `recorded()`; every `GraphClient.request` made inside
it (also from tasks it starts: they inherit the context) appends a `GraphCall`. Outside
`recorded()` nothing is kept, so other callers pay one context-variable read per call.
Tokens are never recorded: only the method, the path (ids, no query) and the outcome.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from instasched.integrations.instagram.errors import GraphError

# Values of an answer worth keeping in a history (ids made, a container's state).
_RESULT_KEYS = ("id", "status_code")


@dataclass(frozen=True, slots=True)
class GraphCall:
    at: datetime
    method: str
    path: str
    http_status: int | None
    duration_ms: float
    result: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    fbtrace_id: str | None = None
    retryable: bool | None = None

    def as_detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "method": self.method,
            "endpoint": self.path,
            "httpStatus": self.http_status,
            "durationMs": round(self.duration_ms, 1),
            "ok": self.error_code is None,
        }
        if self.result:
            detail["result"] = self.result
        if self.error_code is not None:
            detail.update(
                errorCode=self.error_code,
                message=self.error_message,
                fbtraceId=self.fbtrace_id,
                retryable=self.retryable,
            )
        elif self.fbtrace_id:
            detail["fbtraceId"] = self.fbtrace_id
        return detail


_CALLS: ContextVar[list[GraphCall] | None] = ContextVar("instasched_graph_calls", default=None)


@contextlib.contextmanager
def recorded() -> Iterator[list[GraphCall]]:
    """Collect the Graph calls made inside the block (in order of their answers)."""
    calls: list[GraphCall] = []
    token = _CALLS.set(calls)
    try:
        yield calls
    finally:
        _CALLS.reset(token)


def recording() -> bool:
    return _CALLS.get() is not None


def note(
    *,
    started: datetime,
    method: str,
    path: str,
    duration_ms: float,
    http_status: int | None,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    error: GraphError | None = None,
) -> None:
    calls = _CALLS.get()
    if calls is None:
        return
    trace = headers.get("x-fb-trace-id") if headers is not None else None
    result = None
    if error is None and isinstance(body, dict):
        result = {k: body[k] for k in _RESULT_KEYS if isinstance(body.get(k), str | int)} or None
    calls.append(
        GraphCall(
            at=started,
            method=method,
            path=path.split("?", 1)[0].strip("/") or "/",
            http_status=http_status,
            duration_ms=duration_ms,
            result=result,
            error_code=error.code_label if error is not None else None,
            error_message=error.message if error is not None else None,
            fbtrace_id=(error.fbtrace_id if error is not None else None) or trace,
            retryable=error.retryable if error is not None else None,
        )
    )


def now() -> datetime:
    return datetime.now(UTC)
