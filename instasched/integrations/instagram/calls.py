"""The Graph client's calls: `GraphCalls.request`, which every mixin (`media.py`, `facebook.py`)
and `GraphClient` (`client.py`, which builds the wire) call.

One call: the query and form encoded, the call made on the client's wire (`transport.py`'s
aiohttp pool directly, or httpx with any other transport), Meta's error body mapped to the
exception tree of `errors.py`, the usage headers read (a pause above 90 % of a rate budget),
and the call noted in the post's history when one is recorded (`call_log.py`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx

from instasched.integrations.instagram import call_log
from instasched.integrations.instagram.errors import (
    GraphError,
    GraphRetryableError,
    classify_error,
)
from instasched.integrations.instagram.transport import AiohttpTransport

log = logging.getLogger(__name__)

USAGE_HEADERS = ("x-app-usage", "x-business-use-case-usage", "x-ad-account-usage")
BACKOFF_THRESHOLD = 90.0


class GraphCalls:
    """Mixed into `GraphClient`, which sets these attributes in its constructor."""

    base_url: str
    version: str
    timeout: httpx.Timeout
    http: httpx.AsyncClient
    # The default wire, used directly by `request` (transport.py); None with another transport.
    _wire: AiohttpTransport | None
    usage_percent: float
    backoff_until: float
    backoff_unit: float

    def url(self, path: str, *, versioned: bool = True) -> str:
        path = path.lstrip("/")
        if versioned:
            return f"{self.base_url}/{self.version}/{path}"
        return f"{self.base_url}/{path}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        versioned: bool = True,
        url: str | None = None,
    ) -> dict[str, Any]:
        if not call_log.recording():
            return (await self._request(method, path, token, params, data, versioned, url))[0]
        # A post's history (call_log.py): the call, its duration and outcome, never the token.
        started, clock = call_log.now(), time.perf_counter()
        try:
            body, status_code, headers = await self._request(
                method, path, token, params, data, versioned, url
            )
        except GraphError as exc:
            call_log.note(
                started=started,
                method=method,
                path=path or "oauth/access_token",
                duration_ms=(time.perf_counter() - clock) * 1000,
                http_status=exc.status_code,
                error=exc,
            )
            raise
        call_log.note(
            started=started,
            method=method,
            path=path or "oauth/access_token",
            duration_ms=(time.perf_counter() - clock) * 1000,
            http_status=status_code,
            headers=headers,
            body=body,
        )
        return body

    async def _request(
        self,
        method: str,
        path: str,
        token: str | None,
        params: dict[str, Any] | None,
        data: dict[str, Any] | None,
        versioned: bool,
        url: str | None,
    ) -> tuple[dict[str, Any], int, Mapping[str, str]]:
        await self._respect_backoff()
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        form = {k: _param(v) for k, v in (data or {}).items() if v is not None} or None
        if token:
            query["access_token"] = token
        target = url or self.url(path, versioned=versioned)
        try:
            if self._wire is not None:
                status_code, headers, content = await self._wire.send(
                    method, target, params=query, form=form, timeouts=self.timeout
                )
            else:
                response = await self.http.request(method, target, params=query, data=form)
                status_code, headers, content = (
                    response.status_code,
                    response.headers,
                    response.content,
                )
        except httpx.TimeoutException as exc:
            raise GraphRetryableError(
                f"Instagram did not answer in time ({type(exc).__name__})",
                explanation="Instagram did not answer in time; the outcome is checked before "
                "any retry.",
            ) from exc
        except httpx.TransportError as exc:
            raise GraphRetryableError(
                f"Could not reach Instagram ({type(exc).__name__}: {exc})",
                explanation="Instagram could not be reached; we will try again.",
            ) from exc
        self._read_usage(headers)
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if status_code >= 400 or (isinstance(body, dict) and "error" in body):
            raise classify_error(body if isinstance(body, dict) else None, status_code=status_code)
        if not isinstance(body, dict):
            raise GraphError(
                f"Unexpected answer from Instagram (HTTP {status_code})",
                status_code=status_code,
            )
        return body, status_code, headers

    def _read_usage(self, headers: Mapping[str, str]) -> None:
        highest = 0.0
        for name in USAGE_HEADERS:
            raw = headers.get(name)
            if raw:
                highest = max(highest, _max_percent(raw))
        if highest:
            self.usage_percent = highest
            if highest >= BACKOFF_THRESHOLD:
                # Above 90 % of a rate budget: pause new calls; the budget frees over minutes.
                pause = min(
                    60.0 * self.backoff_unit / 5.0,
                    self.backoff_unit * (highest - BACKOFF_THRESHOLD + 1),
                )
                self.backoff_until = max(self.backoff_until, time.monotonic() + pause)
                log.warning("graph api usage at %.0f%%: backing off %.1fs", highest, pause)

    async def _respect_backoff(self) -> None:
        wait = self.backoff_until - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _max_percent(raw: str) -> float:
    try:
        data = json.loads(raw)
    except ValueError:
        return 0.0
    best = 0.0

    def walk(node: Any) -> None:
        nonlocal best
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, int | float) and key in (
                    "call_count",
                    "total_cputime",
                    "total_time",
                    "acc_id_util_pct",
                ):
                    best = max(best, float(value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return best
