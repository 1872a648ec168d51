"""SQL of webhook subscriptions and deliveries."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.kit.pagination import fetch_page
from instasched.models import WebhookDelivery, WebhookSubscription


async def get_subscription(
    session: AsyncSession, *, workspace_id: uuid.UUID, webhook_id: uuid.UUID
) -> WebhookSubscription | None:
    found: WebhookSubscription | None = await session.scalar(
        select(WebhookSubscription).where(
            WebhookSubscription.id == webhook_id, WebhookSubscription.workspace_id == workspace_id
        )
    )
    return found


async def list_subscriptions(
    session: AsyncSession, *, workspace_id: uuid.UUID
) -> list[WebhookSubscription]:
    return list(
        await session.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.workspace_id == workspace_id)
            .order_by(WebhookSubscription.created_at)
        )
    )


async def count_subscriptions(session: AsyncSession, *, workspace_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(WebhookSubscription.workspace_id == workspace_id)
        )
        or 0
    )


async def list_deliveries(
    session: AsyncSession,
    *,
    webhook_id: uuid.UUID,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[list[WebhookDelivery], int]:
    where = [WebhookDelivery.subscription_id == webhook_id]
    if status is not None:
        where.append(WebhookDelivery.status == status)
    return await fetch_page(
        session,
        WebhookDelivery,
        where,
        order_by=(WebhookDelivery.created_at.desc(), WebhookDelivery.id),
        offset=offset,
        limit=limit,
    )


# --- the worker's statements (asyncpg, autocommit) -------------------------------------------
_CLAIM = """
WITH due AS (
    SELECT id FROM webhook_deliveries
    WHERE status = 'pending' AND next_attempt_at <= $1
    ORDER BY next_attempt_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries d
SET next_attempt_at = $3, attempts = d.attempts + 1
FROM due, webhook_subscriptions s
WHERE d.id = due.id AND s.id = d.subscription_id
RETURNING d.id, d.event, d.payload, d.attempts, d.created_at, s.url, s.secret_encrypted, s.active
"""

_RECORD = """
UPDATE webhook_deliveries
SET status = $3, response_code = $4, latency_ms = $5, error = $6, next_attempt_at = $7,
    delivered_at = $8, log = log || $9::jsonb
WHERE id = $1 AND attempts = $2
"""


async def claim_due(conn: Any, *, now: datetime, limit: int, lease_until: datetime) -> list[Any]:
    """Due pending deliveries, each taken until `lease_until` (a worker that dies meanwhile
    leaves it to be tried again then), with its attempt counted and its subscription's URL."""
    return list(await conn.fetch(_CLAIM, now, limit, lease_until))


async def record_attempt(
    conn: Any,
    *,
    delivery_id: uuid.UUID,
    attempt: int,
    status: str,
    response_code: int | None,
    latency_ms: int,
    error: str | None,
    next_attempt_at: datetime,
    delivered_at: datetime | None,
    entry: dict[str, Any],
) -> None:
    """An attempt's outcome; nothing when another worker has taken the delivery since."""
    await conn.execute(
        _RECORD,
        delivery_id,
        attempt,
        status,
        response_code,
        latency_ms,
        error,
        next_attempt_at,
        delivered_at,
        json.dumps([entry]),
    )
