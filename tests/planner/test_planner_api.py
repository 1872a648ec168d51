"""The web app's planner reads: the publishing quota left around a time (composer) and the
account's published media as its profile grid shows them (grid planner)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.factories import Account, Api, User, jpeg_bytes

BASE = "/api/instagram/scheduling"


async def _media_id(http: httpx.AsyncClient, user: User, account: Account) -> str:
    r = await http.post(
        f"{BASE}/media/upload",
        params={"accountId": str(account.id)},
        files={"file": ("square.jpg", jpeg_bytes(1080, 1080), "image/jpeg")},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    media_id: str = r.json()["id"]
    return media_id


async def _post(
    http: httpx.AsyncClient, user: User, account: Account, media_id: str, at: datetime, **extra: Any
) -> dict[str, Any]:
    r = await http.post(
        f"{BASE}/posts",
        json={
            "instagramAccountId": str(account.id),
            "mediaType": "IMAGE",
            "mediaIds": [media_id],
            "caption": extra.pop("caption", "planned"),
            "scheduledFor": at.isoformat(),
            **extra,
        },
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_quota_left_counts_the_window_around_a_time(
    api: Api, http: httpx.AsyncClient
) -> None:
    user = await api.user()
    account = await api.account(user, timezone="Europe/Berlin")
    media_id = await _media_id(http, user, account)
    base = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    first = await _post(http, user, account, media_id, base)
    await _post(http, user, account, media_id, base + timedelta(hours=2))
    await _post(http, user, account, media_id, base + timedelta(days=3))  # another window

    url = f"{BASE}/quota/{account.id}"
    at = base + timedelta(hours=1)
    r = await http.get(url, params={"at": at.isoformat()}, headers=user.headers)
    assert r.status_code == 200, r.text
    q = r.json()
    assert set(q) == {"at", "windowStart", "windowEnd", "count", "quota", "remaining"}
    assert q["count"] == 2
    assert q["quota"] == 100  # PUBLISH_QUOTA_DEFAULT: the sandbox account's limit is read later
    assert q["remaining"] == 98
    start, end = datetime.fromisoformat(q["windowStart"]), datetime.fromisoformat(q["windowEnd"])
    assert end - start == timedelta(hours=24) and start <= at <= end
    assert datetime.fromisoformat(q["at"]) == at

    # A time without offset is the account's wall time; a post being edited is not counted.
    local = at.astimezone(account_tz(account)).replace(tzinfo=None)
    r = await http.get(
        url,
        params={"at": local.isoformat(), "excludePostId": first["id"]},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["count"] == 1 and datetime.fromisoformat(r.json()["at"]) == at

    # Far from now: a clear 422; another user's account: 404.
    r = await http.get(url, params={"at": "2099-01-01T00:00:00Z"}, headers=user.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "at", r.text
    stranger = await api.user()
    r = await http.get(url, params={"at": at.isoformat()}, headers=stranger.headers)
    assert r.status_code == 404


def account_tz(account: Account) -> ZoneInfo:
    return ZoneInfo(account.timezone)


async def test_profile_media_lists_instagram_media_with_our_posts(
    api: Api, http: httpx.AsyncClient, worker: Any
) -> None:
    user = await api.user()
    account = await api.account(user)
    media_id = await _media_id(http, user, account)
    soon = datetime.now(UTC) + timedelta(hours=1)
    post = await _post(http, user, account, media_id, soon, caption="on the grid")
    r = await http.post(
        f"{BASE}/posts/{post['id']}/publish-now",
        params={"waitSeconds": 60},
        headers=user.headers,
    )
    assert r.status_code == 200 and r.json()["status"] == "published", r.text
    published = r.json()

    r = await http.get(f"/api/instagram/accounts/{account.id}/media", headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["notice"] is None
    [item] = body["items"]
    assert item["id"] == published["instagramMediaId"]
    assert item["postId"] == post["id"] and item["mediaIds"] == [media_id]
    assert item["caption"] == "on the grid" and item["productType"] == "FEED"
    assert item["mediaType"] == "IMAGE" and item["permalink"] == published["permalink"]

    # Instagram refuses the token: our own published posts, with a notice saying why.
    r = await http.post(f"/sandbox/_control/users/{account.ig_user_id}/revoke")
    assert r.status_code == 200, r.text
    r = await http.get(f"/api/instagram/accounts/{account.id}/media", headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "reconnect" in body["notice"]
    assert [i["postId"] for i in body["items"]] == [post["id"]]

    stranger = await api.user()
    r = await http.get(f"/api/instagram/accounts/{account.id}/media", headers=stranger.headers)
    assert r.status_code == 404


async def test_changes_lists_posts_changed_since_a_time(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    account = await api.account(user)
    media_id = await _media_id(http, user, account)
    at = datetime.now(UTC) + timedelta(days=2)
    first = await _post(http, user, account, media_id, at)
    url = f"{BASE}/changes/{account.id}"
    r = await http.get(
        url,
        params={"since": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [p["id"] for p in body["posts"]] == [first["id"]] and body["more"] is False
    cursor = body["now"]

    # Nothing changed since: nothing listed. A cancel and a new post are.
    r = await http.get(url, params={"since": cursor}, headers=user.headers)
    assert r.json()["posts"] == []
    second = await _post(http, user, account, media_id, at + timedelta(hours=1))
    r = await http.delete(f"{BASE}/posts/{first['id']}", headers=user.headers)
    assert r.status_code == 200, r.text
    r = await http.get(url, params={"since": cursor, "limit": 1}, headers=user.headers)
    body = r.json()
    assert body["more"] is True and len(body["posts"]) == 1
    r = await http.get(url, params={"since": cursor}, headers=user.headers)
    changed = {p["id"]: p["status"] for p in r.json()["posts"]}
    assert changed == {first["id"]: "cancelled", second["id"]: "scheduled"}
    # A far-off `since` is clamped (never a 500); another user's account is a 404.
    for since in ("0001-01-01T00:00:00+23:59", "9999-12-31T23:59:00-23:59"):
        r = await http.get(url, params={"since": since}, headers=user.headers)
        assert r.status_code == 200, r.text
    stranger = await api.user()
    r = await http.get(url, params={"since": cursor}, headers=stranger.headers)
    assert r.status_code == 404
