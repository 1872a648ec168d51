"""Webhooks of the current user: /api/webhooks (docs/webhooks.md)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from instasched.exceptions import Invalid, NotFound
from instasched.kit.deps import SessionDep, StateDep
from instasched.kit.openapi import ErrorCase, errors
from instasched.kit.pagination import PageParams, page_params
from instasched.models import DeliveryStatus
from instasched.models import WebhookDelivery as DeliveryRow
from instasched.webhooks import delivery, service
from instasched.webhooks.schemas import (
    DeliveryPage,
    DeliveryStatusName,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookDelivery,
    WebhookUpdate,
)
from instasched.workspaces.access import OWNER_ONLY, CurrentAccess

router = APIRouter(prefix="/webhooks", tags=["Webhooks"])

WebhookIdPath = Annotated[uuid.UUID, Path(alias="webhookId", description="Webhook id")]
_NOT_FOUND: ErrorCase = (
    "No such webhook for this user (another user's id included)",
    NotFound(service.NOT_FOUND),
)
_PRIVATE_URL: ErrorCase = (
    "The URL is not http(s), or resolves to a private, loopback or link-local address",
    Invalid(
        "url points to 169.254.169.254, a private, loopback or link-local address; only public "
        "internet addresses are allowed",
        field="url",
    ),
)


def delivery_out(row: DeliveryRow) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        subscription_id=row.subscription_id,
        event=row.event,
        status=row.status,  # type: ignore[arg-type]
        attempts=row.attempts,
        response_code=row.response_code,
        latency_ms=row.latency_ms,
        error=row.error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        next_attempt_at=row.next_attempt_at if row.status == DeliveryStatus.PENDING else None,
        body=delivery.event_body(row.id, row.event, row.created_at, row.payload),
        log=row.log,  # type: ignore[arg-type]
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    summary="Subscribe a URL to events (the signing secret is shown once)",
    responses=errors(_PRIVATE_URL),
    openapi_extra=OWNER_ONLY,
)
async def create_webhook(
    body: WebhookCreate, access: CurrentAccess, session: SessionDep, state: StateDep
) -> WebhookCreated:
    """Events: `post.scheduled`, `post.published` (with `permalink`), `post.failed` (with
    `reason`), `post.needs_approval`, `account.needs_reauth`. Each delivery is a JSON POST
    signed with the returned `secret` (`X-Instasched-Signature: t=<unix>,v1=<hex HMAC-SHA256
    of "<t>.<body>">`; docs/webhooks.md), retried with backoff until a 2xx answer."""
    row, secret = await service.create_webhook(
        session,
        state.settings,
        state.cipher,
        workspace_id=access.workspace_id,
        url=body.url,
        events=list(body.events),
        description=body.description,
    )
    return WebhookCreated.model_validate(
        {**Webhook.model_validate(row).model_dump(), "secret": secret}
    )


@router.get(
    "", response_model=list[Webhook], summary="List your webhooks", openapi_extra=OWNER_ONLY
)
async def list_webhooks(access: CurrentAccess, session: SessionDep) -> list[Webhook]:
    return [
        Webhook.model_validate(r)
        for r in await service.list_webhooks(session, workspace_id=access.workspace_id)
    ]


@router.get(
    "/{webhookId}",
    response_model=Webhook,
    summary="One webhook",
    responses=errors(_NOT_FOUND),
    openapi_extra=OWNER_ONLY,
)
async def get_webhook(
    webhook_id: WebhookIdPath, access: CurrentAccess, session: SessionDep
) -> Webhook:
    return Webhook.model_validate(
        await service.get_webhook(session, workspace_id=access.workspace_id, webhook_id=webhook_id)
    )


@router.patch(
    "/{webhookId}",
    response_model=Webhook,
    summary="Change a webhook's URL, events, description, or pause it",
    responses=errors(_NOT_FOUND, _PRIVATE_URL),
    openapi_extra=OWNER_ONLY,
)
async def update_webhook(
    webhook_id: WebhookIdPath,
    body: WebhookUpdate,
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
) -> Webhook:
    """`active: false` pauses the webhook: no deliveries are recorded for it meanwhile, and
    those already pending fail ("The webhook is disabled")."""
    row = await service.update_webhook(
        session,
        state.settings,
        workspace_id=access.workspace_id,
        webhook_id=webhook_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return Webhook.model_validate(row)


@router.delete(
    "/{webhookId}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a webhook and its delivery log",
    responses=errors(_NOT_FOUND),
    openapi_extra=OWNER_ONLY,
)
async def delete_webhook(
    webhook_id: WebhookIdPath, access: CurrentAccess, session: SessionDep
) -> Response:
    await service.delete_webhook(session, workspace_id=access.workspace_id, webhook_id=webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{webhookId}/test",
    response_model=WebhookDelivery,
    summary="Send a test event now",
    responses=errors(_NOT_FOUND),
    openapi_extra=OWNER_ONLY,
)
async def send_test_event(
    webhook_id: WebhookIdPath, access: CurrentAccess, session: SessionDep, state: StateDep
) -> WebhookDelivery:
    """POST a signed `webhook.test` event to the URL now and answer with the outcome (`status`
    `delivered` or `failed`, `responseCode`, `latencyMs`, `error`); it is kept in the delivery
    log and not retried."""
    row = await service.send_test(
        session,
        state.settings,
        state.cipher,
        workspace_id=access.workspace_id,
        webhook_id=webhook_id,
    )
    return delivery_out(row)


@router.get(
    "/{webhookId}/deliveries",
    response_model=DeliveryPage,
    summary="The delivery log, newest first",
    responses=errors(_NOT_FOUND),
    openapi_extra=OWNER_ONLY,
)
async def list_deliveries(
    webhook_id: WebhookIdPath,
    access: CurrentAccess,
    session: SessionDep,
    paging: Annotated[PageParams, Depends(page_params)],
    status_filter: Annotated[
        DeliveryStatusName | None, Query(alias="status", description="Only deliveries in it")
    ] = None,
) -> DeliveryPage:
    """Each delivery with its status (`pending`: will be tried again at `nextAttemptAt`;
    `delivered`; `failed`: gave up after WEBHOOK_MAX_ATTEMPTS), the last attempt's response code,
    latency and error, every attempt in `log`, and the body sent."""
    rows, total = await service.list_deliveries(
        session,
        workspace_id=access.workspace_id,
        webhook_id=webhook_id,
        status=status_filter,
        offset=paging.offset,
        limit=paging.limit,
    )
    return DeliveryPage(
        items=[delivery_out(r) for r in rows], total=total, page=paging.page, limit=paging.limit
    )
