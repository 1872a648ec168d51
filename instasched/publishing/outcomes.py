"""How a publish attempt ends, each in one write fenced by the attempt's lease.

```
publishing ──media id (or published, id unknown)──> published (permalink, counts, reach read
                                                     first; the first comment after)
           ──retryable error, attempts left──> scheduled (next_attempt_at = now + base × 2^(n-1))
           ──permanent error / attempts used up──> failed (a message a person can act on)
```
The quota's wait and an expired connection are the account's errors (`publishing.account_errors`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from instasched.integrations.instagram import GraphClient, GraphError, GraphNewContainerNeeded
from instasched.kit.text import counted
from instasched.kit.time import utcnow
from instasched.models import InstagramAccount, PostStatus, ScheduledPost
from instasched.publishing import insights, repository
from instasched.publishing.attempt import Attempt, LeaseLost, Outcome

if TYPE_CHECKING:
    from instasched.publishing.service import Publisher

log = logging.getLogger("instasched.publishing")


async def succeed(
    publisher: Publisher,
    attempt: Attempt,
    account: InstagramAccount,
    token: str,
    media_id: str | None,
) -> Outcome:
    post = attempt.post
    graph = publisher.graph_for(attempt)
    # Permalink and initial counts are read before the one write that records success (a
    # crash in between is recovered through the container, which reads PUBLISHED).
    details, errors = await _media_details(post, graph, token, media_id)
    now = utcnow()
    meta = {**attempt.ended_meta(now, None), **errors}
    # The publication's time is media_publish's answer, not the end of the details' read.
    published_at = attempt.published_at or now
    async with attempt.lock, publisher.connect() as conn:
        ok = await repository.fenced_update(
            conn,
            post.id,
            lease=attempt.lease,
            values={
                **details,
                "status": PostStatus.PUBLISHED,
                "published_at": published_at,
                "instagram_media_id": media_id,
                "lease_expires_at": None,
                "next_attempt_at": None,
                "last_publish_error": None,
                "last_error_code": None,
                "meta": meta,
                "updated_at": now,
            },
        )
        if ok and media_id is not None:
            # Likes, reach... read again 1 h, 24 h and 7 d from now (publishing.insights);
            # the publication is recorded already, so a failure here is only logged.
            try:
                await insights.plan(
                    conn, post_id=post.id, media_type=post.media_type, published_at=published_at
                )
            except Exception:
                log.exception("insights readings not planned", extra={"post_id": str(post.id)})
    if not ok:
        raise LeaseLost
    publisher.events.published(
        post_id=post.id,
        account_id=post.instagram_account_id,
        media_type=post.media_type,
        attempt=post.publish_attempts or 1,
        media_id=media_id or "unknown",
    )
    if media_id is not None and post.first_comment and not post.first_comment_id:
        await _first_comment(publisher, post, graph, token, media_id, meta)
    return Outcome("published", detail=media_id)


async def _media_details(
    post: ScheduledPost, graph: GraphClient, token: str, media_id: str | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Permalink, media URL, initial likes/comments/reach; and the reads that failed, for the
    post's metadata (a failure is only noted)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if media_id is None:
        return values, errors
    reach: dict[str, int] | None = None
    try:
        if post.media_type.upper() == "STORIES":
            info = await graph.get_media(media_id, token)
        else:
            try:
                # Fields and insights in one call (Graph field expansion).
                info, reach = await graph.get_media_with_insights(
                    media_id, token, metrics=("reach",)
                )
            except GraphError as exc:
                # The nested insights edge fails the whole request (e.g. no insights
                # permission): note it, and read the fields alone.
                errors["insightsError"] = exc.human()
                info = await graph.get_media(media_id, token)
        values.update(
            instagram_media_url=info.media_url,
            permalink=info.permalink,
            initial_likes=info.like_count or 0,
            initial_comments=info.comments_count or 0,
        )
    except GraphError as exc:
        errors["mediaFieldsError"] = exc.human()
    if reach is not None:
        values["initial_reach"] = reach.get("reach", 0)
    return values, errors


async def _first_comment(
    publisher: Publisher,
    post: ScheduledPost,
    graph: GraphClient,
    token: str,
    media_id: str,
    meta: dict[str, Any],
) -> None:
    """After the publication is recorded; a failure un-publishes nothing."""
    assert post.first_comment is not None
    values: dict[str, Any] = {}
    try:
        values["first_comment_id"] = await graph.post_comment(media_id, post.first_comment, token)
    except GraphError as exc:
        values["meta"] = {**meta, "firstCommentError": exc.human()}
        log.warning(
            "first comment failed",
            extra={"post_id": str(post.id), "error_code": exc.code_label},
        )
    async with publisher.connect() as conn:
        await repository.update_published(conn, post.id, values=values)


async def retry(publisher: Publisher, attempt: Attempt, error: GraphError) -> Outcome:
    """Back to `scheduled` for a later attempt, or `failed` once the attempts are used up."""
    post = attempt.post
    settings = publisher.settings
    attempts = post.publish_attempts or 1
    if attempts >= settings.publish_max_attempts:
        # Not error.human(): its "we will try again" is untrue once the post has failed.
        cause = (error.explanation or "").split(";")[0].rstrip(".") or "Instagram refused"
        message = (
            f"Publishing failed after {counted(attempts, 'attempt')}. Last error: {cause} "
            f"(Instagram said: {error.message}; code {error.code_label})"
        )
        return await fail(publisher, attempt, message, error.code_label)
    now = utcnow()
    delay = settings.publish_retry_base_seconds * (2 ** (attempts - 1))
    due = now + timedelta(seconds=delay)
    values: dict[str, Any] = {
        "status": PostStatus.SCHEDULED,
        "next_attempt_at": due,
        "last_publish_error": error.human(),
        "last_error_code": error.code_label,
        "lease_expires_at": None,
        "meta": attempt.ended_meta(now, error.code_label),
        "updated_at": now,
    }
    if isinstance(error, GraphNewContainerNeeded):
        values.update(container_id=None, child_container_ids=[], container_created_at=None)
    await publisher.write(attempt, values)
    publisher.events.retry(
        post_id=post.id,
        account_id=post.instagram_account_id,
        media_type=post.media_type,
        attempt=attempts,
        code=error.code_label,
        message=error.human(),
        delay_seconds=delay,
    )
    return Outcome("retry", due_at=due, detail=error.code_label)


async def fail(publisher: Publisher, attempt: Attempt, message: str, code: str) -> Outcome:
    post = attempt.post
    now = utcnow()
    await publisher.write(
        attempt,
        {
            "status": PostStatus.FAILED,
            "failed_at": now,
            "last_publish_error": message,
            "last_error_code": code,
            "next_attempt_at": None,
            "lease_expires_at": None,
            "meta": attempt.ended_meta(now, code),
            "updated_at": now,
        },
    )
    publisher.events.failed(
        post_id=post.id,
        account_id=post.instagram_account_id,
        media_type=post.media_type,
        attempt=post.publish_attempts or 1,
        code=code,
        message=message,
    )
    return Outcome("failed", detail=message)
