from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, status

from instasched.exceptions import Conflict, Invalid, NotFound
from instasched.kit import examples as ex
from instasched.kit.deps import SessionDep, StateDep
from instasched.kit.openapi import ACCOUNT_NOT_FOUND, ErrorCase, errors, example_200
from instasched.kit.schemas import Message
from instasched.kit.time import utcnow
from instasched.optimal_times import service as optimal_service
from instasched.schedules import service
from instasched.schedules.schemas import (
    ApplyOptimalResult,
    NextSlot,
    Schedule,
    ScheduleCreate,
    ScheduleUpdate,
)
from instasched.workspaces.access import CurrentAccess

router = APIRouter(prefix="/instagram/scheduling", tags=["Schedules"])

DayOfWeek = Annotated[int, Path(ge=0, le=6, description="0 = Sunday .. 6 = Saturday")]

_NO_SCHEDULE: ErrorCase = (
    "The day has no posting schedule",
    NotFound("No posting schedule for Sunday on this account"),
)
_RULES: tuple[ErrorCase, ...] = (
    (
        "A time slot is not HH:MM (24 h)",
        Invalid(
            "timeSlots[1] is '3pm': use a 24-hour time HH:MM such as 09:00 or 18:30",
            field="timeSlots[1]",
        ),
    ),
    (
        "Not an IANA timezone",
        Invalid("'CET+1' is not an IANA timezone (e.g. Europe/Paris)", field="timezone"),
    ),
)
_ACCOUNT_ONLY = errors(ACCOUNT_NOT_FOUND)


@router.get("/schedules/{account_id}/next-slot", response_model=NextSlot, responses=_ACCOUNT_ONLY)
async def next_slot(
    account_id: uuid.UUID, access: CurrentAccess, session: SessionDep, state: StateDep
) -> NextSlot:
    """The next free slot of the account's active posting schedules ("add to queue").

    Free means at least `SCHEDULE_MIN_LEAD_SECONDS` ahead, no scheduled or publishing post of
    the account in that minute, and room for one more post in every 24 h window holding it
    under the account's publishing quota (`content_publishing_limit`, else
    `PUBLISH_QUOTA_DEFAULT`). Slots are wall-clock times in each schedule's timezone, so they
    stay at the same local time across DST changes. Looks ahead eight weeks; `scheduledFor` is
    null (with a `reason`) when there is no slot.
    """
    slot = await service.next_slot_for_user(
        session,
        workspace_id=access.workspace_id,
        account_id=account_id,
        now=utcnow(),
        settings=state.settings,
    )
    if slot is None:
        return NextSlot(
            scheduled_for=None,
            reason="No free slot in the next 8 weeks: add active posting schedules with time "
            "slots (POST /api/instagram/scheduling/schedules/{accountId}); slots whose 24 h "
            "window is full under the publishing quota are skipped",
        )
    return NextSlot(
        scheduled_for=slot.at,
        local_time=slot.local.isoformat(),
        timezone=slot.timezone,
        day_of_week=slot.day_of_week,
    )


@router.post(
    "/schedules/{account_id}/apply-optimal",
    response_model=ApplyOptimalResult,
    responses=_ACCOUNT_ONLY,
)
async def apply_optimal(
    account_id: uuid.UUID, access: CurrentAccess, session: SessionDep, state: StateDep
) -> ApplyOptimalResult:
    """Add the top recommended hours (see optimal-times) to the account's posting schedules.

    Each recommended (day, hour) in the account's timezone becomes a slot `HH:00` on that day
    (the day's schedule is created in the account's timezone if missing); those days are marked
    `isOptimal` with `engagementScore` = the best recommended score of the day; the account's other
    days are unmarked (their slots are kept). A day whose schedule uses another timezone is left
    unchanged and listed in `skipped`.
    """
    result = await optimal_service.apply_optimal(
        session, state.graph, state.cipher, workspace_id=access.workspace_id, account_id=account_id
    )
    return ApplyOptimalResult(
        basis=result.basis,
        timezone=result.timezone,
        applied=result.applied,
        skipped=result.skipped,
        schedules=[Schedule.model_validate(s) for s in result.schedules],
        notice=result.notice,
    )


@router.get("/schedules/{account_id}", response_model=list[Schedule], responses=_ACCOUNT_ONLY)
async def list_schedules(
    account_id: uuid.UUID, access: CurrentAccess, session: SessionDep
) -> list[Schedule]:
    """The account's posting schedules, one per day of the week (0 = Sunday)."""
    schedules = await service.list_schedules(
        session, workspace_id=access.workspace_id, account_id=account_id
    )
    return [Schedule.model_validate(s) for s in schedules]


@router.post(
    "/schedules/{account_id}",
    status_code=status.HTTP_201_CREATED,
    response_model=Schedule,
    responses=errors(
        ACCOUNT_NOT_FOUND,
        (
            "The day already has a schedule (change it with PUT)",
            Conflict(
                "Sunday already has a posting schedule for this account: change it with PUT "
                f"/api/instagram/scheduling/schedules/{ex.ACCOUNT_ID}/0",
                detail={"field": "dayOfWeek", "dayOfWeek": 0},
            ),
        ),
        *_RULES,
    ),
)
async def create_schedule(
    account_id: uuid.UUID, body: ScheduleCreate, access: CurrentAccess, session: SessionDep
) -> Schedule:
    """Create the schedule of one day of the week: `timeSlots` ["HH:MM"], `timezone` (IANA,
    default the account's), `isActive`.

    One schedule per account and day: creating a day that exists answers 409 (use PUT to change
    it). Invalid times or timezones answer 422 naming the field.
    """
    schedule = await service.create_schedule(
        session,
        workspace_id=access.workspace_id,
        account_id=account_id,
        day_of_week=body.day_of_week,
        time_slots=body.time_slots,
        timezone=body.timezone,
        is_active=body.is_active,
    )
    return Schedule.model_validate(schedule)


@router.put(
    "/schedules/{account_id}/{day_of_week}",
    response_model=Schedule,
    responses=errors(ACCOUNT_NOT_FOUND, _NO_SCHEDULE, *_RULES),
)
async def update_schedule(
    account_id: uuid.UUID,
    day_of_week: DayOfWeek,
    body: ScheduleUpdate,
    access: CurrentAccess,
    session: SessionDep,
) -> Schedule:
    """Change one day's schedule; only the fields sent change (404 if the day has none)."""
    schedule = await service.update_schedule(
        session,
        workspace_id=access.workspace_id,
        account_id=account_id,
        day_of_week=day_of_week,
        time_slots=body.time_slots,
        timezone=body.timezone,
        is_active=body.is_active,
    )
    return Schedule.model_validate(schedule)


@router.delete(
    "/schedules/{account_id}/{day_of_week}",
    response_model=Message,
    responses={
        **example_200({"message": "Posting schedule deleted"}),
        **errors(ACCOUNT_NOT_FOUND, _NO_SCHEDULE),
    },
)
async def delete_schedule(
    account_id: uuid.UUID, day_of_week: DayOfWeek, access: CurrentAccess, session: SessionDep
) -> Message:
    """Delete one day's schedule (404 if the day has none)."""
    await service.delete_schedule(
        session, workspace_id=access.workspace_id, account_id=account_id, day_of_week=day_of_week
    )
    return Message(message="Posting schedule deleted")
