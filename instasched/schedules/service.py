"""Posting schedules: weekly wall-clock slots per account, and "add to queue" slot finding.

A slot is a wall-clock time ("HH:MM") on a day of the week (0 = Sunday) in the schedule's IANA
timezone. It is resolved to an instant per date with `kit.time.localize`, so it stays at the same
local time across DST changes: a slot in the spring-forward gap (02:30 in America/New_York on the
second Sunday of March) moves forward by the gap (03:30 local), and a slot in the fall-back overlap
(01:30 on the first Sunday of November) is the first occurrence (daylight time).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.accounts import repository as accounts_repository
from instasched.config import Settings
from instasched.exceptions import Conflict, Invalid, NotFound
from instasched.kit.time import is_valid_zone, localize, zone
from instasched.models import InstagramAccount, PostingSchedule
from instasched.posts import quota as posts_quota
from instasched.schedules import repository

LOOKAHEAD_DAYS = 56  # eight weeks
MAX_SLOTS_PER_DAY = 48
_SLOT = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def day_of_week(d: date) -> int:
    """0 = Sunday .. 6 = Saturday (the spec's numbering, as PostgreSQL's `extract(dow ...)`)."""
    return (d.weekday() + 1) % 7


def parse_time_slots(values: Sequence[str], *, field: str = "timeSlots") -> list[str]:
    """Validate "HH:MM" (24 h) strings; return them sorted and without duplicates."""
    if len(values) > MAX_SLOTS_PER_DAY:
        raise Invalid(
            f"{field} has {len(values)} times; at most {MAX_SLOTS_PER_DAY} per day are allowed",
            field=field,
        )
    slots: set[str] = set()
    for i, value in enumerate(values):
        if not isinstance(value, str) or _SLOT.fullmatch(value.strip()) is None:
            raise Invalid(
                f"{field}[{i}] is {value!r}: use a 24-hour time HH:MM such as 09:00 or 18:30",
                field=f"{field}[{i}]",
            )
        slots.add(value.strip())
    return sorted(slots)


def check_timezone(name: str, *, field: str = "timezone") -> str:
    zone(name, field=field)
    if not is_valid_zone(name):
        raise Invalid(f"{name!r} is not an IANA timezone (e.g. Europe/Paris)", field=field)
    return name


def _slot_time(slot: str) -> time:
    hours, minutes = slot.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Slot:
    at: datetime  # UTC, whole minute
    timezone: str
    day_of_week: int  # of the wall-clock date in `timezone`

    @property
    def local(self) -> datetime:
        return self.at.astimezone(ZoneInfo(self.timezone))


def slot_candidates(
    schedules: Iterable[PostingSchedule], *, start: datetime, end: datetime
) -> list[Slot]:
    """Every slot instant in [start, end), sorted, one per instant (the first schedule wins)."""
    found: dict[datetime, Slot] = {}
    for schedule in schedules:
        slots = [
            s for s in (schedule.time_slots or []) if isinstance(s, str) and _SLOT.fullmatch(s)
        ]
        if not slots or not is_valid_zone(schedule.timezone):
            continue
        tz = ZoneInfo(schedule.timezone)
        first = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date() + timedelta(days=1)
        current = first + timedelta(days=(schedule.day_of_week - day_of_week(first)) % 7)
        while current <= last:
            for slot in slots:
                at = localize(datetime.combine(current, _slot_time(slot)), tz).astimezone(UTC)
                if start <= at < end and at not in found:
                    found[at] = Slot(
                        at=at, timezone=schedule.timezone, day_of_week=day_of_week(current)
                    )
            current += timedelta(days=7)
    return [found[k] for k in sorted(found)]


async def find_next_slot(
    session: AsyncSession,
    *,
    account: InstagramAccount,
    now: datetime,
    min_lead_seconds: int,
    quota: int | None = None,
    lookahead_days: int = LOOKAHEAD_DAYS,
    exclude_post_id: uuid.UUID | None = None,
) -> Slot | None:
    """The next free slot with its timezone (see `next_free_slot`)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    schedules = await repository.list_for_account(session, account_id=account.id, active_only=True)
    start = now.astimezone(UTC) + timedelta(seconds=max(0, min_lead_seconds))
    end = start + timedelta(days=lookahead_days)
    # One week at a time: the common case (a free slot this week) reads only a week of posts.
    window_start = start
    while window_start < end:
        window_end = min(end, window_start + timedelta(days=7))
        candidates = slot_candidates(schedules, start=window_start, end=window_end)
        if candidates:
            taken = await repository.occupied_minutes(
                session,
                account_id=account.id,
                start=candidates[0].at,
                end=candidates[-1].at + timedelta(minutes=1),
                candidates=[c.at for c in candidates],
                exclude_post_id=exclude_post_id,
            )
            free = [c for c in candidates if c.at not in taken]
            if quota is None or not free:
                if free:
                    return free[0]
            else:
                windows = await posts_quota.windows(
                    session,
                    account_id=account.id,
                    quota=quota,
                    times=[c.at for c in free],
                    exclude_post_id=exclude_post_id,
                )
                for candidate in free:
                    if not windows[candidate.at].over:
                        return candidate
        window_start = window_end
    return None


async def next_free_slot(
    session: AsyncSession,
    *,
    account: InstagramAccount,
    now: datetime,
    min_lead_seconds: int,
    quota: int | None = None,
    exclude_post_id: uuid.UUID | None = None,
) -> datetime | None:
    """The next slot of the account's active posting schedules that is free (UTC), or None.

    Free: at least `min_lead_seconds` after `now`, no `scheduled`/`publishing` post of the
    account in that minute (`exclude_post_id`: a post being moved does not block itself), and
    with a `quota`, room in its 24 h windows for one more post (posts.quota).
    Looks ahead eight weeks. Callers that then create a post at this time should hold the
    account's quota lock (`posts.quota.lock`) so that two concurrent "add to queue" calls don't
    pick the same minute.
    """
    slot = await find_next_slot(
        session,
        account=account,
        now=now,
        min_lead_seconds=min_lead_seconds,
        quota=quota,
        exclude_post_id=exclude_post_id,
    )
    return slot.at if slot is not None else None


# --- CRUD ------------------------------------------------------------------------------------


async def list_schedules(
    session: AsyncSession, *, workspace_id: uuid.UUID, account_id: uuid.UUID
) -> list[PostingSchedule]:
    await accounts_repository.get_owned(session, workspace_id=workspace_id, account_id=account_id)
    return await repository.list_for_account(session, account_id=account_id)


async def create_schedule(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    day_of_week: int,
    time_slots: Sequence[str],
    timezone: str | None,
    is_active: bool,
) -> PostingSchedule:
    """A new day of the week for the account; 409 if that day already has a schedule."""
    account = await accounts_repository.get_owned(
        session, workspace_id=workspace_id, account_id=account_id
    )
    slots = parse_time_slots(time_slots)
    tz = check_timezone(timezone) if timezone is not None else account.timezone
    if await repository.get_for_day(session, account_id=account_id, day_of_week=day_of_week):
        raise Conflict(
            f"{DAY_NAMES[day_of_week]} already has a posting schedule for this account: "
            f"change it with PUT /api/instagram/scheduling/schedules/{account_id}/{day_of_week}",
            detail={"field": "dayOfWeek", "dayOfWeek": day_of_week},
        )
    schedule = PostingSchedule(
        instagram_account_id=account_id,
        day_of_week=day_of_week,
        time_slots=slots,
        timezone=tz,
        is_active=is_active,
    )
    session.add(schedule)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent create of the same day
        raise Conflict(
            f"{DAY_NAMES[day_of_week]} already has a posting schedule for this account",
            detail={"field": "dayOfWeek", "dayOfWeek": day_of_week},
        ) from exc
    await session.refresh(schedule)
    return schedule


async def update_schedule(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    day_of_week: int,
    time_slots: Sequence[str] | None,
    timezone: str | None,
    is_active: bool | None,
) -> PostingSchedule:
    """Change the given fields of one day's schedule (404 if the day has none)."""
    await accounts_repository.get_owned(session, workspace_id=workspace_id, account_id=account_id)
    slots = parse_time_slots(time_slots) if time_slots is not None else None
    tz = check_timezone(timezone) if timezone is not None else None
    schedule = await repository.get_for_day(
        session, account_id=account_id, day_of_week=day_of_week, for_update=True
    )
    if schedule is None:
        raise NotFound(f"No posting schedule for {DAY_NAMES[day_of_week]} on this account")
    if slots is not None:
        schedule.time_slots = slots
    if tz is not None:
        schedule.timezone = tz
    if is_active is not None:
        schedule.is_active = is_active
    await session.flush()
    await session.refresh(schedule)
    return schedule


async def delete_schedule(
    session: AsyncSession, *, workspace_id: uuid.UUID, account_id: uuid.UUID, day_of_week: int
) -> None:
    await accounts_repository.get_owned(session, workspace_id=workspace_id, account_id=account_id)
    deleted = await repository.delete_for_day(
        session, account_id=account_id, day_of_week=day_of_week
    )
    if not deleted:
        raise NotFound(f"No posting schedule for {DAY_NAMES[day_of_week]} on this account")


async def next_slot_for_user(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    now: datetime,
    settings: Settings,
) -> Slot | None:
    account = await accounts_repository.get_owned(
        session, workspace_id=workspace_id, account_id=account_id
    )
    return await find_next_slot(
        session,
        account=account,
        now=now,
        min_lead_seconds=settings.schedule_min_lead_seconds,
        quota=posts_quota.quota_of(account, settings),
    )
