"""Account insights: `online_followers` (when the account's followers are on Instagram).

`GET /{ig-user-id}/insights?metric=online_followers&period=lifetime` answers
```
{"data": [{"name": "online_followers", "period": "lifetime",
           "values": [{"value": {"0": 120, "1": 95, ..., "23": 310},
                       "end_time": "2026-11-28T00:00:00+0000"}, ...]}]}
```
one entry per day (the day that ends at `end_time`), `value` keyed by hour of that day.
Meta's IG User Insights reference: "Metrics that support lifetime periods will have results
returned in an array of 24 hour periods, with periods ending on UTC−07:00"
(https://developers.facebook.com/docs/instagram-api/reference/ig-user/insights). So a day runs
from midnight to midnight at UTC−07:00 (Pacific time, fixed offset: `end_time` is
`...T07:00:00+0000`) and hour key `h` is the hour from h:00 to h+1:00 at UTC−07:00, i.e. the
instant `end_time - 24 h + h`; it is neither a UTC hour nor an hour of the account's timezone.
The caller converts each instant to the account's timezone. Accounts with fewer than 100
followers get no values (an empty list or empty `value` objects).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from instasched.integrations.instagram.client import GraphClient
from instasched.integrations.instagram.errors import GraphError

# The fixed offset of Meta's insight days (see above); the sandbox serves its days the same way.
META_DAY_TZ = timezone(timedelta(hours=-7))


def meta_day_start(instant: datetime) -> datetime:
    """The start (in UTC) of the Meta insight day that contains `instant`: the last midnight at
    UTC−07:00, i.e. 07:00 UTC."""
    local = instant.astimezone(META_DAY_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


@dataclass(frozen=True)
class OnlineFollowersDay:
    """Followers online per hour of one Meta insight day: `hours[h]` counts the instants
    [start + h, start + h + 1), `start` being midnight at UTC−07:00 (07:00 UTC)."""

    start: datetime  # in UTC: the instant that begins the day
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
