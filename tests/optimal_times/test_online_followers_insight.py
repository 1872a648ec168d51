"""The online_followers insight: the integration call against the sandbox, and its rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from instasched.integrations.instagram import GraphAuthError, GraphClient, GraphPermanentError
from instasched.integrations.instagram.insights import (
    meta_day_start,
    online_followers,
    parse_online_followers,
)
from instasched.optimal_times.service import PRIOR_WEIGHT, online_followers_cells
from tests.factories import Api


def midnight() -> datetime:
    """The start of today's Meta insight day: midnight at UTC−07:00, 07:00 UTC."""
    return meta_day_start(datetime.now(UTC))


async def test_days_at_utc_minus_7_deterministic_per_account(api: Api, graph: GraphClient) -> None:
    sb = await api.sandbox_user(timezone="Europe/Paris", followers=5000)
    today = midnight()
    assert (today.hour, today.minute) == (7, 0)
    days = await online_followers(
        graph,
        ig_user_id=sb["igUserId"],
        access_token=sb["accessToken"],
        since=today - timedelta(days=14),
        until=today,
    )
    assert [d.start for d in days] == [today - timedelta(days=14 - i) for i in range(14)]
    # As Meta: each day ends at midnight UTC−07:00, written `...T07:00:00+0000`.
    raw = await graph.request(
        "GET",
        f"{sb['igUserId']}/insights",
        token=sb["accessToken"],
        params={"metric": "online_followers", "period": "lifetime"},
    )
    assert all(v["end_time"].endswith("T07:00:00+0000") for v in raw["data"][0]["values"])
    assert all(sorted(d.hours) == list(range(24)) for d in days)
    assert all(0 < n <= 5000 for d in days for n in d.hours.values())
    # Peaks at sensible local hours: the busiest Paris hour of each day is daytime or evening.
    for day in days:
        busiest = max(day.hours, key=lambda h: day.hours[h])
        local = (day.start + timedelta(hours=busiest)).astimezone(ZoneInfo("Europe/Paris"))
        assert 7 <= local.hour <= 22
    again = await online_followers(
        graph,
        ig_user_id=sb["igUserId"],
        access_token=sb["accessToken"],
        since=today - timedelta(days=14),
        until=today,
    )
    assert again == days
    default = await online_followers(
        graph, ig_user_id=sb["igUserId"], access_token=sb["accessToken"]
    )
    assert len(default) == 7 and default == days[-7:]


async def test_small_accounts_have_no_values(api: Api, graph: GraphClient) -> None:
    sb = await api.sandbox_user(followers=99)
    assert (
        await online_followers(graph, ig_user_id=sb["igUserId"], access_token=sb["accessToken"])
        == []
    )


async def test_errors_in_the_graph_api_format(api: Api, graph: GraphClient) -> None:
    alice = await api.sandbox_user()
    bob = await api.sandbox_user()
    with pytest.raises(GraphPermanentError) as exc:
        await online_followers(graph, ig_user_id=bob["igUserId"], access_token=alice["accessToken"])
    assert exc.value.code == 100 and exc.value.subcode == 33
    with pytest.raises(GraphAuthError):
        await online_followers(graph, ig_user_id=alice["igUserId"], access_token="IGSLnope")
    today = midnight()
    with pytest.raises(GraphPermanentError) as exc:
        await online_followers(
            graph,
            ig_user_id=alice["igUserId"],
            access_token=alice["accessToken"],
            since=today - timedelta(days=40),
            until=today,
        )
    assert "30 days" in exc.value.message
    for params in ({"metric": "reach"}, {"metric": "online_followers", "period": "day"}, {}):
        with pytest.raises(GraphPermanentError) as exc:
            await graph.request(
                "GET", f"{alice['igUserId']}/insights", token=alice["accessToken"], params=params
            )
        assert exc.value.code == 100


def test_parse_tolerates_empty_and_odd_values() -> None:
    body = {
        "data": [
            {
                "name": "online_followers",
                "period": "lifetime",
                "values": [
                    {"value": {}, "end_time": "2026-11-20T08:00:00+0000"},
                    {
                        "value": {"0": 5, "23": 7, "x": 1, "24": 9},
                        "end_time": "2026-11-21T00:00:00+0000",
                    },
                    {"end_time": "2026-11-22T00:00:00+0000"},
                    {"value": {"1": 3}, "end_time": "not a time"},
                ],
            },
            {"name": "something_else", "values": [{"value": {"0": 1}}]},
        ]
    }
    (day,) = parse_online_followers(body)
    assert day.start == datetime(2026, 11, 20, tzinfo=UTC)
    assert day.hours == {0: 5, 23: 7}
    assert day.instants() == [
        (datetime(2026, 11, 20, 0, tzinfo=UTC), 5),
        (datetime(2026, 11, 20, 23, tzinfo=UTC), 7),
    ]


def test_hours_are_read_at_utc_minus_7_not_utc_nor_local() -> None:
    """Meta's documented shape: the day ends at midnight UTC−07:00 (`end_time` 07:00 UTC) and
    key h is h:00 at UTC−07:00. Followers of a Tokyo account (UTC+9) all online at key 12 are
    online at 19:00 UTC, 04:00 in Tokyo the next day; reading the key as a UTC hour would put
    them at 21:00 Friday, as a Tokyo hour at 12:00."""
    hours = {str(h): 0 for h in range(24)} | {"12": 500}
    body = {
        "data": [
            {
                "name": "online_followers",
                "period": "lifetime",
                "values": [{"value": hours, "end_time": "2026-11-28T07:00:00+0000"}],
            }
        ]
    }
    (day,) = parse_online_followers(body)
    assert day.start == datetime(2026, 11, 27, 7, tzinfo=UTC)
    best, heatmap = online_followers_cells([day], ZoneInfo("Asia/Tokyo"), PRIOR_WEIGHT)
    # Saturday 2026-11-28, 04:00 in Tokyo (0 = Sunday .. 6 = Saturday).
    assert (best[0].day_of_week, best[0].hour, best[0].online_followers) == (6, 4, 500.0)
    assert heatmap[5][21].online_followers == 0.0  # Friday 21:00: the UTC reading
    assert heatmap[6][12].online_followers == 0.0  # Saturday 12:00: the Tokyo-hour reading
