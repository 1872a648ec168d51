from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import Field, field_serializer

from instasched.kit.schemas import ApiModel, RequestModel

TIME_SLOT_EXAMPLE = ["09:00", "12:30", "19:00"]


class ScheduleCreate(RequestModel):
    day_of_week: int = Field(ge=0, le=6, description="0 = Sunday .. 6 = Saturday")
    time_slots: list[str] = Field(
        description="Wall-clock times `HH:MM` (24 h) in the schedule's timezone",
        examples=[TIME_SLOT_EXAMPLE],
    )
    timezone: str | None = Field(
        None,
        description="IANA timezone of the slots; defaults to the account's timezone",
        examples=["America/New_York"],
    )
    is_active: bool = True


class ScheduleUpdate(RequestModel):
    time_slots: list[str] | None = Field(None, examples=[TIME_SLOT_EXAMPLE])
    timezone: str | None = Field(None, examples=["Europe/Paris"])
    is_active: bool | None = None


class Schedule(ApiModel):
    id: uuid.UUID
    instagram_account_id: uuid.UUID
    day_of_week: int
    time_slots: list[str]
    timezone: str
    is_optimal: bool
    engagement_score: Decimal | None
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @field_serializer("engagement_score")
    def _score(self, value: Decimal | None) -> float | None:
        return float(value) if value is not None else None


class NextSlot(ApiModel):
    scheduled_for: datetime | None = Field(
        description="The next free slot in UTC, or null when no active schedule has one"
    )
    local_time: str | None = Field(
        None, description="The same instant as wall-clock time with offset in the slot's timezone"
    )
    timezone: str | None = None
    day_of_week: int | None = Field(None, description="0 = Sunday, in the slot's timezone")
    reason: str | None = Field(None, description="Why there is no slot (when scheduledFor is null)")


class AppliedSlot(ApiModel):
    day_of_week: int
    time_slot: str
    score: float


class SkippedSlot(ApiModel):
    day_of_week: int
    time_slot: str
    reason: str


class ApplyOptimalResult(ApiModel):
    basis: str
    timezone: str
    applied: list[AppliedSlot]
    skipped: list[SkippedSlot]
    schedules: list[Schedule]
    notice: str | None = None
