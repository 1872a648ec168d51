"""A worker killed mid-publish, Redis losing its data, two workers racing: nothing is lost and
nothing is published twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import select

from instasched.config import Settings
from instasched.db import driver_connection
from instasched.integrations.instagram.versions import DEFAULT_VERSION as GRAPH_VERSION
from instasched.models import ScheduledPost
from instasched.publishing import repository
from instasched.worker.queue import QUEUE_NAME
from tests.publishing.conftest import Publishing

ROOT = Path(__file__).resolve().parents[2]


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    env.update(
        {
            "INSTASCHED_ENV": "test",
            "HOST": "127.0.0.1",
            "PORT": str(settings.port),
            "DATABASE_URL": settings.require_database_url(),
            "REDIS_URL": settings.require_redis_url(),
            "QUEUE_PREFIX": settings.queue_prefix,
            "S3_ENDPOINT": settings.s3_endpoint or "",
            "S3_ACCESS_KEY": settings.s3_access_key or "",
            "S3_SECRET_KEY": settings.s3_secret_key or "",
            "S3_BUCKET": settings.s3_bucket,
            "JWT_SECRET": settings.jwt_secret or "",
            "TOKEN_ENCRYPTION_KEY": settings.token_encryption_key or "",
            "INSTAGRAM_SANDBOX": "true",
            "PUBLISH_RETRY_BASE_SECONDS": str(settings.publish_retry_base_seconds),
            "RECONCILE_INTERVAL_SECONDS": "1",
            "LOG_FORMAT": "console",
            "INSTASCHED_DATA_DIR": str(ROOT / ".instasched-test-worker"),
        }
    )
    env.update(extra)
    return env


async def test_worker_killed_mid_publish_is_recovered_without_duplicate(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    # media_publish takes 3 s: the subprocess is killed while it waits for the answer.
    await publishing.fault(account.ig_user_id, "media_publish", latencyMs=3000)
    worker.pause()  # the subprocess must be the one that claims the post
    proc = subprocess.Popen(
        [sys.executable, "-m", "instasched", "worker"],
        cwd=ROOT,
        env=worker_env(publishing.settings, PUBLISH_LEASE_SECONDS="5"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        post_id = await publishing.post(user, account, "IMAGE", [image], caption="Kill me")
        deadline = time.monotonic() + 60
        while True:
            post = await publishing.get(post_id)
            if post.status == "publishing" and post.container_id:
                break
            assert proc.poll() is None, "the worker subprocess exited"
            assert time.monotonic() < deadline, f"never reached media_publish: {post.status}"
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
    media = await publishing.media(account.ig_user_id)
    assert len(media) == 1, media
    assert post.instagram_media_id == media[0]["id"]
    assert post.container_id == media[0]["containerId"]
    assert (post.meta or {}).get("recoveredFromContainer") == post.container_id
    assert post.publish_attempts == 1


async def lose_the_queue(publishing: Publishing, *also: str) -> None:
    """What a Redis restart without persistence does to this run's queue (the server is shared,
    so only this run's keys go, not FLUSHALL), and to the keys `also`."""
    client = aioredis.from_url(publishing.settings.require_redis_url())
    try:
        pattern = f"{publishing.settings.queue_prefix}:{QUEUE_NAME}:*"
        keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
        assert keys
        await client.delete(*keys, *also)
    finally:
        await client.aclose()


async def test_redis_loses_every_job_and_the_reconciler_restores_them(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    due = datetime.now(UTC) + timedelta(seconds=3)
    post_ids = [
        await publishing.post(user, account, "IMAGE", [image], due=due, caption=f"lost {i}")
        for i in range(5)
    ]
    assert len(await publishing.queue.existing_job_ids(post_ids)) == 5
    await lose_the_queue(publishing)
    assert await publishing.queue.existing_job_ids(post_ids) == set()
    for post_id in post_ids:
        post = await publishing.wait(post_id, "published", "failed", timeout=30)
        assert post.status == "published", post.last_publish_error
    media = await publishing.media(account.ig_user_id)
    assert sorted(m["caption"] for m in media) == [f"lost {i}" for i in range(5)]


async def test_two_workers_taking_over_the_same_post_only_one_wins(
    publishing: Publishing,
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    post_id = await publishing.post(
        user,
        account,
        "IMAGE",
        [image],
        due=datetime.now(UTC) + timedelta(days=30),
        enqueue=False,
    )
    # Expired as of an hour from now: the session's reconciler (real time) leaves it alone.
    expired = datetime.now(UTC) + timedelta(minutes=30)
    async with publishing.sessions() as session:
        row = (
            await session.execute(select(ScheduledPost).where(ScheduledPost.id == post_id))
        ).scalar_one()
        row.status = "publishing"
        row.lease_expires_at = expired
        await session.commit()

    async def take() -> bool:
        async with publishing.sessions() as session:
            now = datetime.now(UTC) + timedelta(hours=1)
            taken = await repository.take_over(
                await driver_connection(session, write=True),  # in the session's transaction
                post_id,
                expired_lease=expired,
                now=now,
                lease_until=now + timedelta(minutes=10),
            )
            await asyncio.sleep(0.05)  # hold the row lock a moment
            await session.commit()
            return taken is not None

    results = await asyncio.gather(*(take() for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    async with publishing.sessions() as session:
        row = (
            await session.execute(select(ScheduledPost).where(ScheduledPost.id == post_id))
        ).scalar_one()
        row.status = "cancelled"  # keep the session's reconciler away from it
        row.lease_expires_at = None
        await session.commit()


async def test_claim_leaves_cancelled_and_edited_posts_alone(
    publishing: Publishing,
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    now = datetime.now(UTC)
    cancelled = await publishing.post(user, account, "IMAGE", [image], due=now, enqueue=False)
    later = await publishing.post(
        user, account, "IMAGE", [image], due=now + timedelta(hours=1), enqueue=False
    )
    async with publishing.sessions() as session:
        row = await session.get(ScheduledPost, cancelled)
        assert row is not None
        row.status = "cancelled"
        await session.commit()
    async with publishing.engine.connect() as connection:
        conn = (await connection.get_raw_connection()).driver_connection
        lease = now + timedelta(minutes=2)
        assert await repository.claim(conn, cancelled, now=now, lease_until=lease) is None
        assert await repository.claim(conn, later, now=now, lease_until=lease) is None
    async with publishing.sessions() as session:
        row = await session.get(ScheduledPost, later)
        assert row is not None
        row.status = "cancelled"  # not for the session's reconciler
        await session.commit()


async def _stuck_post(publishing: Publishing, post_id: Any, container_id: str) -> None:
    """What a worker that died just after storing the container leaves behind."""
    async with publishing.sessions() as session:
        row = await session.get(ScheduledPost, post_id)
        assert row is not None
        row.status = "publishing"
        row.publish_attempts = 1
        row.container_id = container_id
        row.container_created_at = datetime.now(UTC)
        row.publishing_started_at = datetime.now(UTC)
        row.lease_expires_at = datetime.now(UTC) - timedelta(seconds=1)
        await session.commit()


async def test_recovery_publishes_a_finished_container_once(
    publishing: Publishing, worker: Any
) -> None:
    from instasched.integrations.instagram import GraphClient
    from instasched.integrations.instagram.media import ContainerSpec

    user, account = await publishing.user_account()
    image = await publishing.image(user)
    post_id = await publishing.post(
        user, account, "IMAGE", [image], due=datetime.now(UTC) + timedelta(days=1), enqueue=False
    )
    url = await publishing.storage.presign_get(image.s3_key, 3600)
    graph = GraphClient(
        base_url=str(publishing.http.base_url).rstrip("/") + "/sandbox", version=GRAPH_VERSION
    )
    try:
        container = await graph.create_container(
            account.ig_user_id, account.access_token, ContainerSpec(image_url=url, caption="x")
        )
    finally:
        await graph.close()
    await _stuck_post(publishing, post_id, container)
    post = await publishing.wait(post_id, "published", "failed", timeout=30)
    assert post.status == "published", post.last_publish_error
    media = await publishing.media(account.ig_user_id)
    assert [m["containerId"] for m in media] == [container]
    assert post.instagram_media_id == media[0]["id"]


async def test_recovery_replaces_an_expired_container(publishing: Publishing, worker: Any) -> None:
    from instasched.integrations.instagram import GraphClient
    from instasched.integrations.instagram.media import ContainerSpec

    user, account = await publishing.user_account()
    image = await publishing.image(user)
    post_id = await publishing.post(
        user, account, "IMAGE", [image], due=datetime.now(UTC) + timedelta(days=1), enqueue=False
    )
    url = await publishing.storage.presign_get(image.s3_key, 3600)
    graph = GraphClient(
        base_url=str(publishing.http.base_url).rstrip("/") + "/sandbox", version=GRAPH_VERSION
    )
    try:
        old = await graph.create_container(
            account.ig_user_id, account.access_token, ContainerSpec(image_url=url)
        )
    finally:
        await graph.close()
    r = await publishing.http.post(f"/sandbox/_control/containers/{old}/expire")
    assert r.json()["statusCode"] == "EXPIRED"
    await _stuck_post(publishing, post_id, old)
    post = await publishing.wait(post_id, "published", "failed", timeout=30)
    assert post.status == "published", post.last_publish_error
    assert post.container_id and post.container_id != old
    assert (post.meta or {})["replacedContainer"] == {"id": old, "status": "EXPIRED"}
    media = await publishing.media(account.ig_user_id)
    assert [m["containerId"] for m in media] == [post.container_id]
