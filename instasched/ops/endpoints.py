from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from instasched.auth.deps import CurrentUser
from instasched.exceptions import NotFound
from instasched.kit import examples as ex
from instasched.kit.deps import SessionDep, StateDep
from instasched.kit.openapi import errors, example_200, validation_error
from instasched.kit.redis import bounded
from instasched.observability.metrics import QUEUE_JOBS, REGISTRY
from instasched.ops import service
from instasched.state import AppState
from instasched.workspaces.access import UserAccess

log = logging.getLogger(__name__)
router = APIRouter(prefix="/instagram/scheduling", tags=["Operations"])
metrics_router = APIRouter(tags=["Operations"])


@router.get(
    "/queue/stats",
    responses={
        **example_200(
            {
                "scope": "user",
                "counts": {
                    "scheduled": 12,
                    "publishing": 0,
                    "published": 48,
                    "failed": 1,
                    "cancelled": 3,
                },
                "nextDue": [
                    {
                        "id": ex.POST_ID,
                        "instagramAccountId": ex.ACCOUNT_ID,
                        "mediaType": "IMAGE",
                        "scheduledFor": "2026-12-20T14:00:00+00:00",
                        "nextAttemptAt": "2026-12-20T14:02:00+00:00",
                        "dueAt": "2026-12-20T14:02:00+00:00",
                    }
                ],
            }
        ),
        **errors(
            ("`scope=global` from a user who is not an admin", NotFound("Not found")),
            (
                "`scope` is not `user` or `global`",
                validation_error("scope", "Input should be 'user' or 'global'"),
            ),
        ),
    },
)
async def queue_stats(
    user: CurrentUser,
    access: UserAccess,
    session: SessionDep,
    state: StateDep,
    scope: Literal["user", "global"] = Query(
        "user", description="`global`: every user's posts and the Redis queue (admins only)"
    ),
) -> dict[str, Any]:
    """Your posts by status and the next due ones; admins (ADMIN_EMAILS) may ask for `global`."""
    if scope == "global":
        if user.email.lower() not in state.settings.admin_email_set:
            raise NotFound("Not found")
        return {
            "scope": "global",
            "counts": await service.counts_by_status(session, workspace_id=None),
            "nextDue": await service.next_due(session, workspace_id=None),
            "queue": await bounded(
                state.queue.counts(), wait_seconds=state.settings.redis_timeout_seconds
            ),
        }
    return {
        "scope": "user",
        "counts": await service.counts_by_status(session, workspace_id=access.workspace_id),
        "nextDue": await service.next_due(session, workspace_id=access.workspace_id),
    }


@metrics_router.get("/metrics", include_in_schema=True, response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of the API process (queue, posts and storage gauges read at scrape).

    When Redis does not answer within `REDIS_TIMEOUT_SECONDS`, the answer has no queue gauge."""
    state: AppState = request.app.state.instasched
    try:
        counts = await bounded(
            state.queue.counts(), wait_seconds=state.settings.redis_timeout_seconds
        )
    except Exception as exc:  # Redis down or hung: no figures rather than stale ones
        QUEUE_JOBS.clear()
        log.warning("metrics: queue counts unavailable: %s", type(exc.__cause__ or exc).__name__)
    else:
        for name, value in counts.items():
            QUEUE_JOBS.labels(state=name).set(value)
    try:
        async with state.session_factory() as session:
            await service.refresh_db_gauges(session)
    except Exception as exc:  # database down: /ready reports it
        log.warning("metrics: database gauges unavailable: %s", type(exc).__name__)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
