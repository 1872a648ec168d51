"""Issue 16.12: post insights read again 1 h, 24 h and 7 d after publishing.

The session worker publishes; each test then makes readings due (moves `due_at` back) and runs
the refresh pass itself (the worker's own pass runs hourly in tests, see tests/conftest.py), so
the sandbox call counts are exact.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from instasched.config import Settings
from instasched.integrations.instagram.versions import DEFAULT_VERSION as GRAPH_VERSION
from instasched.optimal_times.repository import history_aggregate
from instasched.publishing import insights
from instasched.state import AppState
from tests.conftest import BackgroundWorker
from tests.factories import Account, User
from tests.publishing.conftest import Publishing

BASE = "/api/instagram/scheduling"
METRICS = {"views", "reach", "likes", "comments", "shares", "saved", "total_interactions"}


@pytest.fixture
async def app(app_settings: Settings, live_server: Any) -> AsyncIterator[AppState]:
    """The worker's state (engine, Redis, Graph client on the sandbox) for running passes."""
    state = await AppState.create(app_settings)
    try:
        yield state
    finally:
        await state.redis.delete(insights._pause_key(state))
        await state.close()


async def published(
    publishing: Publishing, media_type: str = "IMAGE", login_kind: str = "instagram"
) -> tuple[User, Account, uuid.UUID, dict[str, Any]]:
    user, account = await publishing.user_account(login_kind=login_kind)
    asset = await publishing.image(user)
    post_id = await publishing.post(user, account, media_type, [asset])
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published", post.last_publish_error
    [media] = await publishing.media(account.ig_user_id)
    return user, account, post_id, media


async def readings(publishing: Publishing, post_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    async with publishing.sessions() as session:
        rows = await session.execute(
            text("SELECT * FROM instagram_post_insights WHERE post_id = :id"), {"id": post_id}
        )
        return {r.checkpoint: dict(r._mapping) for r in rows}


async def make_due(publishing: Publishing, post_id: uuid.UUID, *checkpoints: str) -> None:
    async with publishing.sessions() as session:
        await session.execute(
            text(
                "UPDATE instagram_post_insights SET due_at = now() - interval '1 second' "
                "WHERE post_id = :id AND checkpoint = ANY(:names)"
            ),
            {"id": post_id, "names": list(checkpoints)},
        )
        await session.commit()


async def test_publication_plans_three_readings_and_a_pass_reads_them_with_history(
    publishing: Publishing, worker: Any, app: AppState
) -> None:
    user, account, post_id, media = await published(publishing)
    post = await publishing.get(post_id)
    planned = await readings(publishing, post_id)
    assert set(planned) == {"1h", "24h", "7d"}
    assert post.published_at is not None
    for name, offset in insights.CHECKPOINTS:
        assert planned[name]["state"] == "pending"
        assert planned[name]["due_at"] == post.published_at + offset

    await make_due(publishing, post_id, "1h")
    calls_before = (await publishing.calls(account.ig_user_id)).get("insights", 0)
    result = await insights.refresh_due(app)
    assert result.read >= 1
    first = (await readings(publishing, post_id))["1h"]
    assert first["state"] == "done" and first["fetched_at"] is not None
    assert (first["likes"], first["comments"]) == (media["likeCount"], media["commentsCount"])
    assert all(first[m] is not None for m in METRICS)
    assert (await publishing.calls(account.ig_user_id))["insights"] == calls_before + 1

    # A comment arrives; the 24 h reading sees it and the 1 h one is kept.
    r = await publishing.http.post(
        f"/sandbox/{GRAPH_VERSION}/{media['id']}/comments",
        data={"message": "late comment", "access_token": account.access_token},
    )
    assert r.status_code == 200, r.text
    await make_due(publishing, post_id, "24h")
    await insights.refresh_due(app)
    after = await readings(publishing, post_id)
    assert after["24h"]["comments"] == first["comments"] + 1
    assert after["1h"]["comments"] == first["comments"]
    assert after["7d"]["state"] == "pending"

    # The API shows the history, the latest reading and the next one.
    r = await publishing.http.get(f"{BASE}/posts/{post_id}/insights", headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["checkpoint"] for x in body["readings"]] == ["1h", "24h", "7d"]
    assert body["latest"]["checkpoint"] == "24h"
    assert body["latest"]["totalInteractions"] == after["24h"]["total_interactions"]
    assert body["initial"]["likes"] == post.initial_likes
    assert body["nextReadAt"] is not None
    # Another user's post is a 404, like an unknown one.
    other = await publishing.api.user()
    r = await publishing.http.get(f"{BASE}/posts/{post_id}/insights", headers=other.headers)
    assert r.status_code == 404


async def test_optimal_times_rank_by_the_24h_reading(
    publishing: Publishing, worker: Any, app: AppState
) -> None:
    user, account, post_id, _ = await published(publishing)
    post = await publishing.get(post_id)

    async def engagement() -> float:
        async with publishing.sessions() as session:
            found = await history_aggregate(
                session, workspace_id=user.id, account_id=account.id, timezone="UTC", prior_weight=3
            )
        return found.cells[0].average_engagement

    assert await engagement() == (post.initial_likes or 0) + 2 * (post.initial_comments or 0)
    async with publishing.sessions() as session:
        await session.execute(
            text(
                "UPDATE instagram_post_insights SET state = 'done', likes = 500, comments = 40, "
                "reach = 900, fetched_at = now() WHERE post_id = :id AND checkpoint = '24h'"
            ),
            {"id": post_id},
        )
        await session.commit()
    assert await engagement() == 500 + 2 * 40


async def test_a_deleted_media_stops_its_readings(
    publishing: Publishing, worker: Any, app: AppState
) -> None:
    _, account, post_id, media = await published(publishing)
    r = await publishing.http.delete(f"/sandbox/_control/media/{media['id']}")
    assert r.status_code == 200, r.text
    await make_due(publishing, post_id, "1h")
    await insights.refresh_due(app)
    rows = await readings(publishing, post_id)
    assert {row["state"] for row in rows.values()} == {"stopped"}
    assert all("deleted" in (row["error"] or "") for row in rows.values())
    calls = (await publishing.calls(account.ig_user_id)).get("insights", 0)
    await make_due(publishing, post_id, "24h", "7d")
    await insights.refresh_due(app)
    assert (await publishing.calls(account.ig_user_id)).get("insights", 0) == calls


async def test_a_rate_limit_gives_the_claims_back_and_pauses_every_worker(
    publishing: Publishing, worker: Any, app: AppState
) -> None:
    _, account, post_id, _ = await published(publishing)
    await publishing.fault(
        account.ig_user_id,
        "insights",
        error={"code": 4, "subcode": None, "message": "Application request limit reached"},
    )
    await make_due(publishing, post_id, "1h", "24h")
    before = datetime.now(UTC)
    result = await insights.refresh_due(app)
    assert result.paused
    rows = await readings(publishing, post_id)
    for name in ("1h", "24h"):
        assert rows[name]["state"] == "pending" and rows[name]["attempts"] == 0
        assert rows[name]["due_at"] >= before + insights.RATE_LIMIT_PAUSE - timedelta(seconds=5)
    # The next pass (any process) does not call Instagram while the pause lasts.
    calls = (await publishing.calls(account.ig_user_id)).get("insights", 0)
    await make_due(publishing, post_id, "1h")
    again = await insights.refresh_due(app)
    assert again.paused and again.read == 0
    assert (await publishing.calls(account.ig_user_id)).get("insights", 0) == calls


async def test_concurrent_passes_read_each_reading_once(
    publishing: Publishing, worker: Any, app: AppState, app_settings: Settings
) -> None:
    posts = [await published(publishing) for _ in range(3)]
    for _, _, post_id, _ in posts:
        await make_due(publishing, post_id, "1h", "24h")
    other = await AppState.create(app_settings)
    try:
        results = await asyncio.gather(
            insights.refresh_due(app, limit=10), insights.refresh_due(other, limit=10)
        )
    finally:
        await other.close()
    assert sum(r.read for r in results) >= 6
    for _, account, post_id, _ in posts:
        rows = await readings(publishing, post_id)
        assert rows["1h"]["state"] == rows["24h"]["state"] == "done"
        assert rows["1h"]["attempts"] == rows["24h"]["attempts"] == 1
        assert (await publishing.calls(account.ig_user_id))["insights"] == 2


async def test_stories_plan_no_readings(publishing: Publishing, worker: Any) -> None:
    _, _, post_id, _ = await published(publishing, "STORIES")
    assert await readings(publishing, post_id) == {}


@pytest.mark.parametrize("metric", ["impressions", "plays"])
async def test_the_sandbox_refuses_deprecated_metrics(
    publishing: Publishing, worker: Any, metric: str
) -> None:
    _, account, _, media = await published(publishing)
    r = await publishing.http.get(
        f"/sandbox/{GRAPH_VERSION}/{media['id']}/insights",
        params={"metric": f"reach,{metric}", "access_token": account.access_token},
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == 100
    r = await publishing.http.get(
        f"/sandbox/{GRAPH_VERSION}/{media['id']}/insights",
        params={"metric": ",".join(sorted(METRICS)), "access_token": account.access_token},
    )
    assert r.status_code == 200, r.text
    assert {m["name"] for m in r.json()["data"]} == METRICS


async def test_the_worker_runs_the_pass_periodically(
    publishing: Publishing, worker: Any, app_settings: Settings
) -> None:
    """A worker process reads due insights on its own (every INSIGHTS_REFRESH_INTERVAL_SECONDS)."""
    _, _, post_id, _ = await published(publishing)
    await make_due(publishing, post_id, "1h")
    second = BackgroundWorker(
        app_settings.model_copy(update={"insights_refresh_interval_seconds": 0.2})
    )
    await asyncio.to_thread(second.start)
    try:
        for _ in range(100):
            if (await readings(publishing, post_id))["1h"]["state"] == "done":
                break
            await asyncio.sleep(0.1)
    finally:
        await asyncio.to_thread(second.stop)
    assert (await readings(publishing, post_id))["1h"]["state"] == "done"


async def test_readings_of_a_facebook_login_account_go_to_graph_facebook_com(
    publishing: Publishing, worker: Any, app: AppState
) -> None:
    """Its Page token works only on graph.facebook.com: the pass reads there."""
    _, _, post_id, _ = await published(publishing, login_kind="facebook")
    await make_due(publishing, post_id, "1h")
    await insights.refresh_due(app)
    reading = (await readings(publishing, post_id))["1h"]
    assert reading["state"] == "done" and reading["error"] is None, reading
    assert all(reading[m] is not None for m in METRICS)
