"""Webhook subscriptions of a user: create (the secret shown once), list, update, delete, send a
test event, read the delivery log. Never commits (the request owns the transaction)."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.config import Settings
from instasched.db import add_row, release_connections
from instasched.exceptions import Invalid, NotFound
from instasched.kit.ssrf import check_public_url
from instasched.kit.time import utcnow
from instasched.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from instasched.security import TokenCipher
from instasched.webhooks import delivery, repository
from instasched.webhooks.schemas import TEST_EVENT

MAX_WEBHOOKS_PER_USER = 20
SECRET_PREFIX = "whsec_"
NOT_FOUND = "Webhook not found"


async def create_webhook(
    session: AsyncSession,
    settings: Settings,
    cipher: TokenCipher,
    *,
    workspace_id: uuid.UUID,
    url: str,
    events: list[str],
    description: str | None,
) -> tuple[WebhookSubscription, str]:
    """The new subscription and its signing secret (shown once, kept encrypted)."""
    await check_public_url(url, settings.webhook_allow_private_targets)
    count = await repository.count_subscriptions(session, workspace_id=workspace_id)
    if count >= MAX_WEBHOOKS_PER_USER:
        raise Invalid(
            f"You have {count} webhooks, the most allowed; delete one first or subscribe an "
            "existing one to more events"
        )
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    row = WebhookSubscription(
        workspace_id=workspace_id,
        url=url,
        events=_unique(events),
        description=description,
        secret_encrypted=cipher.encrypt(secret),
    )
    return await add_row(session, row), secret


def _unique(events: list[str]) -> list[str]:
    return list(dict.fromkeys(events))


async def get_webhook(
    session: AsyncSession, *, workspace_id: uuid.UUID, webhook_id: uuid.UUID
) -> WebhookSubscription:
    row = await repository.get_subscription(
        session, workspace_id=workspace_id, webhook_id=webhook_id
    )
    if row is None:
        raise NotFound(NOT_FOUND)
    return row


async def list_webhooks(
    session: AsyncSession, *, workspace_id: uuid.UUID
) -> list[WebhookSubscription]:
    return await repository.list_subscriptions(session, workspace_id=workspace_id)


async def update_webhook(
    session: AsyncSession,
    settings: Settings,
    *,
    workspace_id: uuid.UUID,
    webhook_id: uuid.UUID,
    changes: dict[str, Any],
) -> WebhookSubscription:
    row = await get_webhook(session, workspace_id=workspace_id, webhook_id=webhook_id)
    if changes.get("url") is not None:
        await check_public_url(changes["url"], settings.webhook_allow_private_targets)
        row.url = changes["url"]
    if changes.get("events") is not None:
        row.events = _unique(changes["events"])
    if "description" in changes:
        row.description = changes["description"]
    if changes.get("active") is not None:
        row.active = changes["active"]
    row.updated_at = utcnow()
    await session.flush()
    return row


async def delete_webhook(
    session: AsyncSession, *, workspace_id: uuid.UUID, webhook_id: uuid.UUID
) -> None:
    """The subscription and its delivery log (pending deliveries are not sent)."""
    row = await get_webhook(session, workspace_id=workspace_id, webhook_id=webhook_id)
    await session.delete(row)
    await session.flush()


async def send_test(
    session: AsyncSession,
    settings: Settings,
    cipher: TokenCipher,
    *,
    workspace_id: uuid.UUID,
    webhook_id: uuid.UUID,
) -> WebhookDelivery:
    """POST a signed `webhook.test` event now and record it in the log (not retried)."""
    row = await get_webhook(session, workspace_id=workspace_id, webhook_id=webhook_id)
    url, secret = row.url, cipher.decrypt(row.secret_encrypted)
    delivery_id, created_at = uuid.uuid4(), utcnow()
    data = {"webhookId": str(row.id), "message": "A test event sent from instasched"}
    body = delivery.event_body(delivery_id, TEST_EVENT, created_at, data)
    # No connection is held while the target answers (up to WEBHOOK_TIMEOUT_SECONDS).
    await release_connections(session)
    async with delivery.http_client(settings) as http:
        result = await delivery.post_event(
            http,
            settings,
            url=url,
            secret=secret,
            delivery_id=delivery_id,
            event=TEST_EVENT,
            body=body,
        )
    now = utcnow()
    sent = WebhookDelivery(
        id=delivery_id,
        subscription_id=webhook_id,
        event=TEST_EVENT,
        payload=data,
        status=DeliveryStatus.DELIVERED if result.ok else DeliveryStatus.FAILED,
        attempts=1,
        next_attempt_at=now,
        response_code=result.response_code,
        latency_ms=result.latency_ms,
        error=result.error,
        log=[result.entry(now)],
        created_at=created_at,
        delivered_at=now if result.ok else None,
    )
    session.add(sent)
    try:
        await session.flush()
    except IntegrityError:  # the webhook was deleted while its URL answered
        raise NotFound(NOT_FOUND) from None
    return sent


async def list_deliveries(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    webhook_id: uuid.UUID,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[list[WebhookDelivery], int]:
    await get_webhook(session, workspace_id=workspace_id, webhook_id=webhook_id)
    return await repository.list_deliveries(
        session, webhook_id=webhook_id, status=status, offset=offset, limit=limit
    )
