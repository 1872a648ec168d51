"""The online_followers insight: the integration call against the sandbox, and its rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from instasched.integrations.instagram import GraphAuthError, GraphClient, GraphPermanentError
from instasched.integrations.instagram.insights import online_followers, parse_online_followers
from tests.factories import Api


def midnight() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def test_days_and_hours_in_utc_deterministic_per_account(
    api: Api, graph: GraphClient
) -> None:
    sb = await api.sandbox_user(timezone="Europe/Paris", followers=5000)
    today = midnight()
    days = await online_followers(
        graph,
        ig_user_id=sb["igUserId"],
        access_token=sb["accessToken"],
        since=today - timedelta(days=14),
        until=today,
    )
    assert [d.start for d in days] == [today - timedelta(days=14 - i) for i in range(14)]
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
