"""Sandbox account insights: `GET /{version}/{ig_user_id}/insights?metric=online_followers`.

The answer has the Graph API's shape (see `instasched.integrations.instagram.insights`): one
entry per day, Meta's days running midnight to midnight at UTC−07:00 (`end_time` is
`...T07:00:00+0000`), `value` keyed "0".."23" by hour of that day at UTC−07:00 (key h counts the
instant `end_time - 24 h + h`), as Meta's IG User Insights reference describes.
The numbers are deterministic per account: a daily curve (morning, lunch and evening peaks whose
hours are drawn from a seed made of the ig user id and the sandbox user's timezone) evaluated at
the user's *local* hour, so the peaks land at sensible local times, with a little seeded noise per
day. Accounts with fewer than 100 followers get no values, as on Instagram.

Media insights use the same path shape with a media id; this module answers only for ids of
sandbox users and lets every other request through to the routes behind it.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from instasched.integrations.instagram.insights import meta_day_start
from instasched.sandbox.state import GraphFault, SandboxState, SandboxUser, owner_check, route_path

_PATH = re.compile(r"/(v[0-9]+(?:\.[0-9]+)?)/([0-9]+)/insights/?")
DEFAULT_DAYS = 7
MAX_DAYS = 30
MIN_FOLLOWERS = 100


def install(app: FastAPI) -> None:
    app.add_middleware(AccountInsights, sandbox_app=app)


class AccountInsights:
    """Answers account-insight requests for sandbox users; passes everything else on."""

    def __init__(self, app: ASGIApp, sandbox_app: FastAPI) -> None:
        self.app = app
        self.sandbox_app = sandbox_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "GET":
            match = _PATH.fullmatch(route_path(scope))
            state: SandboxState = self.sandbox_app.state.sandbox
            if match is not None and match.group(2) in state.users:
                params = QueryParams(scope.get("query_string", b"").decode("latin-1"))
                try:
                    body = account_insights(state, match.group(2), params)
                    response = JSONResponse(body)
                except GraphFault as fault:
                    response = JSONResponse(fault.body(), status_code=fault.status)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def account_insights(state: SandboxState, ig_user_id: str, params: QueryParams) -> dict[str, Any]:
    user = owner_check(state, params.get("access_token"), ig_user_id, get=True)
    metrics = [m.strip() for m in (params.get("metric") or "").split(",") if m.strip()]
    if not metrics:
        raise GraphFault("(#100) The parameter metric is required", code=100)
    unknown = [m for m in metrics if m != "online_followers"]
    if unknown:
        raise GraphFault(
            f"(#100) metric[0] must be one of the following values: online_followers "
            f"(the sandbox serves only this account metric; got {unknown[0]})",
            code=100,
        )
    if (params.get("period") or "lifetime") != "lifetime":
        raise GraphFault(
            "(#100) Incompatible period: online_followers supports period=lifetime only",
            code=100,
        )
    days = _day_starts(params)
    values: list[dict[str, Any]] = []
    if user.followers >= MIN_FOLLOWERS:
        values = [
            {
                "value": {str(h): n for h, n in enumerate(online_followers_day(user, start))},
                "end_time": (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            }
            for start in days
        ]
    return {
        "data": [
            {
                "name": "online_followers",
                "period": "lifetime",
                "values": values,
                "title": "Online followers",
                "description": "Total number of this profile's followers that were online on "
                "Instagram during the specified range (days and hours at UTC-07:00).",
                "id": f"{ig_user_id}/insights/online_followers/lifetime",
            }
        ]
    }


def _int_param(params: QueryParams, name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise GraphFault(f"(#100) {name} must be a UNIX timestamp", code=100) from exc


def _day_starts(params: QueryParams) -> list[datetime]:
    """Starts (midnight at UTC−07:00, in UTC) of the requested Meta days: the days holding
    `since` up to the one before the day holding `until` (default: the last 7 complete days)."""
    since = _int_param(params, "since")
    until = _int_param(params, "until")
    today = meta_day_start(datetime.fromtimestamp(time.time(), UTC))
    end = today
    if until is not None:
        end = min(today, meta_day_start(datetime.fromtimestamp(until, UTC)))
    start = end - timedelta(days=DEFAULT_DAYS)
    if since is not None:
        start = meta_day_start(datetime.fromtimestamp(since, UTC))
    if (end - start).days > MAX_DAYS:
        raise GraphFault(
            f"(#100) The range between since and until must be at most {MAX_DAYS} days", code=100
        )
    return [start + timedelta(days=i) for i in range(max(0, (end - start).days))]


def _seed(user: SandboxUser, extra: str = "") -> int:
    digest = hashlib.sha256(f"{user.ig_user_id}|{user.timezone}|{extra}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _bump(hour: float, centre: float, width: float) -> float:
    distance = abs(hour - centre) % 24
    distance = min(distance, 24 - distance)
    return math.exp(-0.5 * (distance / width) ** 2)


def activity_profile(user: SandboxUser) -> tuple[float, float, float]:
    """The account's peak local hours (morning, lunch, evening), drawn from its seed."""
    rng = random.Random(_seed(user))
    return (rng.choice((7.0, 8.0, 9.0)), rng.choice((12.0, 13.0)), rng.choice((19.0, 20.0, 21.0)))


def online_followers_day(user: SandboxUser, start: datetime) -> list[int]:
    """24 counts for the Meta day beginning at `start` (midnight at UTC−07:00): count h is for
    the hour beginning at `start + h`."""
    try:
        tz = ZoneInfo(user.timezone)
    except Exception:
        tz = ZoneInfo("UTC")
    morning, lunch, evening = activity_profile(user)
    rng = random.Random(_seed(user, start.date().isoformat()))
    counts: list[int] = []
    for hour in range(24):
        local = (start + timedelta(hours=hour)).astimezone(tz)
        local_hour = local.hour + local.minute / 60
        weekend = local.weekday() >= 5
        m = morning + (2.0 if weekend else 0.0)
        weight = (
            0.08
            + 0.35 * _bump(local_hour, m, 1.0)
            + 0.45 * _bump(local_hour, lunch, 1.0)
            + (1.0 if weekend else 0.9) * _bump(local_hour, evening, 1.5)
        )
        noise = 1.0 + rng.uniform(-0.04, 0.04)
        counts.append(max(0, round(user.followers * 0.4 * weight * noise)))
    return counts
