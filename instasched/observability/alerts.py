"""Alert webhook: POST a JSON event to ALERT_WEBHOOK_URL, retried with backoff, never blocking.

Events: `post.failed` (a post's final failure), `account.needs_reauth`, and the publishing
checks of `instasched.ops.health` (`publishing.failed_posts`, `publishing.stuck_posts`,
`publishing.overdue_posts`). Delivery runs on a background task with a bounded in-memory buffer;
publishing never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import httpx

from instasched.observability.metrics import ALERTS_SENT

log = logging.getLogger(__name__)


class AlertSender:
    def __init__(
        self,
        url: str | None,
        *,
        attempts: int = 5,
        base_delay: float = 0.5,
        max_buffer: int = 1000,
        timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.attempts = attempts
        self.base_delay = base_delay
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=max_buffer)
        self.timeout = timeout
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._http = httpx.AsyncClient(timeout=self.timeout)
            self._task = asyncio.create_task(self._run(), name="alert-sender")

    async def stop(self, *, drain_seconds: float = 2.0) -> None:
        if self._task is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.queue.join(), timeout=drain_seconds)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def send(self, event: str, **fields: Any) -> None:
        """Queue an alert; drops it (with a log line) when the buffer is full."""
        if not self.enabled:
            return
        payload = {"event": event, "at": datetime.now(UTC).isoformat(), **fields}
        try:
            self.queue.put_nowait(payload)
        except asyncio.QueueFull:
            log.warning("alert buffer full; dropped %s", event)
            ALERTS_SENT.labels(event=event, result="dropped").inc()

    async def _run(self) -> None:
        while True:
            payload = await self.queue.get()
            try:
                await self._deliver(payload)
            finally:
                self.queue.task_done()

    async def _deliver(self, payload: dict[str, Any]) -> None:
        assert self._http is not None and self.url
        event = str(payload.get("event"))
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self._http.post(self.url, json=payload)
                if response.status_code < 300:
                    ALERTS_SENT.labels(event=event, result="sent").inc()
                    return
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            if attempt < self.attempts:
                await asyncio.sleep(self.base_delay * 2 ** (attempt - 1))
            else:
                log.warning("alert %s not delivered after %d attempts: %s", event, attempt, reason)
        ALERTS_SENT.labels(event=event, result="failed").inc()
