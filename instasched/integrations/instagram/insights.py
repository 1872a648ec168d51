"""Account insights: `online_followers` (when the account's followers are on Instagram).

`GET /{ig-user-id}/insights?metric=online_followers&period=lifetime` answers
```
{"data": [{"name": "online_followers", "period": "lifetime",
           "values": [{"value": {"0": 120, "1": 95, ..., "23": 310},
                       "end_time": "2026-11-28T00:00:00+0000"}, ...]}]}
```
one entry per day (the day that ends at `end_time`), `value` keyed by hour of that day. Meta's
documentation has described these hours both as UTC and as Pacific time; instasched reads them as
**UTC hours** of the 24 hours ending at `end_time` (the sandbox serves them that way), so the
caller can convert each hour to the account's timezone. Accounts with fewer than 100 followers get
no values (an empty list or empty `value` objects).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from instasched.integrations.instagram.client import GraphClient
from instasched.integrations.instagram.errors import GraphError


@dataclass(frozen=True)
class OnlineFollowersDay:
    """Followers online per UTC hour of one day: `hours[h]` counts [start + h, start + h + 1)."""

    start: datetime  # UTC midnight that begins the day
    hours: dict[int, int]

    def instants(self) -> list[tuple[datetime, int]]:
        return [(self.start + timedelta(hours=h), n) for h, n in sorted(self.hours.items())]


async def online_followers(
    graph: GraphClient,
    *,
    ig_user_id: str,
    access_token: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[OnlineFollowersDay]:
    """The account's `online_followers` insight, one entry per day that has values."""
    params: dict[str, Any] = {"metric": "online_followers", "period": "lifetime"}
    if since is not None:
        params["since"] = int(since.timestamp())
    if until is not None:
        params["until"] = int(until.timestamp())
    body = await graph.request("GET", f"{ig_user_id}/insights", token=access_token, params=params)
    return parse_online_followers(body)


def parse_online_followers(body: dict[str, Any]) -> list[OnlineFollowersDay]:
    data = body.get("data")
    if not isinstance(data, list):
        raise GraphError("Instagram answered the online_followers insight without data")
    days: list[OnlineFollowersDay] = []
    for metric in data:
        if not isinstance(metric, dict) or metric.get("name") != "online_followers":
            continue
        for entry in metric.get("values") or []:
            if not isinstance(entry, dict):
                continue
            value = entry.get("value")
            end = _parse_time(entry.get("end_time"))
            if not isinstance(value, dict) or not value or end is None:
                continue
            hours: dict[int, int] = {}
            for key, count in value.items():
                try:
                    hour = int(key)
                except (TypeError, ValueError):
                    continue
                if 0 <= hour <= 23 and isinstance(count, int | float):
                    hours[hour] = int(count)
            if hours:
                days.append(OnlineFollowersDay(start=end - timedelta(days=1), hours=hours))
    days.sort(key=lambda d: d.start)
    return days


def _parse_time(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    # Meta writes offsets without a colon ("+0000"); Python 3.11 parses both forms.
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
