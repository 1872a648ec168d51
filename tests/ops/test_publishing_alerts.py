"""The publishing alerts (instasched.ops.health): failed posts in a window, posts stuck in
`publishing` past their lease, posts still `scheduled` past due; each once per crossing."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.config import Settings
from instasched.models import ScheduledPost
from instasched.observability.metrics import REGISTRY
from instasched.ops.health import check_publishing_health, health_counts
from instasched.state import AppState
from tests.factories import Api
from tests.ops.webhook import WebhookReceiver

LATE = 60
WINDOW = 3600


async def _counts(db: AsyncSession) -> dict[str, int]:
    now = datetime.now(UTC)
    counts = await health_counts(
        db,
        failed_since=now - timedelta(seconds=WINDOW),
        late_before=now - timedelta(seconds=LATE),
    )
    await db.rollback()
    return vars(counts)


async def _wait_for(hook: WebhookReceiver, n: int) -> list[str]:
    deadline = time.monotonic() + 10
    while len(hook.events) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # and nothing more
    return [e["event"] for e in hook.events]


async def test_publishing_alerts_fire_once_per_crossing(
    api: Api, db: AsyncSession, app_settings: Settings, no_worker: None
) -> None:
    user = await api.user()
    account = await api.account(user)
    now = datetime.now(UTC)
    before = await _counts(db)

    def post(status: str, **fields: Any) -> ScheduledPost:
        return ScheduledPost(
            instagram_account_id=account.id,
            workspace_id=user.id,
            scheduled_for=fields.pop("scheduled_for", now - timedelta(minutes=30)),
            caption="alerts",
            media_urls=[],
            media_ids=[],
            media_type="IMAGE",
            status=status,
            **fields,
        )

    minutes = timedelta(minutes=1)
    counted = {
        "failed_posts": [post("failed", failed_at=now - 10 * minutes) for _ in range(2)],
        "stuck_posts": [post("publishing", lease_expires_at=now - 5 * minutes) for _ in range(2)],
        "overdue_posts": [post("scheduled", scheduled_for=now - 5 * minutes) for _ in range(2)],
    }
    not_counted = [
        post("failed", failed_at=now - 120 * minutes),  # before the window
        post("publishing", lease_expires_at=now + minutes),  # its worker renews it
        post("publishing", lease_expires_at=now - timedelta(seconds=10)),  # being taken over
        post("scheduled", next_attempt_at=now + 10 * minutes),  # waiting for its retry
        post("scheduled", scheduled_for=now - timedelta(seconds=10)),  # due a moment ago
    ]
    settings = app_settings.model_copy(
        update={
            "alert_failed_posts_threshold": before["failed_posts"] + 2,
            "alert_stuck_posts_threshold": before["stuck_posts"] + 2,
            "alert_overdue_posts_threshold": before["overdue_posts"] + 2,
            "alert_failed_posts_window_seconds": WINDOW,
            "alert_late_seconds": LATE,
        }
    )
    with WebhookReceiver() as hook:
        app = await AppState.create(settings.model_copy(update={"alert_webhook_url": hook.url}))
        try:
            assert vars(await check_publishing_health(app)) == before  # below: nothing
            db.add_all([*not_counted, *(p for posts in counted.values() for p in posts)])
            await db.commit()
            one = counted["stuck_posts"][0].id
            assert await _counts(db) == {k: v + 2 for k, v in before.items()}

            await check_publishing_health(app)
            kinds = await _wait_for(hook, 3)
            assert sorted(kinds) == [
                "publishing.failed_posts",
                "publishing.overdue_posts",
                "publishing.stuck_posts",
            ]
            by_kind = {e["event"]: e for e in hook.events}
            stuck = by_kind["publishing.stuck_posts"]
            assert stuck["count"] == before["stuck_posts"] + 2
            assert stuck["threshold"] == before["stuck_posts"] + 2 and stuck["lateSeconds"] == LATE
            assert by_kind["publishing.failed_posts"]["windowSeconds"] == WINDOW
            gauge = REGISTRY.get_sample_value(
                "instasched_publishing_alert_posts", {"check": "overdue_posts"}
            )
            assert gauge == before["overdue_posts"] + 2

            await check_publishing_health(app)  # still above: no second alert
            assert len(await _wait_for(hook, 4)) == 3

            # One stuck post is taken over: below the threshold, then stuck again: a new alert.
            await _set(db, one, lease_expires_at=now + minutes)
            await check_publishing_health(app)
            await _set(db, one, lease_expires_at=now - 5 * minutes)
            await check_publishing_health(app)
            assert (await _wait_for(hook, 4))[3:] == ["publishing.stuck_posts"]
        finally:
            await app.close()
            await db.execute(
                update(ScheduledPost)
                .where(ScheduledPost.instagram_account_id == account.id)
                .values(status="cancelled", lease_expires_at=None, failed_at=None)
            )
            await db.commit()


async def _set(db: AsyncSession, post_id: uuid.UUID, **values: Any) -> None:
    await db.execute(update(ScheduledPost).where(ScheduledPost.id == post_id).values(**values))
    await db.commit()
