"""When a post is due: `scheduledFor` read in the account's time zone, or the next free slot
of the account's posting schedule (`instasched.schedules`, looked up when used), checked against
the time window (SCHEDULE_MIN_LEAD_SECONDS / SCHEDULE_MAX_LEAD_MONTHS).
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.config import Settings
from instasched.exceptions import Invalid
from instasched.kit.time import parse_datetime, zone
from instasched.models import InstagramAccount
from instasched.posts import quota, rules

SlotFinder = Callable[..., Awaitable[datetime | None]]


async def resolve_time(
    session: AsyncSession,
    *,
    settings: Settings,
    account: InstagramAccount,
    scheduled_for: str | None,
    use_next_slot: bool,
    now: datetime,
    exclude_post_id: uuid.UUID | None = None,
) -> datetime:
    """`scheduledFor` (read in the account's timezone without an offset) or the next free slot,
    checked against SCHEDULE_MIN_LEAD_SECONDS / SCHEDULE_MAX_LEAD_MONTHS."""
    tz = zone(account.timezone)
    if use_next_slot and scheduled_for is not None:
        raise Invalid("Send scheduledFor or useNextSlot: true, not both", field="useNextSlot")
    if use_next_slot:
        finder = _slot_finder()
        if finder is None:
            raise Invalid(
                "Posting schedules are not available on this server; send scheduledFor",
                field="useNextSlot",
            )
        # Two concurrent "next slot" requests must not pick the same minute (nor the last room
        # in a 24 h window): hold the account's quota lock until this transaction ends.
        await quota.lock(session, account_id=account.id)
        extra: dict[str, Any] = {"quota": quota.quota_of(account, settings)}
        if exclude_post_id is not None:  # a post being moved does not block its own minute
            extra["exclude_post_id"] = exclude_post_id
        slot = await finder(
            session,
            account=account,
            now=now,
            min_lead_seconds=settings.schedule_min_lead_seconds,
            **extra,
        )
        if slot is None:
            raise Invalid(
                "There is no free slot in the posting schedule of this account; add time "
                "slots to its posting schedule or send scheduledFor",
                field="useNextSlot",
            )
        when = slot.astimezone(UTC)
    elif scheduled_for is None:
        raise Invalid(
            "scheduledFor is required (an ISO 8601 date-time), or send useNextSlot: true",
            field="scheduledFor",
        )
    else:
        when = parse_datetime(scheduled_for, tz, field="scheduledFor")
    rules.check_time_window(
        when,
        now=now,
        min_lead_seconds=settings.schedule_min_lead_seconds,
        max_lead_months=settings.schedule_max_lead_months,
        tz=tz,
        field=time_field(use_next_slot),
    )
    return when


def time_field(use_next_slot: bool) -> str:
    return "useNextSlot" if use_next_slot else "scheduledFor"


def _slot_finder() -> SlotFinder | None:
    """`instasched.schedules.service.next_free_slot`, looked up when used (another domain)."""
    try:
        module = importlib.import_module("instasched.schedules.service")
    except ImportError:
        return None
    finder = getattr(module, "next_free_slot", None)
    return cast(SlotFinder, finder) if callable(finder) else None
