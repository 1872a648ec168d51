"""Optimal posting times over HTTP: seeded published posts, the online-followers fallback."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from instasched.integrations.instagram.versions import DEFAULT_VERSION as GRAPH_VERSION
from tests.factories import Account, Api, User
from tests.optimal_times.seed import Published, seed_published

BASE = "/api/instagram/scheduling"
NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz)  # type: ignore[misc]


async def optimal(http: httpx.AsyncClient, user: User, account: Account) -> dict[str, Any]:
    r = await http.get(f"{BASE}/optimal-times/{account.id}", headers=user.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def nyc_history() -> list[Published]:
    """Tuesdays 09:00 New York around the 2027-03-14 DST change, plus ordinary posts."""
    tuesdays = [
        local(NY, 2027, 2, 23, 9, 0),
        local(NY, 2027, 3, 2, 9, 5),
        local(NY, 2027, 3, 9, 9, 10),  # EST: 14:10 UTC
        local(NY, 2027, 3, 16, 9, 10),  # EDT: 13:10 UTC
        local(NY, 2027, 3, 23, 9, 20),
        local(NY, 2027, 3, 30, 9, 59),
        local(NY, 2027, 10, 26, 9, 0),  # EDT
        local(NY, 2027, 11, 9, 9, 0),  # EST
    ]
    posts = [Published(at=t, likes=200, comments=50, reach=1000) for t in tuesdays]
    others = [
        local(NY, 2027, 3, 7, 23, 30),  # Sunday 23:30 local = Monday 04:30 UTC
        local(NY, 2027, 3, 8, 13, 0),
        local(NY, 2027, 3, 10, 17, 0),
        local(NY, 2027, 3, 11, 8, 0),
        local(NY, 2027, 3, 12, 20, 0),
        local(NY, 2027, 3, 13, 11, 0),
        local(NY, 2027, 3, 15, 13, 0),
        local(NY, 2027, 3, 17, 17, 0),
        local(NY, 2027, 3, 18, 8, 0),
        local(NY, 2027, 3, 19, 20, 0),
        local(NY, 2027, 3, 20, 11, 0),
        local(NY, 2027, 3, 21, 23, 45),
    ]
    posts += [Published(at=t, likes=80, comments=10) for t in others]
    return posts


async def test_history_grouped_in_the_account_timezone_across_dst(
    api: Api, http: httpx.AsyncClient, db_engine: Any
) -> None:
    user = await api.user()
    account = await api.account(user, timezone="America/New_York")
    await seed_published(
        db_engine, workspace_id=user.id, account_id=account.id, posts=nyc_history()
    )
    # Posts that must not count: another account's, and unpublished ones.
    other = await api.account(user, timezone="America/New_York")
    await seed_published(
        db_engine,
        workspace_id=user.id,
        account_id=other.id,
        posts=[Published(at=local(NY, 2027, 3, 10, 6, 0), likes=99_999)] * 12,
    )

    body = await optimal(http, user, account)
    assert body["basis"] == "history"
    assert body["timezone"] == "America/New_York"
    assert body["publishedPosts"] == 20
    assert body["notice"] is None

    top = body["recommendations"][0]
    assert (top["dayOfWeek"], top["hour"]) == (2, 9)  # Tuesday, 09:00 local
    assert top["sampleSize"] == 8  # before and after both DST changes
    assert top["averageEngagement"] == 300.0  # 200 + 2 x 50
    assert top["engagementRate"] == 0.25  # (200 + 50) / 1000
    assert top["confidence"] == round(8 / 11, 2)
    assert body["priorMean"] < top["score"] <= 300.0
    assert len(body["recommendations"]) == 5
    scores = [r["score"] for r in body["recommendations"]]
    assert scores == sorted(scores, reverse=True)

    heatmap = body["heatmap"]
    assert len(heatmap) == 7 and all(len(row) == 24 for row in heatmap)
    assert all(
        heatmap[d][h]["dayOfWeek"] == d and heatmap[d][h]["hour"] == h
        for d in range(7)
        for h in range(24)
    )
    # Nothing leaked into the UTC hours of those posts (13:00 / 14:00).
    assert heatmap[2][13]["sampleSize"] == 0 and heatmap[2][14]["sampleSize"] == 0
    assert heatmap[2][13]["averageEngagement"] is None
    # Sunday 23:30 and 23:45 local stay on Sunday although they are Monday in UTC.
    assert heatmap[0][23]["sampleSize"] == 2 and heatmap[1][4]["sampleSize"] == 0
    assert heatmap[0][23]["averageEngagement"] == 100.0
    assert heatmap[0][23]["engagementRate"] is None  # no reach known
    assert sum(c["sampleSize"] for row in heatmap for c in row) == 20


async def test_one_viral_post_does_not_beat_a_consistent_slot(
    api: Api, http: httpx.AsyncClient, db_engine: Any
) -> None:
    user = await api.user()
    account = await api.account(user, timezone="Europe/Berlin")
    start = local(BERLIN, 2027, 1, 4, 0, 0)  # a Monday
    consistent = [
        Published(at=local(BERLIN, 2027, 1, 6, 12, 0) + timedelta(weeks=w), likes=100, comments=25)
        for w in range(6)
    ]  # Wednesdays 12:00, engagement 150 each
    ordinary = [
        Published(
            at=start + timedelta(days=d % 7, hours=8 + d, weeks=d // 7), likes=40, comments=10
        )
        for d in range(14)
    ]  # 14 posts of 60, each alone in its cell
    viral = [Published(at=local(BERLIN, 2027, 1, 8, 21, 0), likes=4000, comments=500)]  # 5000
    await seed_published(
        db_engine, workspace_id=user.id, account_id=account.id, posts=consistent + ordinary + viral
    )

    body = await optimal(http, user, account)
    assert body["basis"] == "history" and body["publishedPosts"] == 21
    top = body["recommendations"][0]
    assert (top["dayOfWeek"], top["hour"]) == (3, 12)
    assert top["sampleSize"] == 6 and top["averageEngagement"] == 150.0

    friday = body["heatmap"][5][21]
    assert friday["sampleSize"] == 1 and friday["averageEngagement"] == 5000.0
    assert friday["score"] < top["score"]  # the plain mean would have ranked it first
    assert friday["confidence"] == 0.25
    assert body["engagementCap"] == 150.0  # the 90th percentile post
    # A lone ordinary post is pulled toward the mean, not ranked on its own value.
    lone = next(c for row in body["heatmap"] for c in row if c["averageEngagement"] == 60.0)
    assert body["priorMean"] > lone["score"] > 60.0


async def expected_online_followers(
    http: httpx.AsyncClient, account: Account, tz: ZoneInfo
) -> dict[tuple[int, int], float]:
    """The sandbox's raw insight, averaged per (day, hour) in `tz`, computed independently."""
    # Meta's insight days begin at midnight UTC−07:00 (07:00 UTC), as the service asks.
    today = datetime.now(UTC) - timedelta(hours=7)
    today = today.replace(hour=7, minute=0, second=0, microsecond=0)
    r = await http.get(
        f"/sandbox/{GRAPH_VERSION}/{account.ig_user_id}/insights",
        params={
            "metric": "online_followers",
            "period": "lifetime",
            "since": int((today - timedelta(days=28)).timestamp()),
            "until": int(today.timestamp()),
            "access_token": account.access_token,
        },
    )
    assert r.status_code == 200, r.text
    values = r.json()["data"][0]["values"]
    assert len(values) == 28
    sums: dict[tuple[int, int], list[int]] = defaultdict(list)
    for entry in values:
        end = datetime.strptime(entry["end_time"], "%Y-%m-%dT%H:%M:%S%z")
        for hour, count in entry["value"].items():
            at = (end - timedelta(days=1) + timedelta(hours=int(hour))).astimezone(tz)
            sums[((at.weekday() + 1) % 7, at.hour)].append(count)
    return {k: sum(v) / len(v) for k, v in sums.items()}


async def test_few_posts_fall_back_to_online_followers(
    api: Api, http: httpx.AsyncClient, db_engine: Any
) -> None:
    user = await api.user()
    account = await api.account(user, timezone="America/New_York")
    await seed_published(
        db_engine,
        workspace_id=user.id,
        account_id=account.id,
        posts=[Published(at=local(NY, 2027, 3, 9, 9, 0), likes=10)] * 3,
    )
    body = await optimal(http, user, account)
    assert body["basis"] == "online_followers"
    assert body["publishedPosts"] == 3
    recs = body["recommendations"]
    assert len(recs) == 5
    for rec in recs:
        assert rec["averageEngagement"] is None and rec["engagementRate"] is None
        assert rec["onlineFollowers"] == rec["score"] and rec["onlineFollowers"] > 0
        assert 7 <= rec["hour"] <= 22  # the sandbox's audience is awake in New York time

    expected = await expected_online_followers(http, account, NY)
    best = max(expected.values())
    assert abs(recs[0]["onlineFollowers"] - best) < 0.01
    top_cell = expected[(recs[0]["dayOfWeek"], recs[0]["hour"])]
    assert abs(top_cell - best) < 0.01
    for d, row in enumerate(body["heatmap"]):
        for h, cell in enumerate(row):
            assert abs((cell["onlineFollowers"] or 0) - round(expected.get((d, h), 0), 2)) < 0.01

    # The same account read in another timezone shifts the hours.
    r = await http.patch(
        f"/api/instagram/accounts/{account.id}",
        json={"timezone": "Asia/Tokyo"},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    tokyo = await optimal(http, user, account)
    assert tokyo["timezone"] == "Asia/Tokyo" and tokyo["basis"] == "online_followers"
    expected_tokyo = await expected_online_followers(http, account, ZoneInfo("Asia/Tokyo"))
    first = tokyo["recommendations"][0]
    assert (
        abs(expected_tokyo[(first["dayOfWeek"], first["hour"])] - max(expected_tokyo.values()))
        < 0.01
    )
    assert (first["dayOfWeek"], first["hour"]) != (recs[0]["dayOfWeek"], recs[0]["hour"])


async def test_no_insight_falls_back_to_the_little_history_with_a_notice(
    api: Api, http: httpx.AsyncClient, db_engine: Any
) -> None:
    user = await api.user()
    # Fewer than 100 followers: Instagram has no online_followers data.
    sb = await api.sandbox_user(timezone="UTC", followers=40)
    r = await http.post(
        "/api/instagram/accounts",
        json={"accessToken": sb["accessToken"], "timezone": "UTC"},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    account_id = r.json()["id"]
    r = await http.get(f"{BASE}/optimal-times/{account_id}", headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["basis"] == "history" and body["recommendations"] == []
    assert "100 followers" in body["notice"]

    await seed_published(
        db_engine,
        workspace_id=user.id,
        account_id=uuid.UUID(account_id),
        posts=[Published(at=datetime(2027, 4, 6, 15, tzinfo=UTC), likes=30, comments=5)] * 2,
    )
    r = await http.get(f"{BASE}/optimal-times/{account_id}", headers=user.headers)
    body = r.json()
    assert body["basis"] == "history" and "tentative" in body["notice"]
    assert [(c["dayOfWeek"], c["hour"], c["sampleSize"]) for c in body["recommendations"]] == [
        (2, 15, 2)
    ]

    # A revoked token: still an answer, with a notice that says what to do.
    await http.post(f"/sandbox/_control/users/{sb['igUserId']}/revoke")
    r = await http.get(f"{BASE}/optimal-times/{account_id}", headers=user.headers)
    assert r.status_code == 200, r.text
    assert "reconnect" in r.json()["notice"]


async def test_optimal_times_of_another_users_account_is_404(
    api: Api, http: httpx.AsyncClient
) -> None:
    owner = await api.user()
    account = await api.account(owner)
    stranger = await api.user()
    r = await http.get(f"{BASE}/optimal-times/{account.id}", headers=stranger.headers)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = await http.get(f"{BASE}/optimal-times/{uuid.uuid4()}", headers=owner.headers)
    assert r.status_code == 404
    r = await http.get(f"{BASE}/optimal-times/not-a-uuid", headers=owner.headers)
    assert r.status_code == 422


async def test_apply_optimal_marks_and_fills_schedules(
    api: Api, http: httpx.AsyncClient, db_engine: Any
) -> None:
    user = await api.user()
    account = await api.account(user, timezone="America/New_York")
    await seed_published(
        db_engine, workspace_id=user.id, account_id=account.id, posts=nyc_history()
    )
    url = f"{BASE}/schedules/{account.id}"
    # Tuesday already has a slot; Saturday has one but is not recommended; Sunday uses UTC.
    await http.post(url, json={"dayOfWeek": 2, "timeSlots": ["15:00"]}, headers=user.headers)
    await http.post(url, json={"dayOfWeek": 6, "timeSlots": ["07:00"]}, headers=user.headers)
    await http.post(
        url,
        json={"dayOfWeek": 0, "timeSlots": ["06:00"], "timezone": "UTC"},
        headers=user.headers,
    )
    recs = (await optimal(http, user, account))["recommendations"]

    r = await http.post(f"{url}/apply-optimal", headers=user.headers)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["basis"] == "history" and result["timezone"] == "America/New_York"
    applied = {(a["dayOfWeek"], a["timeSlot"]) for a in result["applied"]}
    skipped = {(s["dayOfWeek"], s["timeSlot"]) for s in result["skipped"]}
    wanted = {(r["dayOfWeek"], f"{r['hour']:02d}:00") for r in recs}
    assert applied | skipped == wanted
    assert (2, "09:00") in applied
    assert all(day == 0 for day, _ in skipped)  # only the day in another timezone

    schedules = {s["dayOfWeek"]: s for s in result["schedules"]}
    tuesday = schedules[2]
    assert tuesday["timeSlots"] == ["09:00", "15:00"]
    assert tuesday["isOptimal"] is True
    assert tuesday["engagementScore"] == recs[0]["score"]
    assert schedules[6]["isOptimal"] is False and schedules[6]["timeSlots"] == ["07:00"]
    assert schedules[0]["timeSlots"] == ["06:00"] and schedules[0]["timezone"] == "UTC"
    for day, slot in applied:
        assert slot in schedules[day]["timeSlots"]
        assert schedules[day]["isOptimal"] is True
        assert schedules[day]["timezone"] == "America/New_York"

    # Idempotent: applying again adds nothing new.
    r = await http.post(f"{url}/apply-optimal", headers=user.headers)
    assert r.status_code == 200
    again = {s["dayOfWeek"]: s["timeSlots"] for s in r.json()["schedules"]}
    assert again == {d: s["timeSlots"] for d, s in schedules.items()}
    # The optimal-times answer lists the schedules.
    listed = (await optimal(http, user, account))["schedules"]
    assert {s["dayOfWeek"] for s in listed} == set(schedules)


async def test_large_engagement_scores_fit_the_schedule_column(
    api: Api, http: httpx.AsyncClient, db_engine: Any
) -> None:
    user = await api.user()
    account = await api.account(user)
    posts = [
        Published(
            at=datetime(2027, 2, 1, 18, tzinfo=UTC) + timedelta(weeks=w),
            likes=90_000,
            comments=4_000,
        )
        for w in range(12)
    ]
    await seed_published(db_engine, workspace_id=user.id, account_id=account.id, posts=posts)
    r = await http.post(f"{BASE}/schedules/{account.id}/apply-optimal", headers=user.headers)
    assert r.status_code == 200, r.text
    (monday,) = r.json()["schedules"]
    assert monday["dayOfWeek"] == 1 and monday["engagementScore"] == 98_000.0


async def test_online_followers_of_a_facebook_login_account(
    api: Api, http: httpx.AsyncClient
) -> None:
    """The insight is read on graph.facebook.com with the account's Page token."""
    user = await api.user()
    account = await api.account(user, timezone="UTC", login_kind="facebook")
    body = await optimal(http, user, account)
    assert body["basis"] == "online_followers", body
    assert len(body["recommendations"]) == 5 and not body.get("notice")
