"""Pre-staged containers (instasched.publishing.staging, docs/staging.md): containers made a lead
before the due time and waited for until FINISHED; edits, cancels, expiry, Meta's rejection, the
400-containers limit and a worker killed after staging, each published exactly once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from instasched.kit.time import utcnow
from instasched.models import ContainerCreation, ScheduledPost
from instasched.observability.metrics import REGISTRY
from instasched.publishing import staging
from instasched.publishing.service import Publisher
from instasched.publishing.stager import Stager
from instasched.state import AppState
from instasched.worker.queue import PostJob
from tests.factories import Account, User
from tests.ops.webhook import WebhookReceiver
from tests.publishing.conftest import Publishing
from tests.publishing.test_recovery import ROOT, worker_env

BASE = "/api/instagram/scheduling"


async def staged_post(
    publishing: Publishing,
    user: User,
    account: Account,
    media_type: str,
    assets: list[Any],
    *,
    due_in: float = 40.0,
    **fields: Any,
) -> uuid.UUID:
    """A post due in `due_in` seconds, with the jobs `jobs_for` gives it (as the API enqueues)."""
    due = datetime.now(UTC) + timedelta(seconds=due_in)
    post_id = await publishing.post(
        user, account, media_type, assets, due=due, enqueue=False, **fields
    )
    post = await publishing.get(post_id)
    jobs = staging.jobs_for(post, settings=publishing.settings, now=utcnow())
    assert [job.kind for job in jobs] == ["publish", "stage"]
    await publishing.queue.schedule_many(jobs)
    return post_id


async def wait_staging(
    publishing: Publishing, post_id: uuid.UUID, *statuses: str | None, timeout: float = 30.0
) -> ScheduledPost:
    deadline = time.monotonic() + timeout
    while True:
        post = await publishing.get(post_id)
        if post.staging_status in statuses:
            return post
        if time.monotonic() > deadline:
            raise AssertionError(
                f"staging of {post_id} is {post.staging_status} (wanted {statuses}); "
                f"error={post.staging_error!r} status={post.status}"
            )
        await asyncio.sleep(0.1)


async def api_post(publishing: Publishing, user: User, post: ScheduledPost) -> dict[str, Any]:
    r = await publishing.http.get(
        f"{BASE}/posts/{post.instagram_account_id}/{post.id}", headers=user.headers
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def publish_now(publishing: Publishing, user: User, post_id: uuid.UUID) -> dict[str, Any]:
    r = await publishing.http.post(
        f"{BASE}/posts/{post_id}/publish-now", params={"waitSeconds": 30}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["status"] == "published", body
    return body


async def media_with(publishing: Publishing, account: Account, caption: str) -> list[Any]:
    return [m for m in await publishing.media(account.ig_user_id) if m["caption"] == caption]


@pytest.mark.parametrize("media_type", ["IMAGE", "REELS", "CAROUSEL"])
async def test_staged_ahead_then_only_media_publish_at_the_due_time(
    publishing: Publishing, worker: Any, media_type: str
) -> None:
    user, account = await publishing.user_account()
    if media_type == "REELS":
        assets = [await publishing.video(user)]
    else:
        assets = [await publishing.image(user) for _ in range(2 if media_type == "CAROUSEL" else 1)]
    caption = f"staged {media_type} {uuid.uuid4().hex[:6]}"
    post_id = await staged_post(
        publishing, user, account, media_type, assets, due_in=8, caption=caption
    )
    post = await wait_staging(publishing, post_id, "staged", "failed")
    assert post.staging_status == "staged", post.staging_error
    assert post.status == "scheduled" and post.container_id and post.staged_at
    body = await api_post(publishing, user, post)
    assert body["staging"]["status"] == "staged"
    assert body["staging"]["containerId"] == post.container_id
    assert body["staging"]["error"] is None
    expires = datetime.fromisoformat(body["staging"]["expiresAt"])
    assert post.container_created_at is not None
    assert expires == post.container_created_at + timedelta(hours=24)
    children = 2 if media_type == "CAROUSEL" else 0
    assert len(post.child_container_ids) == children
    before = await publishing.calls(account.ig_user_id)
    assert before.get("media_publish", 0) == 0
    assert before["media"] == 1 + children

    published = await publishing.wait(post_id, "published", "failed", timeout=30)
    assert published.status == "published", published.last_publish_error
    media = await media_with(publishing, account, caption)
    assert [m["id"] for m in media] == [published.instagram_media_id]
    assert media[0]["containerId"] == post.container_id
    assert (published.meta or {}).get("publishedFromStaged") == post.container_id
    after = await publishing.calls(account.ig_user_id)
    # At the due time: media_publish, and no container made or read.
    assert after["media"] == before["media"]
    assert after.get("container_status", 0) == before.get("container_status", 0)
    assert after["media_publish"] == 1
    # The containers count in the account's 24 h ledger (the 400 containers per 24 h).
    async with publishing.sessions() as session:
        rows = (
            await session.execute(
                ContainerCreation.__table__.select().where(
                    ContainerCreation.instagram_account_id == account.id
                )
            )
        ).all()
    assert sum(r.containers for r in rows) == 1 + children
    # The post's history: the staging (its Graph calls, then "staged"), then the publication.
    r = await publishing.http.get(f"{BASE}/posts/{post_id}/history", headers=user.headers)
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    kinds = [e["kind"] for e in events]
    staged_at = kinds.index("staged")
    assert events[staged_at]["detail"]["result"] == "staged"
    assert "ready to publish" in events[staged_at]["summary"]
    assert "graph_call" in kinds[:staged_at]  # the container, made ahead
    assert staged_at < kinds.index("published")


async def test_a_passing_failure_while_staging_is_tried_again(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    await publishing.fault(
        account.ig_user_id,
        "media",
        error={"code": 2, "subcode": None, "message": "Service temporarily unavailable"},
    )
    post_id = await staged_post(publishing, user, account, "IMAGE", [image])
    post = await wait_staging(publishing, post_id, "staged", "failed")
    assert post.staging_status == "staged", post.staging_error
    assert (await publishing.calls(account.ig_user_id))["media"] == 2
    await cancel(publishing, user, post_id)


async def test_staged_then_edited_discards_and_stages_again(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    post_id = await staged_post(publishing, user, account, "IMAGE", [image], caption="Before")
    first = await wait_staging(publishing, post_id, "staged")
    # A field no container carries: the staged container stays.
    r = await publishing.http.put(
        f"{BASE}/posts/{post_id}", json={"firstComment": "hello"}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["staging"]["containerId"] == first.container_id
    # The caption is in the container: discarded, and staged again with the new caption.
    r = await publishing.http.put(
        f"{BASE}/posts/{post_id}", json={"caption": "After the edit"}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["staging"] is None  # discarded (staged again after the commit)
    second = await wait_staging(publishing, post_id, "staged")
    assert second.container_id and second.container_id != first.container_id
    body = await publish_now(publishing, user, post_id)
    assert await media_with(publishing, account, "Before") == []
    media = await media_with(publishing, account, "After the edit")
    assert [m["id"] for m in media] == [body["instagramMediaId"]]
    assert media[0]["containerId"] == second.container_id


async def test_edit_after_a_retry_does_not_publish_the_old_container(
    publishing: Publishing, app: AppState, no_worker: None
) -> None:
    """A container made at the due time and kept for a retry carries the old caption: an edit
    of the caption discards it too (before, the retry published the old caption)."""
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    await publishing.fault(
        account.ig_user_id,
        "media_publish",
        error={"code": 2, "subcode": None, "message": "Service temporarily unavailable"},
    )
    post_id = await publishing.post(
        user, account, "IMAGE", [image], caption="Old caption", enqueue=False
    )
    await asyncio.sleep(0.3)
    publisher = Publisher(app)
    assert (await publisher.process(post_id)).kind == "retry"
    old = await publishing.get(post_id)
    assert old.status == "scheduled" and old.container_id is not None
    r = await publishing.http.put(
        f"{BASE}/posts/{post_id}", json={"caption": "New caption"}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    assert (await publishing.get(post_id)).container_id is None
    await asyncio.sleep(publishing.settings.publish_retry_base_seconds + 0.1)
    assert (await publisher.process(post_id)).kind == "published"
    assert await media_with(publishing, account, "Old caption") == []
    assert len(await media_with(publishing, account, "New caption")) == 1


async def test_staged_then_cancelled_discards_and_removes_its_jobs(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    post_id = await staged_post(publishing, user, account, "IMAGE", [image])
    await wait_staging(publishing, post_id, "staged")
    r = await publishing.http.delete(f"{BASE}/posts/{post_id}", headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.json()["post"]["staging"] is None
    post = await publishing.get(post_id)
    assert post.status == "cancelled"
    assert post.container_id is None and post.staging_status is None
    jobs = [PostJob("publish", post_id, post.scheduled_for).job_id]
    jobs.append(PostJob("stage", post_id, post.scheduled_for).job_id)
    assert await publishing.queue.existing(jobs) == set()
    assert staging.jobs_for(post, settings=publishing.settings, now=utcnow()) == []
    assert (await publishing.calls(account.ig_user_id)).get("media_publish", 0) == 0


async def test_staged_container_expiring_before_the_due_time_is_staged_again(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    post_id = await staged_post(publishing, user, account, "IMAGE", [image], caption="Expiring")
    first = await wait_staging(publishing, post_id, "staged")
    # 25 h pass for the container: at Meta (the sandbox's clock) and in our record of it.
    r = await publishing.http.post(f"/sandbox/_control/containers/{first.container_id}/expire")
    assert r.status_code == 200 and r.json()["statusCode"] == "EXPIRED", r.text
    async with publishing.sessions() as session:
        await session.execute(
            update(ScheduledPost)
            .where(ScheduledPost.id == post_id)
            .values(container_created_at=ScheduledPost.container_created_at - timedelta(hours=25))
        )
        await session.commit()
    # The reconciler (every second in tests) sees the post needs staging again.
    deadline = time.monotonic() + 30
    while True:
        post = await publishing.get(post_id)
        if post.staging_status == "staged" and post.container_id != first.container_id:
            break
        assert time.monotonic() < deadline, (post.staging_status, post.container_id)
        await asyncio.sleep(0.1)
    body = await publish_now(publishing, user, post_id)
    media = await media_with(publishing, account, "Expiring")
    assert [m["id"] for m in media] == [body["instagramMediaId"]]
    assert media[0]["containerId"] == post.container_id


async def test_container_expired_at_meta_unknown_to_us_still_publishes_once(
    publishing: Publishing, worker: Any
) -> None:
    """media_publish refuses the staged container: it is read (EXPIRED), a new one is made."""
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    post_id = await staged_post(publishing, user, account, "IMAGE", [image], caption="Stale")
    first = await wait_staging(publishing, post_id, "staged")
    r = await publishing.http.post(f"/sandbox/_control/containers/{first.container_id}/expire")
    assert r.status_code == 200, r.text
    r = await publishing.http.post(
        f"{BASE}/posts/{post_id}/publish-now", params={"waitSeconds": 0}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published", post.last_publish_error
    media = await media_with(publishing, account, "Stale")
    assert [m["id"] for m in media] == [post.instagram_media_id]
    assert media[0]["containerId"] == post.container_id != first.container_id
    assert post.publish_attempts == 2


async def test_staging_rejected_by_meta_shows_on_the_post_early_and_alerts(
    publishing: Publishing, live_server: Any, no_worker: None
) -> None:
    user, account = await publishing.user_account()
    wide = await publishing.image(user, width=1080, height=300)  # 3.6:1, Meta refuses it
    due = datetime.now(UTC) + timedelta(minutes=30)
    post_id = await publishing.post(user, account, "IMAGE", [wide], due=due, enqueue=False)
    settings = publishing.settings
    counted = {"result": "failed"}
    failures = REGISTRY.get_sample_value("instasched_post_stagings_total", counted) or 0.0
    with WebhookReceiver() as hook:
        app = await AppState.create(settings.model_copy(update={"alert_webhook_url": hook.url}))
        try:
            outcome = await Stager(Publisher(app)).stage(post_id)
            assert outcome.kind == "failed"
            deadline = time.monotonic() + 10
            while not hook.events and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await app.close()
    assert REGISTRY.get_sample_value("instasched_post_stagings_total", counted) == failures + 1
    post = await publishing.get(post_id)
    assert post.status == "scheduled"  # 30 minutes before its time
    assert post.staging_status == "failed" and post.container_id is None
    body = await api_post(publishing, user, post)
    assert body["staging"]["status"] == "failed"
    assert "aspect ratio" in body["staging"]["error"]
    [event] = [e for e in hook.events if e["event"] == "post.staging_failed"]
    assert event["postId"] == str(post_id) and event["accountId"] == str(account.id)
    assert event["message"] == post.staging_error and event["errorCode"]
    # Replacing the media discards the failure: the post is staged again when due.
    good = await publishing.image(user)
    r = await publishing.http.put(
        f"{BASE}/posts/{post_id}", json={"mediaIds": [str(good.id)]}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["staging"] is None
    await cancel(publishing, user, post_id)


async def cancel(publishing: Publishing, user: User, post_id: uuid.UUID) -> None:
    r = await publishing.http.delete(f"{BASE}/posts/{post_id}", headers=user.headers)
    assert r.status_code == 200, r.text


async def test_containers_of_24h_used_up_defer_staging_to_the_due_time(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    async with publishing.sessions() as session:  # 400 containers made in the last hour
        session.add(
            ContainerCreation(
                instagram_account_id=account.id,
                created_at=datetime.now(UTC) - timedelta(hours=1),
                containers=publishing.settings.staging_container_limit,
            )
        )
        await session.commit()
    post_id = await staged_post(publishing, user, account, "IMAGE", [image], caption="Deferred")
    post = await wait_staging(publishing, post_id, "deferred", "staged", "failed")
    assert post.staging_status == "deferred"
    assert post.staging_error and "400" in post.staging_error and "due time" in post.staging_error
    assert (await publishing.calls(account.ig_user_id)).get("media", 0) == 0  # none made
    body = await api_post(publishing, user, post)
    assert body["staging"]["status"] == "deferred"
    assert body["staging"]["error"] == post.staging_error
    # No staging job any more; at the due time the containers are made as without staging.
    assert [j.kind for j in staging.jobs_for(post, settings=publishing.settings, now=utcnow())] == [
        "publish"
    ]
    body = await publish_now(publishing, user, post_id)
    assert [m["id"] for m in await media_with(publishing, account, "Deferred")] == [
        body["instagramMediaId"]
    ]


async def test_meta_refusing_a_container_defers_staging_to_the_due_time(
    publishing: Publishing, worker: Any
) -> None:
    """Meta's own count (code 9, its container limit) is the last word."""
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    await publishing.fault(
        account.ig_user_id,
        "media",
        error={"code": 9, "subcode": None, "message": "Application request limit reached"},
    )
    post_id = await staged_post(publishing, user, account, "IMAGE", [image], caption="Code 9")
    post = await wait_staging(publishing, post_id, "deferred", "staged", "failed")
    assert post.staging_status == "deferred", post.staging_error
    assert post.staging_error and "Application request limit reached" in post.staging_error
    body = await publish_now(publishing, user, post_id)
    assert [m["id"] for m in await media_with(publishing, account, "Code 9")] == [
        body["instagramMediaId"]
    ]


async def test_worker_killed_after_staging_recovers_from_the_staged_container(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    # media_publish takes 3 s: the subprocess is killed while it waits for the answer.
    await publishing.fault(account.ig_user_id, "media_publish", latencyMs=3000)
    worker.pause()  # the subprocess must be the one that stages and claims the post
    proc = subprocess.Popen(
        [sys.executable, "-m", "instasched", "worker"],
        cwd=ROOT,
        env=worker_env(
            publishing.settings, PUBLISH_LEASE_SECONDS="5", STAGING_LEAD_SECONDS_IMAGE="60"
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        post_id = await staged_post(
            publishing, user, account, "IMAGE", [image], due_in=8, caption="Killed after staging"
        )
        staged = await wait_staging(publishing, post_id, "staged", timeout=60)
        deadline = time.monotonic() + 60
        while (await publishing.get(post_id)).status != "publishing":
            assert proc.poll() is None, "the worker subprocess exited"
            assert time.monotonic() < deadline, "never claimed"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # inside media_publish's 3 s
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert (await publishing.get(post_id)).status == "publishing"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        worker.resume()
    # The session's worker takes the expired lease over and reads the container: published.
    post = await publishing.wait(post_id, "published", "failed", timeout=45)
    assert post.status == "published", post.last_publish_error
    media = await media_with(publishing, account, "Killed after staging")
    assert [m["id"] for m in media] == [post.instagram_media_id]
    assert post.container_id == staged.container_id == media[0]["containerId"]
    assert (post.meta or {}).get("recoveredFromContainer") == staged.container_id
    assert post.publish_attempts == 1
    calls = await publishing.calls(account.ig_user_id)
    assert calls["media"] == 1 and calls["media_publish"] == 1


def test_jobs_for_by_kind_and_state(app_settings: Any) -> None:
    """The one answer to which jobs a post needs (create, edit, reconciler, promoter)."""
    now = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)
    settings = app_settings.model_copy(
        update={
            "staging_lead_seconds_image": 120.0,
            "staging_lead_seconds_video": 900.0,
            "staging_lead_seconds_carousel": 0.0,
        }
    )

    def post(**fields: Any) -> Any:
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "status": "scheduled",
            "scheduled_for": now + timedelta(hours=1),
            "next_attempt_at": None,
            "media_type": "IMAGE",
            "container_id": None,
            "container_created_at": None,
            "staging_status": None,
        }
        values.update(fields)
        return type("Row", (), values)()

    due = now + timedelta(hours=1)
    image = post()
    assert [(j.kind, j.due_at) for j in staging.jobs_for(image, settings=settings, now=now)] == [
        ("publish", due),
        ("stage", due - timedelta(seconds=120)),
    ]
    reel = post(media_type="REELS", scheduled_for=now + timedelta(minutes=5))
    assert [(j.kind, j.due_at) for j in staging.jobs_for(reel, settings=settings, now=now)] == [
        ("publish", now + timedelta(minutes=5)),
        ("stage", now),  # the lead is past: at once
    ]
    kinds = [
        [j.kind for j in staging.jobs_for(p, settings=settings, now=now)]
        for p in (
            post(media_type="CAROUSEL"),  # lead 0: not staged
            post(scheduled_for=now + timedelta(seconds=2)),  # too close to stage
            post(staging_status="staged", container_id="1", container_created_at=now),
            post(staging_status="failed"),
            post(staging_status="deferred"),
            post(staging_status="staging", container_id="1"),  # its worker may have died
            post(  # the staged container dies before the due time
                staging_status="staged",
                container_id="1",
                container_created_at=now - timedelta(hours=23),
            ),
            post(container_id="1", container_created_at=now),  # made at the due time
        )
    ]
    assert kinds == [
        ["publish"],
        ["publish"],
        ["publish"],
        ["publish"],
        ["publish"],
        ["publish", "stage"],
        ["publish", "stage"],
        ["publish"],
    ]
    assert staging.jobs_for(post(status="published"), settings=settings, now=now) == []


async def test_a_staging_whose_worker_died_is_taken_over_from_its_container(
    publishing: Publishing, app: AppState, no_worker: None
) -> None:
    """The container id is stored before the wait: a staging taken over reads it, makes none."""
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    due = datetime.now(UTC) + timedelta(minutes=30)
    post_id = await publishing.post(user, account, "IMAGE", [image], due=due, enqueue=False)
    stager = Stager(Publisher(app))
    assert (await stager.stage(post_id)).detail == "staged"
    staged = await publishing.get(post_id)
    # Nothing left to stage: the job ends.
    assert (await stager.stage(post_id)).kind == "skipped"

    async def set_staging(lease: datetime) -> None:
        async with publishing.sessions() as session:
            await session.execute(
                update(ScheduledPost)
                .where(ScheduledPost.id == post_id)
                .values(staging_status="staging", staging_lease_expires_at=lease, staged_at=None)
            )
            await session.commit()

    # Another worker holds the staging: look again once its lease would have expired.
    lease = datetime.now(UTC) + timedelta(seconds=30)
    await set_staging(lease)
    outcome = await stager.stage(post_id)
    assert outcome.kind == "not_due" and outcome.due_at == lease + timedelta(seconds=1)
    # Its worker died after storing the container: taken over, the container read, not remade.
    await set_staging(datetime.now(UTC) - timedelta(seconds=1))
    assert (await stager.stage(post_id)).detail == "staged"
    post = await publishing.get(post_id)
    assert post.staging_status == "staged" and post.container_id == staged.container_id
    assert (await publishing.calls(account.ig_user_id))["media"] == 1
    await cancel(publishing, user, post_id)
    assert (await stager.stage(post_id)).kind == "skipped"
    assert (await stager.stage(uuid.uuid4())).detail == "post deleted"


async def test_a_story_sequence_is_not_staged_ahead_and_publishes_every_story(
    publishing: Publishing, app: AppState, worker: Any
) -> None:
    """Several stories as one post (publishing/sequence.py) make each story's container in turn
    at the due time: staging defers them (said on the post) and creates no container."""
    user, account = await publishing.user_account()
    stories = [await publishing.image(user, width=1080, height=1920) for _ in range(2)]
    due = datetime.now(UTC) + timedelta(minutes=30)
    post_id = await publishing.post(user, account, "STORIES", stories, due=due, enqueue=False)
    outcome = await Stager(Publisher(app)).stage(post_id)
    assert outcome.detail == "deferred", outcome
    post = await publishing.get(post_id)
    assert post.staging_status == "deferred" and post.container_id is None
    assert "stories of a sequence" in (post.staging_error or "")
    assert staging.jobs_for(post, settings=publishing.settings, now=utcnow()) == [
        PostJob("publish", post_id, due, account.id)
    ]
    async with publishing.sessions() as session:
        made = await session.scalar(
            select(func.count())
            .select_from(ContainerCreation)
            .where(ContainerCreation.instagram_account_id == account.id)
        )
    assert made == 0
    body = await publish_now(publishing, user, post_id)
    assert [s["status"] for s in body["storyItems"]] == ["published", "published"]


async def test_a_container_published_meanwhile_by_another_worker_is_found_not_failed(
    publishing: Publishing, app: AppState
) -> None:
    """A worker that lost its lease published the staged container just before the one that
    took the post over: media_publish answers (#100) "already published", the container reads
    PUBLISHED, and the post is published once (its media found), not failed."""
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    caption = f"published meanwhile {uuid.uuid4().hex[:6]}"
    due = datetime.now(UTC) + timedelta(minutes=30)
    post_id = await publishing.post(
        user, account, "IMAGE", [image], due=due, enqueue=False, caption=caption
    )
    publisher = Publisher(app)
    assert (await Stager(publisher).stage(post_id)).detail == "staged"
    staged = await publishing.get(post_id)
    graph = publisher.graph.for_kind("instagram")
    other_worker = await graph.publish_container(
        account.ig_user_id, staged.container_id, account.access_token
    )
    async with publishing.sessions() as session:
        await session.execute(
            update(ScheduledPost)
            .where(ScheduledPost.id == post_id)
            .values(scheduled_for=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    outcome = await publisher.process(post_id)
    assert outcome.kind == "published", outcome
    post = await publishing.get(post_id)
    assert post.status == "published" and post.instagram_media_id == other_worker
    assert [m["id"] for m in await media_with(publishing, account, caption)] == [other_worker]
