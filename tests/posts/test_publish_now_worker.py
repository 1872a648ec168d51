"""Publish-now end to end: the real bullmq worker and publisher post to the Instagram sandbox
while the request waits, and the answer is the published row."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bullmq import Worker

from instasched.config import Settings
from instasched.publishing.service import Publisher
from instasched.state import AppState
from instasched.worker.queue import QUEUE_NAME
from instasched.worker.runner import make_processor, running
from tests.posts.conftest import Poster


@pytest.fixture
async def worker(app_settings: Settings) -> AsyncIterator[None]:
    """The worker's bullmq Worker and processor (`instasched.worker.runner`), without the
    periodic reconciler (other tests leave 200,000 seeded rows it would enqueue)."""
    app = await AppState.create(app_settings)
    bull = Worker(
        QUEUE_NAME,
        make_processor(Publisher(app)),
        {
            "connection": app_settings.require_redis_url(),
            "prefix": app_settings.queue_prefix,
            "concurrency": 4,
            "autorun": False,
        },
    )
    try:
        async with running(bull):
            yield
    finally:
        await app.close()


async def test_publish_now_returns_the_published_post(poster: Poster, worker: Any) -> None:
    created = await poster.create(caption="Right now #live")
    r = await poster.post(f"/posts/{created['id']}/publish-now", params={"waitSeconds": 60})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "published", body
    assert body["permalink"] and body["instagramMediaId"] and body["publishedAt"]
    assert body["metadata"]["originalScheduledFor"]
    # The post is no longer editable and stays published.
    r = await poster.delete(f"/posts/{created['id']}")
    assert r.status_code == 409 and "published" in r.json()["message"]


async def test_waiting_publish_now_holds_no_database_connection(
    poster: Poster, app_settings: Settings, no_worker: None
) -> None:
    """More publish-now requests waiting for a worker (there is none) than the API has pooled
    connections: another authenticated request still answers meanwhile, because publish-now
    returns its connections when it commits, before it waits."""
    count = app_settings.database_pool_size * 2 + 2
    ids = [(await poster.create())["id"] for _ in range(count)]
    waits = [
        asyncio.create_task(poster.post(f"/posts/{i}/publish-now", params={"waitSeconds": 6}))
        for i in ids
    ]
    await asyncio.sleep(2.0)  # every request has committed and is waiting
    r = await poster.http.get("/api/auth/me", headers=poster.headers, timeout=3)
    assert r.status_code == 200, r.text
    assert all(not w.done() for w in waits), "the requests were still waiting"
    for r in await asyncio.gather(*waits):
        assert r.status_code == 200 and r.json()["status"] == "scheduled", r.text
