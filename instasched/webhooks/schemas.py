from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from instasched.kit import examples as ex
from instasched.kit.schemas import ApiModel, RequestModel, examples

EventName = Literal[
    "post.scheduled",
    "post.published",
    "post.failed",
    "post.needs_approval",
    "account.needs_reauth",
]
TEST_EVENT = "webhook.test"
DeliveryStatusName = Literal["pending", "delivered", "failed"]

WEBHOOK_ID = "e4b1c9d2-7a3f-4e58-b6c0-1d2e3f4a5b67"
DELIVERY_ID = "a8c3e5f7-2b4d-4f69-8e1a-3c5e7a9b1d24"
_URL = "https://hooks.example.com/instasched"
_WEBHOOK = {
    "id": WEBHOOK_ID,
    "url": _URL,
    "events": ["post.published", "post.failed"],
    "description": "Slack relay",
    "active": True,
    "createdAt": "2026-12-01T09:30:00Z",
    "updatedAt": "2026-12-01T09:30:00Z",
}
PUBLISHED_DATA = {
    "postId": ex.POST_ID,
    "accountId": ex.ACCOUNT_ID,
    "status": "published",
    "mediaType": "IMAGE",
    "scheduledFor": ex.SCHEDULED_FOR,
    "publishedAt": "2026-12-20T14:00:03Z",
    "permalink": "https://www.instagram.com/p/DCx7Yk2NaQf/",
    "instagramMediaId": "17895695668004550",
    "reason": None,
    "errorCode": None,
}


class WebhookCreate(RequestModel):
    model_config = examples(
        {"url": _URL, "events": ["post.published", "post.failed"], "description": "Slack relay"}
    )

    url: str = Field(
        max_length=2000,
        description="http(s) URL on a public address (private, loopback and link-local "
        "addresses are refused unless WEBHOOK_ALLOW_PRIVATE_TARGETS)",
    )
    events: list[EventName] = Field(min_length=1)
    description: str | None = Field(None, max_length=200)


class WebhookUpdate(RequestModel):
    model_config = examples({"events": ["post.failed", "account.needs_reauth"], "active": False})

    url: str | None = Field(None, max_length=2000)
    events: list[EventName] | None = Field(None, min_length=1)
    description: str | None = Field(None, max_length=200)
    active: bool | None = Field(None, description="false: no new deliveries until true again")


class Webhook(ApiModel):
    model_config = examples(_WEBHOOK)

    id: uuid.UUID
    url: str
    events: list[EventName]
    description: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class WebhookCreated(Webhook):
    model_config = examples({**_WEBHOOK, "secret": "whsec_Jq8vX2mN5pR7tY1wK4zB9cF3hL6dS0gA2eU8i"})

    secret: str = Field(
        description="The signing secret (docs/webhooks.md). Shown only now; keep it"
    )


_ATTEMPT = {"at": "2026-12-20T14:00:04Z", "responseCode": 200, "latencyMs": 84, "error": None}
_DELIVERY = {
    "id": DELIVERY_ID,
    "subscriptionId": WEBHOOK_ID,
    "event": "post.published",
    "status": "delivered",
    "attempts": 1,
    "responseCode": 200,
    "latencyMs": 84,
    "error": None,
    "createdAt": "2026-12-20T14:00:03Z",
    "deliveredAt": "2026-12-20T14:00:04Z",
    "nextAttemptAt": None,
    "body": {
        "id": DELIVERY_ID,
        "type": "post.published",
        "createdAt": "2026-12-20T14:00:03Z",
        "data": PUBLISHED_DATA,
    },
    "log": [_ATTEMPT],
}


class DeliveryAttempt(ApiModel):
    model_config = examples(_ATTEMPT)

    at: datetime
    response_code: int | None = Field(description="The target's HTTP status; none: no answer")
    latency_ms: int
    error: str | None


class WebhookDelivery(ApiModel):
    model_config = examples(_DELIVERY)

    id: uuid.UUID
    subscription_id: uuid.UUID
    event: str = Field(description="One of the subscribed events, or `webhook.test`")
    status: DeliveryStatusName
    attempts: int
    response_code: int | None = Field(description="Of the last attempt")
    latency_ms: int | None = Field(description="Of the last attempt, in ms")
    error: str | None = Field(description="Of the last attempt, when it failed")
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None = Field(description="When `pending`: the next attempt")
    body: dict[str, Any] = Field(description="The JSON body POSTed to the URL")
    log: list[DeliveryAttempt]


class DeliveryPage(ApiModel):
    model_config = examples({"items": [_DELIVERY], "total": 1, "page": 1, "limit": 20})

    items: list[WebhookDelivery]
    total: int
    page: int
    limit: int
