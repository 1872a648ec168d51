"""Issue 16.11: the publishing quota is known when a post is placed (create, edit, add to queue).

The account's quota is what its `content_publishing_limit` said when it was connected (the
sandbox's per-account quota, set before connecting). Posts count at their time; scheduled,
publishing and published count, cancelled ones do not.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.config import Settings, plain_database_url
from instasched.models import InstagramAccount
from instasched.schedules.service import day_of_week
from tests.factories import Account, Api
from tests.posts.conftest import BASE, MediaFactory, Poster, iso


async def quota_poster(
    api: Api, http: httpx.AsyncClient, media: MediaFactory, quota: int
) -> Poster:
    """A user whose sandbox account publishes at most `quota` posts per 24 h."""
    user = await api.user()
    sb = await api.sandbox_user()
    r = await http.put(
        "/sandbox/_control/quota", json={"igUserId": sb["igUserId"], "quotaTotal": quota}
    )
    assert r.status_code == 200, r.text
    r = await http.post(
        "/api/instagram/accounts",
        json={"accessToken": sb["accessToken"], "timezone": "UTC"},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    account = Account(
        id=uuid.UUID(r.json()["id"]),
        ig_user_id=sb["igUserId"],
        username=sb["username"],
        access_token=sb["accessToken"],
        timezone="UTC",
    )
    return Poster(http=http, user=user, account=account, media=media)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def start() -> datetime:
    """A whole hour two days ahead: room on both sides inside the scheduling window."""
    return (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)


async def test_connecting_reads_the_quota(
    api: Api, http: httpx.AsyncClient, media: MediaFactory, db: AsyncSession
) -> None:
    poster = await quota_poster(api, http, media, 3)
    account = await db.scalar(
        select(InstagramAccount).where(InstagramAccount.id == poster.account.id)
    )
    assert account is not None
    assert account.publishing_quota == 3 and account.publishing_quota_read_at is not None


async def test_a_create_over_the_quota_is_422_naming_the_window_and_the_count(
    api: Api, http: httpx.AsyncClient, media: MediaFactory
) -> None:
    poster = await quota_poster(api, http, media, 3)
    t0 = start()
    for hours in (0, 1, 2):
        await poster.create(scheduledFor=iso(t0 + timedelta(hours=hours)))
    body = await poster.create(expect=422, scheduledFor=iso(t0 + timedelta(hours=3)))
    assert "3 per 24 hours" in body["message"] and "allowOverQuota" in body["message"]
    detail = body["detail"][0]
    assert detail["field"] == "scheduledFor"
    assert (detail["count"], detail["quota"]) == (4, 3)
    assert parse(detail["windowStart"]) == t0
    assert parse(detail["windowEnd"]) == t0 + timedelta(hours=24)
    # Outside every full window: accepted (the window from t0+2h holds 2 posts with it).
    await poster.create(scheduledFor=iso(t0 + timedelta(hours=25)))
    # A time before t0 is refused too: the 24 h from it hold t0, t0+1h and t0+2h.
    early = await poster.create(expect=422, scheduledFor=iso(t0 - timedelta(hours=1)))
    assert early["detail"][0]["count"] == 4


async def test_allow_over_quota_saves_the_post_with_a_warning(
    api: Api, http: httpx.AsyncClient, media: MediaFactory
) -> None:
    poster = await quota_poster(api, http, media, 1)
    t0 = start()
    first = await poster.create(scheduledFor=iso(t0))
    assert first["quotaWarning"] is None
    second = await poster.create(scheduledFor=iso(t0 + timedelta(hours=5)), allowOverQuota=True)
    warning = second["quotaWarning"]
    assert (warning["count"], warning["quota"]) == (2, 1)
    assert parse(warning["windowStart"]) == t0
    assert "1 per 24 hours" in warning["message"]
    listed = await poster.get(f"/posts/{poster.account.id}", params={"status": "scheduled"})
    assert listed.json()["total"] == 2


async def test_cancelled_posts_free_their_place(
    api: Api, http: httpx.AsyncClient, media: MediaFactory
) -> None:
    poster = await quota_poster(api, http, media, 1)
    t0 = start()
    first = await poster.create(scheduledFor=iso(t0))
    await poster.create(expect=422, scheduledFor=iso(t0 + timedelta(hours=1)))
    r = await poster.delete(f"/posts/{first['id']}")
    assert r.status_code == 200, r.text
    await poster.create(scheduledFor=iso(t0 + timedelta(hours=1)))


async def test_an_edit_into_a_full_window_is_422_or_a_warning(
    api: Api, http: httpx.AsyncClient, media: MediaFactory
) -> None:
    poster = await quota_poster(api, http, media, 2)
    t0 = start()
    await poster.create(scheduledFor=iso(t0))
    second = await poster.create(scheduledFor=iso(t0 + timedelta(hours=1)))
    moving = await poster.create(scheduledFor=iso(t0 + timedelta(days=3)))
    # Moving a post inside its own window does not count it twice.
    r = await poster.put(
        f"/posts/{second['id']}", json={"scheduledFor": iso(t0 + timedelta(hours=2))}
    )
    assert r.status_code == 200, r.text
    r = await poster.put(
        f"/posts/{moving['id']}", json={"scheduledFor": iso(t0 + timedelta(hours=3))}
    )
    assert r.status_code == 422, r.text
    assert (r.json()["detail"][0]["count"], r.json()["detail"][0]["quota"]) == (3, 2)
    unchanged = await poster.get(f"/posts/{poster.account.id}/{moving['id']}")
    assert parse(unchanged.json()["scheduledFor"]) == t0 + timedelta(days=3)
    r = await poster.put(
        f"/posts/{moving['id']}",
        json={"scheduledFor": iso(t0 + timedelta(hours=3)), "allowOverQuota": True},
    )
    assert r.status_code == 200, r.text
    assert r.json()["quotaWarning"]["count"] == 3
    # An edit that does not move the post is not checked (nor warned about).
    r = await poster.put(f"/posts/{moving['id']}", json={"caption": "still here"})
    assert r.status_code == 200, r.text
    assert r.json()["quotaWarning"] is None


async def test_a_create_waits_for_a_concurrent_placement_and_counts_it(
    api: Api, http: httpx.AsyncClient, media: MediaFactory, app_settings: Settings
) -> None:
    """Two placements at once take turns on the account's quota lock: while another
    transaction holds it (with a post not yet committed), a create waits, then counts that post."""
    poster = await quota_poster(api, http, media, 1)
    t0 = start()
    body = await poster.body(scheduledFor=iso(t0 + timedelta(hours=1)))
    conn = await asyncpg.connect(plain_database_url(app_settings.require_database_url()))
    try:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("SELECT instasched_quota_lock($1)", poster.account.id)
        await conn.execute(
            "INSERT INTO instagram_scheduled_posts (instagram_account_id, workspace_id, "
            "scheduled_for, caption, media_type) VALUES ($1, $2, $3, 'other', 'IMAGE')",
            poster.account.id,
            poster.user.id,
            t0,
        )
        create = asyncio.create_task(http.post(f"{BASE}/posts", json=body, headers=poster.headers))
        await asyncio.sleep(0.5)
        assert not create.done(), (await create).text
        await transaction.commit()
        r = await asyncio.wait_for(create, 10)
    finally:
        await conn.close()
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["count"] == 2


@pytest.mark.parametrize("via", ["next-slot", "useNextSlot"])
async def test_the_slot_finder_skips_slots_whose_window_is_full(
    api: Api, http: httpx.AsyncClient, media: MediaFactory, via: str
) -> None:
    poster = await quota_poster(api, http, media, 2)
    day = start().replace(hour=9)
    r = await poster.post(
        f"/schedules/{poster.account.id}",
        json={"dayOfWeek": day_of_week(day.date()), "timeSlots": ["09:00"], "timezone": "UTC"},
    )
    assert r.status_code == 201, r.text
    # Two posts in the hour before the slot: its window [08:00, +24 h) would hold three.
    for minutes in (0, 30):
        await poster.create(scheduledFor=iso(day - timedelta(minutes=60 - minutes)))
    if via == "next-slot":
        r = await poster.get(f"/schedules/{poster.account.id}/next-slot")
        assert r.status_code == 200, r.text
        found = r.json()["scheduledFor"]
    else:
        created: dict[str, Any] = await poster.create(scheduledFor=..., useNextSlot=True)
        found = created["scheduledFor"]
        assert created["quotaWarning"] is None
    assert parse(found) == day + timedelta(days=7)
