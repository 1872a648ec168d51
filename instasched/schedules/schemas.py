from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import Field, field_serializer

from instasched.kit import examples as ex
from instasched.kit.schemas import ApiModel, RequestModel, examples

TIME_SLOT_EXAMPLE: list[Any] = ["09:00", "12:30", "19:00"]
SCHEDULE_EXAMPLE: dict[str, Any] = {
    "id": ex.SCHEDULE_ID,
    "instagramAccountId": ex.ACCOUNT_ID,
    "dayOfWeek": 0,
    "timeSlots": ["09:00", "15:00"],
    "timezone": ex.TIMEZONE,
    "isOptimal": True,
    "engagementScore": 365.65,
    "isActive": True,
    "createdAt": ex.CONNECTED_AT,
    "updatedAt": "2026-12-01T08:30:00Z",
}
APPLIED_SLOT_EXAMPLE: dict[str, Any] = {"dayOfWeek": 0, "timeSlot": "15:00", "score": 365.65}
SKIPPED_SLOT_EXAMPLE: dict[str, Any] = {
    "dayOfWeek": 3,
    "timeSlot": "19:00",
    "reason": "this day's schedule uses America/New_York, the recommendation is in the "
    "account's timezone Europe/Paris",
}


class ScheduleCreate(RequestModel):
    model_config = examples(
        {
            "dayOfWeek": 0,
            "timeSlots": ["09:00", "15:00"],
            "timezone": ex.TIMEZONE,
            "isActive": True,
        }
    )

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
    model_config = examples({"timeSlots": TIME_SLOT_EXAMPLE, "isActive": True})

    time_slots: list[str] | None = Field(None, examples=[TIME_SLOT_EXAMPLE])
    timezone: str | None = Field(None, examples=["Europe/Paris"])
    is_active: bool | None = None


class Schedule(ApiModel):
    model_config = examples(SCHEDULE_EXAMPLE)

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
    model_config = examples(
        {
            "scheduledFor": "2026-12-13T08:00:00Z",
            "localTime": "2026-12-13T09:00:00+01:00",
            "timezone": ex.TIMEZONE,
            "dayOfWeek": 0,
            "reason": None,
        }
    )

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
    model_config = examples(APPLIED_SLOT_EXAMPLE)

    day_of_week: int
    time_slot: str
    score: float


class SkippedSlot(ApiModel):
    model_config = examples(SKIPPED_SLOT_EXAMPLE)

    day_of_week: int
    time_slot: str
    reason: str


class ApplyOptimalResult(ApiModel):
    model_config = examples(
        {
            "basis": "history",
            "timezone": ex.TIMEZONE,
            "applied": [APPLIED_SLOT_EXAMPLE],
            "skipped": [SKIPPED_SLOT_EXAMPLE],
            "schedules": [SCHEDULE_EXAMPLE],
            "notice": None,
        }
    )

    basis: str
    timezone: str
    applied: list[AppliedSlot]
    skipped: list[SkippedSlot]
    schedules: list[Schedule]
    notice: str | None = None
