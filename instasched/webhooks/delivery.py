"""Signed delivery of webhook events, and the worker loop that sends due deliveries.

Each POST carries `X-Instasched-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<body>" with the subscription's secret>` (docs/webhooks.md has a verification snippet).
Deliveries are rows written by triggers with the change itself (migration 0015); the worker
sends them from its own task, so publishing never waits for a target, and retries a failure
with backoff (`WEBHOOK_RETRY_BASE_SECONDS` x 4^(attempt-1)) up to `WEBHOOK_MAX_ATTEMPTS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from instasched.config import Settings
from instasched.exceptions import Invalid
from instasched.kit.ssrf import check_public_url
from instasched.kit.time import utcnow
from instasched.models import DeliveryStatus
from instasched.state import AppState
from instasched.webhooks import repository

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Instasched-Signature"
EVENT_HEADER = "X-Instasched-Event"
DELIVERY_HEADER = "X-Instasched-Delivery"
USER_AGENT = "instasched-webhooks/1"
MAX_IN_FLIGHT = 50
CLAIM_BATCH = 50
MAX_BACKOFF = timedelta(hours=6)
_ERROR_CHARS = 500


def event_body(
    delivery_id: uuid.UUID, event: str, created_at: datetime, data: dict[str, Any]
) -> dict[str, Any]:
    """The JSON POSTed for an event: `id` (the same on every retry: deduplicate on it)."""
    return {
        "id": str(delivery_id),
        "type": event,
        "createdAt": created_at.isoformat(),
        "data": data,
    }


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@dataclass(frozen=True, slots=True)
class AttemptResult:
    ok: bool
    response_code: int | None
    latency_ms: int
    error: str | None

    def entry(self, at: datetime) -> dict[str, Any]:
        return {
            "at": at.isoformat(),
            "responseCode": self.response_code,
            "latencyMs": self.latency_ms,
            "error": self.error,
        }


def http_client(settings: Settings) -> httpx.AsyncClient:
    # No redirects: a redirect could lead to an address the SSRF check never saw.
    return httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


async def post_event(
    http: httpx.AsyncClient,
    settings: Settings,
    *,
    url: str,
    secret: str,
    delivery_id: uuid.UUID,
    event: str,
    body: dict[str, Any],
) -> AttemptResult:
    """One signed POST; the target is checked against SSRF again first (DNS may have changed)."""
    started = time.perf_counter()

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        await check_public_url(url, settings.webhook_allow_private_targets)
    except Invalid as exc:
        return AttemptResult(False, None, elapsed(), exc.message)
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, timestamp, content),
        EVENT_HEADER: event,
        DELIVERY_HEADER: str(delivery_id),
    }
    try:
        response = await http.post(url, content=content, headers=headers)
    except httpx.TimeoutException:
        return AttemptResult(
            False, None, elapsed(), f"No answer within {settings.webhook_timeout_seconds:g} s"
        )
    except httpx.HTTPError as exc:
        return AttemptResult(False, None, elapsed(), f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS])
    code = response.status_code
    if 200 <= code < 300:
        return AttemptResult(True, code, elapsed(), None)
    why = "redirects are not followed" if 300 <= code < 400 else response.reason_phrase
    return AttemptResult(False, code, elapsed(), f"HTTP {code} ({why})"[:_ERROR_CHARS])


def backoff(settings: Settings, attempt: int) -> timedelta:
    """The wait after the `attempt`-th failed attempt."""
    seconds = settings.webhook_retry_base_seconds * 4 ** (attempt - 1)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


async def _deliver(app: AppState, http: httpx.AsyncClient, row: Any) -> None:
    settings = app.settings
    attempt = int(row["attempts"])
    if not row["active"]:
        result = AttemptResult(False, None, 0, "The webhook is disabled")
    else:
        data = row["payload"]
        body = event_body(
            row["id"],
            row["event"],
            row["created_at"],
            json.loads(data) if isinstance(data, str) else data,
        )
        try:
            secret = app.cipher.decrypt(row["secret_encrypted"])
        except ValueError:
            result = AttemptResult(False, None, 0, "The signing secret cannot be decrypted")
        else:
            result = await post_event(
                http,
                settings,
                url=row["url"],
                secret=secret,
                delivery_id=row["id"],
                event=row["event"],
                body=body,
            )
    now = utcnow()
    if result.ok:
        status, next_at, delivered = DeliveryStatus.DELIVERED, now, now
    elif attempt >= settings.webhook_max_attempts or not row["active"]:
        status, next_at, delivered = DeliveryStatus.FAILED, now, None
    else:
        status, next_at, delivered = DeliveryStatus.PENDING, now + backoff(settings, attempt), None
    pool = await app.driver_pool()
    async with pool.acquire() as conn:
        await repository.record_attempt(
            conn,
            delivery_id=row["id"],
            attempt=attempt,
            status=status,
            response_code=result.response_code,
            latency_ms=result.latency_ms,
            error=result.error,
            next_attempt_at=next_at,
            delivered_at=delivered,
            entry=result.entry(now),
        )


async def run(app: AppState, stop: asyncio.Event) -> None:
    """The worker's delivery loop: claim due deliveries (safe in many processes: SKIP LOCKED),
    send each on its own task (at most MAX_IN_FLIGHT at once, so one slow target does not hold
    the others), look again every WEBHOOK_POLL_INTERVAL_SECONDS."""
    settings = app.settings
    lease = timedelta(seconds=settings.webhook_timeout_seconds + 30)
    in_flight: set[asyncio.Task[None]] = set()
    async with http_client(settings) as http:
        try:
            while not stop.is_set():
                free = MAX_IN_FLIGHT - len(in_flight)
                claimed: list[Any] = []
                if free > 0:
                    try:
                        pool = await app.driver_pool()
                        now = utcnow()
                        async with pool.acquire() as conn:
                            claimed = await repository.claim_due(
                                conn, now=now, limit=min(free, CLAIM_BATCH), lease_until=now + lease
                            )
                    except Exception:
                        log.warning("webhook deliveries not claimed; trying again", exc_info=True)
                for row in claimed:
                    task = asyncio.create_task(_deliver_logged(app, http, row))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if claimed and len(claimed) == min(free, CLAIM_BATCH):
                    await asyncio.sleep(0)  # more may be due: look again at once
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        stop.wait(), timeout=settings.webhook_poll_interval_seconds
                    )
        finally:
            if in_flight:
                _, pending = await asyncio.wait(in_flight, timeout=5)
                for task in pending:  # retried after their lease
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)


async def _deliver_logged(app: AppState, http: httpx.AsyncClient, row: Any) -> None:
    try:
        await _deliver(app, http, row)
    except Exception:
        log.exception("webhook delivery crashed", extra={"delivery_id": str(row["id"])})
