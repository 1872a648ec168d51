"""Post insights read again after publishing: 1 h, 24 h and 7 d after the publication.

At publication the worker plans one reading per checkpoint (`instagram_post_insights`, state
`pending`). Every `INSIGHTS_REFRESH_INTERVAL_SECONDS` each worker process runs `refresh_due`: it
claims at most `INSIGHTS_BATCH_SIZE` due readings (`FOR UPDATE SKIP LOCKED`, so processes never
share a row; the claim moves `due_at` on by a lease), reads `GET /{media-id}/insights` with
Meta's current metric names (views, reach, likes, comments, shares, saved, total_interactions),
and keeps the figures in the row. The 24 h figure is what optimal_times ranks by.

- A rate-limit answer (codes 4, 17, 32, 613, 80001-80014) stops the pass: the unread claims are
  given back and every worker pauses reading for `RATE_LIMIT_PAUSE` (a Redis key). The Graph
  client also slows down on its own when the usage headers pass 90 %.
- A media that no longer exists (code 100 / sub-code 33: deleted on Instagram) stops the
  post's remaining readings; so does any other permanent refusal.
- Transient errors retry with backoff, at most `MAX_ATTEMPTS` per reading; an account that
  needs re-authentication is looked at again every `REAUTH_WAIT`.

Stories are not planned: their insights vanish with the story after 24 h and carry other metrics.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.db import driver_connection
from instasched.integrations.instagram import (
    GraphAuthError,
    GraphError,
    GraphPermanentError,
    GraphRetryableError,
)
from instasched.integrations.instagram.errors import RATE_LIMIT_CODES
from instasched.kit.time import utcnow
from instasched.posts import history
from instasched.posts import repository as posts_repository
from instasched.publishing import insights_repository as repository
from instasched.publishing.schemas import InitialCounts, InsightReading, PostInsights
from instasched.state import AppState

log = logging.getLogger("instasched.insights")

CHECKPOINTS: tuple[tuple[str, timedelta], ...] = (
    ("1h", timedelta(hours=1)),
    ("24h", timedelta(hours=24)),
    ("7d", timedelta(days=7)),
)
NOT_PLANNED = frozenset({"STORIES"})
CLAIM_LEASE = timedelta(minutes=5)
RETRY_BASE = timedelta(minutes=10)
REAUTH_WAIT = timedelta(hours=6)
RATE_LIMIT_PAUSE = timedelta(minutes=15)
MAX_ATTEMPTS = 5
PAUSE_KEY = "instasched:insights-pause"
MEDIA_GONE = "The media no longer exists on Instagram (deleted); its insights are not read again."


@dataclass
class PassResult:
    """What one `refresh_due` pass did, by outcome."""

    read: int = 0
    later: int = 0
    stopped: int = 0
    paused: bool = False


async def plan(conn: Any, *, post_id: uuid.UUID, media_type: str, published_at: datetime) -> None:
    """Plan the readings of a post just published (the worker's connection; idempotent)."""
    if media_type.upper() in NOT_PLANNED:
        return
    await repository.plan(conn, post_id=post_id, published_at=published_at, checkpoints=CHECKPOINTS)


def _pause_key(app: AppState) -> str:
    return f"{PAUSE_KEY}:{app.settings.queue_prefix}"


def _is_gone(exc: GraphError) -> bool:
    return exc.code == 100 and exc.subcode == 33


def _is_rate_limit(exc: GraphError) -> bool:
    return exc.code in RATE_LIMIT_CODES


async def refresh_due(
    app: AppState, *, now: datetime | None = None, limit: int | None = None
) -> PassResult:
    """Read the due insights (at most `limit`, default INSIGHTS_BATCH_SIZE); safe in many
    processes at once."""
    result = PassResult()
    if await app.redis.exists(_pause_key(app)):
        result.paused = True
        return result
    now = now or utcnow()
    lease = now + CLAIM_LEASE
    pool = await app.driver_pool()
    async with pool.acquire() as conn:
        claimed = await repository.claim(
            conn, now=now, limit=limit or app.settings.insights_batch_size, lease_until=lease
        )
    tokens: dict[uuid.UUID, str | None] = {}
    for index, row in enumerate(claimed):
        outcome = await _read_one(app, row, lease=lease, tokens=tokens)
        if outcome == "rate_limited":
            async with pool.acquire() as conn:
                for rest in claimed[index:]:
                    await repository.later(
                        conn,
                        rest,
                        lease=lease,
                        due_at=utcnow() + RATE_LIMIT_PAUSE,
                        error="Instagram's rate limit was reached; reading later",
                        count_attempt=False,
                    )
            await app.redis.set(
                _pause_key(app), "1", px=int(RATE_LIMIT_PAUSE.total_seconds() * 1000)
            )
            log.warning("insights: rate limited; pausing %s", RATE_LIMIT_PAUSE)
            result.paused = True
            result.later += len(claimed) - index
            break
        if outcome == "read":
            result.read += 1
        elif outcome == "stopped":
            result.stopped += 1
        else:
            result.later += 1
    if claimed:
        log.info(
            "insights pass",
            extra={"read": result.read, "later": result.later, "stopped": result.stopped},
        )
    return result


async def _read_one(
    app: AppState, row: repository.Claimed, *, lease: datetime, tokens: dict[uuid.UUID, str | None]
) -> str:
    pool = await app.driver_pool()
    if row.account_id not in tokens:
        try:
            tokens[row.account_id] = (
                None if row.needs_reauth else app.cipher.decrypt(row.token_encrypted)
            )
        except ValueError:
            tokens[row.account_id] = None
    token = tokens[row.account_id]
    if row.media_id is None:
        async with pool.acquire() as conn:
            await repository.stop(
                conn,
                post_id=row.post_id,
                reason="The post's Instagram media id is unknown",
                now=utcnow(),
            )
        return "stopped"
    if token is None:
        return await _later(
            app,
            row,
            lease=lease,
            wait=REAUTH_WAIT,
            error="The Instagram account needs to be reconnected",
        )
    try:
        graph = app.graph_for(row.login_kind)
        values = await graph.media_insights(row.media_id, token, repository.METRICS)
    except GraphRetryableError as exc:
        if _is_rate_limit(exc):
            return "rate_limited"
        return await _later(
            app, row, lease=lease, wait=RETRY_BASE * 2 ** (row.attempts - 1), error=exc.human()
        )
    except GraphAuthError as exc:
        tokens[row.account_id] = None
        return await _later(app, row, lease=lease, wait=REAUTH_WAIT, error=exc.human())
    except (GraphPermanentError, GraphError) as exc:
        reason = MEDIA_GONE if _is_gone(exc) else exc.human()
        async with pool.acquire() as conn:
            await repository.stop(conn, post_id=row.post_id, reason=reason, now=utcnow())
        log.info(
            "insights stopped",
            extra={"post_id": str(row.post_id), "error_code": exc.code_label},
        )
        return "stopped"
    async with pool.acquire() as conn:
        await repository.done(conn, row, lease=lease, now=utcnow(), values=values)
        await history.record_many(
            conn,
            [
                history.Event(
                    row.post_id,
                    history.Kind.METRICS_READ,
                    detail={"checkpoint": row.checkpoint, **values},
                )
            ],
        )
    return "read"


async def _later(
    app: AppState, row: repository.Claimed, *, lease: datetime, wait: timedelta, error: str
) -> str:
    pool = await app.driver_pool()
    async with pool.acquire() as conn:
        if row.attempts >= MAX_ATTEMPTS:
            await repository.stop(
                conn,
                post_id=row.post_id,
                reason=f"Gave up after {row.attempts} attempts: {error}",
                now=utcnow(),
            )
            return "stopped"
        await repository.later(conn, row, lease=lease, due_at=utcnow() + wait, error=error)
    return "later"


async def post_insights(
    session: AsyncSession, *, workspace_id: uuid.UUID, post_id: uuid.UUID
) -> PostInsights:
    """The user's post's readings (404 for another user's post)."""
    post = await posts_repository.get_owned(session, workspace_id=workspace_id, post_id=post_id)
    rows = await repository.of_post(await driver_connection(session), post.id)
    readings = [InsightReading.of(r) for r in rows]
    done = [r for r in readings if r.state == "done"]
    pending = [r.due_at for r in readings if r.state == "pending"]
    return PostInsights(
        post_id=post.id,
        status=post.status,
        published_at=post.published_at,
        initial=InitialCounts(
            likes=post.initial_likes or 0,
            comments=post.initial_comments or 0,
            reach=post.initial_reach or 0,
        ),
        latest=max(done, key=lambda r: r.fetched_at or r.due_at) if done else None,
        next_read_at=min(pending) if pending else None,
        readings=readings,
    )
