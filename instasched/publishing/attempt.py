"""One publish attempt (or staging) in flight, what it can end in, and the errors that stop it.

Shared by the orchestration (`publishing.service.Publisher`), the container steps
(`publishing.containers`, `publishing.sequence`), the outcomes (`publishing.outcomes`,
`publishing.account_errors`), staging (`publishing.stager`) and the post's history
(`publishing.timeline`).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from instasched.integrations.instagram import (
    GraphClient,
    GraphNewContainerNeeded,
    GraphRetryableError,
)
from instasched.models import InstagramAccount, MediaAsset, ScheduledPost

OutcomeKind = Literal[
    "published", "retry", "rescheduled", "failed", "skipped", "not_due", "other_account"
]


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    due_at: datetime | None = None
    detail: str | None = None


class InternalError(GraphRetryableError):
    """Our side failed (storage, database, a bug): retried like a transient Graph error."""

    @property
    def code_label(self) -> str:
        return "internal"


class ContainerFailed(GraphNewContainerNeeded):
    """A container ended ERROR/EXPIRED while we waited for it: make a new one next attempt."""

    @property
    def code_label(self) -> str:
        return "container_error"


class LeaseLost(Exception):
    """Another worker took the post over; stop without writing."""


@dataclass
class Attempt:
    post: ScheduledPost
    lease: datetime
    recovering: bool = False
    lost: bool = False
    # Writes and lease renewals take turns: a renewal changes the fencing value.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    account: InstagramAccount | None = None
    assets: dict[uuid.UUID, MediaAsset] | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    # The Graph client of the account's login kind (its host), set once the account is read.
    graph: GraphClient | None = None
    # Staging ahead of the due time (publishing.staging): the fence is the staging lease of a
    # `scheduled` post, not the lease of a `publishing` one.
    staging: bool = False
    # When media_publish answered (the publication's time), before its details are read.
    published_at: datetime | None = None

    @property
    def post_id(self) -> uuid.UUID:
        return self.post.id

    def ended_meta(self, now: datetime, error_code: str | None) -> dict[str, Any]:
        """The post's metadata once this attempt ends: its notes, and its entry in `attempts`
        (with the error's code, if it ended in one)."""
        post = self.post
        meta = dict(post.meta or {})
        meta.update(self.notes)
        note: dict[str, Any] = {
            "attempt": post.publish_attempts or 1,
            "startedAt": (post.publishing_started_at or now).isoformat(),
            "endedAt": now.isoformat(),
        }
        if error_code is not None:
            note["error"] = error_code
        meta["attempts"] = [*meta.get("attempts", []), note]
        return meta
