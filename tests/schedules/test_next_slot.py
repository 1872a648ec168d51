"""Slot finding ("add to queue"): DST, midnight, occupied minutes, the endpoint."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.models import InstagramAccount
from instasched.schedules.service import find_next_slot, next_free_slot
from tests.factories import Account, Api, User
from tests.optimal_times.seed import seed_scheduled

BASE = "/api/instagram/scheduling"
LEAD = 300


async def make_schedule(
    http: httpx.AsyncClient,
    user: User,
    account: Account,
    day: int,
    slots: list[str],
    timezone: str | None = None,
    active: bool = True,
) -> dict[str, Any]:
    body: dict[str, Any] = {"dayOfWeek": day, "timeSlots": slots, "isActive": active}
    if timezone is not None:
        body["timezone"] = timezone
    r = await http.post(f"{BASE}/schedules/{account.id}", json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def load_account(db: AsyncSession, account_id: uuid.UUID) -> InstagramAccount:
    account = await db.get(InstagramAccount, account_id)
    assert account is not None
    return account


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


async def test_spring_forward_gap_slot_moves_to_the_same_local_hour_after_the_gap(
    api: Api, http: httpx.AsyncClient, db: AsyncSession, db_engine: Any
) -> None:
    user = await api.user()
    account = await api.account(user, timezone="America/New_York")
    # Sunday 02:30 does not exist on 2027-03-14 in New York (02:00 EST -> 03:00 EDT).
    await make_schedule(http, user, account, 0, ["02:30"])
    acc = await load_account(db, account.id)

    slot = await find_next_slot(db, account=acc, now=utc(2027, 3, 13, 12), min_lead_seconds=LEAD)
    assert slot is not None
    assert slot.at == utc(2027, 3, 14, 7, 30)  # 03:30 EDT
    assert slot.local.isoformat() == "2027-03-14T03:30:00-04:00"
    assert slot.day_of_week == 0 and slot.timezone == "America/New_York"

    # The week before (EST) and the week after (EDT) keep 02:30 local.
    before = await next_free_slot(db, account=acc, now=utc(2027, 3, 6, 12), min_lead_seconds=LEAD)
    assert before == utc(2027, 3, 7, 7, 30)  # 02:30 EST (UTC-5)
    await seed_scheduled(
        db_engine, workspace_id=user.id, account_id=account.id, times=[utc(2027, 3, 14, 7, 30)]
    )
    after = await next_free_slot(db, account=acc, now=utc(2027, 3, 13, 12), min_lead_seconds=LEAD)
    assert after == utc(2027, 3, 21, 6, 30)  # 02:30 EDT (UTC-4)


async def test_fall_back_overlap_and_a_morning_slot_across_the_change(
    api: Api, http: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await api.user()
    account = await api.account(user, timezone="America/New_York")
    await make_schedule(http, user, account, 0, ["01:30", "09:00"])
    acc = await load_account(db, account.id)

    # 01:30 happens twice on 2027-11-07: the first occurrence (EDT, UTC-4) is used.
    slot = await next_free_slot(db, account=acc, now=utc(2027, 11, 6, 12), min_lead_seconds=LEAD)
    assert slot == utc(2027, 11, 7, 5, 30)
    # 09:00 local is 13:00 UTC before the change and 14:00 UTC after it.
    nine_before = await next_free_slot(
        db, account=acc, now=utc(2027, 10, 31, 12), min_lead_seconds=LEAD
    )
    assert nine_before == utc(2027, 10, 31, 13)
    nine_after = await next_free_slot(
        db, account=acc, now=utc(2027, 11, 7, 7), min_lead_seconds=LEAD
    )
    assert nine_after == utc(2027, 11, 7, 14)


async def test_midnight_slots_and_local_day_differs_from_utc_day(
    api: Api, http: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await api.user()
    account = await api.account(user, timezone="Asia/Tokyo")
    # Monday 00:00 and 23:59 in Tokyo = Sunday 15:00 UTC and Monday 14:59 UTC.
    await make_schedule(http, user, account, 1, ["00:00", "23:59"])
    acc = await load_account(db, account.id)

    # Sunday 2027-03-07 14:50 UTC (23:50 JST): midnight is 10 minutes ahead.
    slot = await find_next_slot(db, account=acc, now=utc(2027, 3, 7, 14, 50), min_lead_seconds=LEAD)
    assert slot is not None
    assert slot.at == utc(2027, 3, 7, 15, 0)
    assert slot.day_of_week == 1  # Monday in Tokyo, though still Sunday in UTC
    assert slot.local.isoformat() == "2027-03-08T00:00:00+09:00"

    # At 23:57 JST midnight is only 3 minutes ahead (< 5 minute lead): the 23:59 slot wins.
    slot = await find_next_slot(db, account=acc, now=utc(2027, 3, 7, 14, 57), min_lead_seconds=LEAD)
    assert slot is not None and slot.at == utc(2027, 3, 8, 14, 59)

    # Exactly the lead ahead is allowed.
    exact = await next_free_slot(
        db, account=acc, now=utc(2027, 3, 7, 14, 55), min_lead_seconds=LEAD
    )
    assert exact == utc(2027, 3, 7, 15, 0)


async def test_occupied_minutes_are_skipped_and_only_active_posts_block(
    api: Api, http: httpx.AsyncClient, db: AsyncSession, db_engine: Any
) -> None:
    user = await api.user()
    account = await api.account(user, timezone="UTC")
    for day in range(7):
        await make_schedule(http, user, account, day, ["10:00", "14:00"])
    acc = await load_account(db, account.id)
    now = utc(2027, 5, 3, 8)  # Monday

    # Published, failed and cancelled posts don't hold a slot.
    for status in ("published", "failed", "cancelled"):
        await seed_scheduled(
            db_engine,
            workspace_id=user.id,
            account_id=account.id,
            times=[utc(2027, 5, 3, 10)],
            status=status,
        )
    assert await next_free_slot(db, account=acc, now=now, min_lead_seconds=LEAD) == utc(
        2027, 5, 3, 10
    )
    # A scheduled post at 10:00:30 occupies the 10:00 minute; a publishing one 14:00.
    await seed_scheduled(
        db_engine,
        workspace_id=user.id,
        account_id=account.id,
        times=[utc(2027, 5, 3, 10, 0, 30)],
    )
    await seed_scheduled(
        db_engine,
        workspace_id=user.id,
        account_id=account.id,
        times=[utc(2027, 5, 3, 14)],
        status="publishing",
    )
    assert await next_free_slot(db, account=acc, now=now, min_lead_seconds=LEAD) == utc(
        2027, 5, 4, 10
    )
    # Another account's posts never block this one.
    other = await api.account(user, timezone="UTC")
    await seed_scheduled(
        db_engine, workspace_id=user.id, account_id=other.id, times=[utc(2027, 5, 4, 10)]
    )
    assert await next_free_slot(db, account=acc, now=now, min_lead_seconds=LEAD) == utc(
        2027, 5, 4, 10
    )


async def test_a_post_being_moved_does_not_block_its_own_minute(
    api: Api, http: httpx.AsyncClient, db: AsyncSession, db_engine: Any
) -> None:
    user = await api.user()
    account = await api.account(user)
    await make_schedule(http, user, account, 3, ["12:00"])  # Wednesday
    acc = await load_account(db, account.id)
    await seed_scheduled(
        db_engine, workspace_id=user.id, account_id=account.id, times=[utc(2027, 5, 5, 12)]
    )
    from sqlalchemy import select

    from instasched.models import ScheduledPost

    post_id = await db.scalar(
        select(ScheduledPost.id).where(ScheduledPost.instagram_account_id == account.id)
    )
    now = utc(2027, 5, 4)
    assert await next_free_slot(db, account=acc, now=now, min_lead_seconds=LEAD) == utc(
        2027, 5, 12, 12
    )
    moved = await next_free_slot(
        db, account=acc, now=now, min_lead_seconds=LEAD, exclude_post_id=post_id
    )
    assert moved == utc(2027, 5, 5, 12)


async def test_inactive_schedules_other_timezones_and_no_slot(
    api: Api, http: httpx.AsyncClient, db: AsyncSession, db_engine: Any
) -> None:
    user = await api.user()
    account = await api.account(user, timezone="Europe/Paris")
    acc = await load_account(db, account.id)
    now = utc(2027, 6, 1, 6)  # Tuesday 08:00 in Paris
    assert await next_free_slot(db, account=acc, now=now, min_lead_seconds=LEAD) is None

    await make_schedule(http, user, account, 2, ["09:00"], active=False)
    assert await next_free_slot(db, account=acc, now=now, min_lead_seconds=LEAD) is None

    # Tuesday 09:00 in New York (13:00 UTC) vs Wednesday 09:00 Paris: the earliest wins.
    await make_schedule(http, user, account, 3, ["09:00"])
    await http.put(
        f"{BASE}/schedules/{account.id}/2",
        json={"isActive": True, "timezone": "America/New_York"},
        headers=user.headers,
    )
    db.expire_all()  # the schedules changed behind this session's back
    acc = await load_account(db, account.id)
    assert await next_free_slot(db, account=acc, now=now, min_lead_seconds=LEAD) == utc(
        2027, 6, 1, 13
    )
    # Every slot of the eight weeks ahead taken: no slot.
    nyc = [utc(2027, 6, 1, 13) + timedelta(weeks=w) for w in range(9)]
    paris = [utc(2027, 6, 2, 7) + timedelta(weeks=w) for w in range(9)]
    await seed_scheduled(db_engine, workspace_id=user.id, account_id=account.id, times=nyc + paris)
    assert await next_free_slot(db, account=acc, now=now, min_lead_seconds=LEAD) is None


async def test_next_slot_endpoint(api: Api, http: httpx.AsyncClient, db_engine: Any) -> None:
    user = await api.user()
    account = await api.account(user, timezone="UTC")
    r = await http.get(f"{BASE}/schedules/{account.id}/next-slot", headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.json()["scheduledFor"] is None and "posting schedules" in r.json()["reason"]

    for day in range(7):
        await make_schedule(http, user, account, day, ["00:00", "06:00", "12:00", "18:00"])
    before = datetime.now(UTC)
    r = await http.get(f"{BASE}/schedules/{account.id}/next-slot", headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    first = datetime.fromisoformat(body["scheduledFor"].replace("Z", "+00:00"))
    assert first >= before + timedelta(seconds=LEAD)
    assert first <= before + timedelta(seconds=LEAD, hours=6)
    assert first.hour in (0, 6, 12, 18) and first.minute == 0
    assert body["timezone"] == "UTC" and body["dayOfWeek"] == (first.weekday() + 1) % 7
    assert datetime.fromisoformat(body["localTime"]) == first

    await seed_scheduled(db_engine, workspace_id=user.id, account_id=account.id, times=[first])
    r = await http.get(f"{BASE}/schedules/{account.id}/next-slot", headers=user.headers)
    second = datetime.fromisoformat(r.json()["scheduledFor"].replace("Z", "+00:00"))
    assert second == first + timedelta(hours=6)

    # Another user's account: 404, like a missing one.
    stranger = await api.user()
    r = await http.get(f"{BASE}/schedules/{account.id}/next-slot", headers=stranger.headers)
    assert r.status_code == 404
    r = await http.get(f"{BASE}/schedules/{uuid.uuid4()}/next-slot", headers=user.headers)
    assert r.status_code == 404
