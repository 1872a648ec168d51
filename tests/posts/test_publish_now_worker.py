"""Publish-now end to end: the real bullmq worker and publisher post to the Instagram sandbox
while the request waits, and the answer is the published row."""

from __future__ import annotations

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
