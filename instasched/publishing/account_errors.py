"""The two Graph errors about the account rather than the post, and what they do beyond it.

```
publishing ──quota (9/2207042)──> scheduled (next_attempt_at = when the 24 h window frees, or a
                                   doubling wait while Meta's limit says there is room; the
                                   attempt is given back; the limit read is stored on the account)
           ──190 (connection expired or revoked)──> failed, and the account marked as needing
                                   re-authentication, its other due posts failed with it
```
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from instasched.integrations.instagram import GraphAuthError, GraphError, GraphQuotaError
from instasched.kit.time import utcnow
from instasched.models import InstagramAccount, PostStatus
from instasched.publishing import repository, timeline
from instasched.publishing.attempt import Attempt, Outcome
from instasched.publishing.outcomes import fail

if TYPE_CHECKING:
    from instasched.publishing.service import Publisher

log = logging.getLogger("instasched.publishing")

QUOTA_FALLBACK = timedelta(hours=1)
QUOTA_RECHECK_MIN_SECONDS = 0.1
QUOTA_WINDOW = timedelta(hours=24)
REAUTH_MESSAGE = (
    "The Instagram connection of @{username} has expired or was revoked. Reconnect the account "
    "(Instagram accounts → reconnect), then reschedule this post."
)

QuotaWaitReason = Literal["window_full", "limit_has_room"]


async def quota_wait(
    publisher: Publisher,
    attempt: Attempt,
    account: InstagramAccount,
    token: str,
    error: GraphQuotaError,
) -> Outcome:
    """Back to `scheduled` until the account may publish again; the attempt is given back."""
    post = attempt.post
    now = utcnow()
    meta = attempt.ended_meta(now, error.code_label)
    waits = int(meta.get("quotaWaits", 0)) + 1
    due, reason = await _quota_frees_at(publisher, account, token, now, waits=waits)
    meta["quotaWaits"] = waits
    await publisher.write(
        attempt,
        {
            "status": PostStatus.SCHEDULED,
            "next_attempt_at": due,
            # A quota wait is not a failed attempt: give it back.
            "publish_attempts": max(0, (post.publish_attempts or 1) - 1),
            "last_publish_error": error.human()
            + f" Next try: {due.strftime('%Y-%m-%d %H:%M UTC')}.",
            "last_error_code": error.code_label,
            "lease_expires_at": None,
            "meta": meta,
            "updated_at": now,
        },
    )
    publisher.events.graph_error(error.code_label)
    publisher.events.rescheduled(
        post_id=post.id,
        account_id=post.instagram_account_id,
        media_type=post.media_type,
        code=error.code_label,
        until=due.isoformat(),
        reason=reason,
        waits=waits,
    )
    return Outcome("rescheduled", due_at=due, detail=error.code_label)


async def _quota_frees_at(
    publisher: Publisher, account: InstagramAccount, token: str, now: datetime, *, waits: int
) -> tuple[datetime, QuotaWaitReason]:
    """When the moving 24 h window lets one more post through, and why we wait.

    Meta tells the usage and the total, not when the oldest publication leaves the window;
    our own publications of the last 24 h tell that (Instagram's app may add more, hence
    the fallback of one hour). When Meta's limit says there is room although media_publish
    refused, the post waits `PUBLISH_RETRY_BASE_SECONDS` doubled at each such wait (its
    `waits`-th), at most the fallback: re-asking every second made a media_publish call a
    second for as long as Meta disagreed with itself.
    """
    window = QUOTA_WINDOW
    total: int | None = None
    usage: int | None = None
    try:
        limit = await publisher.graph.for_kind(account.login_kind).publishing_limit(
            account.ig_user_id, token
        )
        total, usage = limit.quota_total, limit.quota_usage
        if limit.quota_duration:
            window = timedelta(seconds=limit.quota_duration)
    except GraphError:
        pass
    if total is not None and usage is not None and usage < total:
        base = max(QUOTA_RECHECK_MIN_SECONDS, publisher.settings.publish_retry_base_seconds)
        delay = min(QUOTA_FALLBACK.total_seconds(), base * 2 ** min(waits - 1, 32))
        return now + timedelta(seconds=delay), "limit_has_room"
    async with publisher.connect() as conn:
        if total:  # what later placements of the account's posts are checked against
            await repository.store_publishing_quota(
                conn, account_id=account.id, quota=total, now=now
            )
        ours = await repository.published_since(conn, account_id=account.id, since=now - window)
    if ours:
        excess = 0
        if total is not None and usage is not None:
            excess = max(0, usage - total)
        index = min(excess, len(ours) - 1)
        return max(ours[index] + window, now + timedelta(seconds=1)), "window_full"
    return now + QUOTA_FALLBACK, "window_full"


async def needs_reauth(
    publisher: Publisher,
    attempt: Attempt,
    account: InstagramAccount,
    error: GraphAuthError | None,
) -> Outcome:
    """The account's connection expired or was revoked (None: known already, or its token
    cannot be read): the account is marked, and this post and its other due posts fail."""
    message = REAUTH_MESSAGE.format(username=account.username)
    if error is not None:
        message += f" (Instagram said: {error.message}; code {error.code_label})"
    code = error.code_label if error is not None else "190"
    async with publisher.connect() as conn:
        others = await repository.mark_needs_reauth(
            conn, account_id=account.id, now=utcnow(), message=message, code=code
        )
    await timeline.record_failed_together(publisher, others, message=message, code=code)
    if others:
        log.warning(
            "failed the account's due posts: the account needs re-authentication",
            extra={"account_id": str(account.id), "post_ids": [str(p) for p in others]},
        )
    if not account.needs_reauth:
        publisher.events.needs_reauth(account_id=account.id, username=account.username)
    return await fail(publisher, attempt, message, code)
