"""Publishing moves its metrics: outcomes, lateness, retries, Graph errors, queue gauges."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from instasched.observability.metrics import REGISTRY
from tests.publishing.conftest import Publishing


def value(name: str, labels: dict[str, str] | None = None) -> float:
    return float(REGISTRY.get_sample_value(name, labels or {}) or 0.0)


async def quiet(publishing: Publishing) -> None:
    """Counters are process-wide: first let the worker finish what earlier tests left due."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        counts = await publishing.queue.counts()
        if counts.get("waiting", 0) == 0 and counts.get("active", 0) == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the queue did not drain: {counts}")


async def test_a_publication_moves_outcome_and_lateness(
    publishing: Publishing, worker: Any
) -> None:
    await quiet(publishing)
    published = {"media_type": "IMAGE", "result": "published"}
    before_outcome = value("instasched_publish_outcomes_total", published)
    before_lateness = value("instasched_publish_lateness_seconds_count")
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    post_id = await publishing.post(user, account, "IMAGE", [image])
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published", post.last_publish_error
    assert value("instasched_publish_outcomes_total", published) == before_outcome + 1
    assert value("instasched_publish_lateness_seconds_count") >= before_lateness + 1


async def test_a_retry_moves_retry_and_graph_error_counters(
    publishing: Publishing, worker: Any
) -> None:
    await quiet(publishing)
    before_retries = value("instasched_publish_retries_total")
    before_errors = value("instasched_graph_api_errors_total", {"code": "2"})
    before_retry_outcome = value(
        "instasched_publish_outcomes_total", {"media_type": "IMAGE", "result": "retry"}
    )
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    await publishing.fault(
        account.ig_user_id,
        "media_publish",
        count=1,
        error={"code": 2, "subcode": None, "message": "Service temporarily unavailable"},
    )
    post_id = await publishing.post(user, account, "IMAGE", [image])
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published" and post.publish_attempts == 2
    assert value("instasched_publish_retries_total") == before_retries + 1
    assert value("instasched_graph_api_errors_total", {"code": "2"}) == before_errors + 1
    assert (
        value("instasched_publish_outcomes_total", {"media_type": "IMAGE", "result": "retry"})
        == before_retry_outcome + 1
    )


async def test_a_permanent_failure_moves_the_failed_counter(
    publishing: Publishing, worker: Any
) -> None:
    await quiet(publishing)
    failed = {"media_type": "IMAGE", "result": "failed"}
    before = value("instasched_publish_outcomes_total", failed)
    user, account = await publishing.user_account()
    wide = await publishing.image(user, width=1500, height=600)  # 2.5:1, Meta refuses it
    post_id = await publishing.post(user, account, "IMAGE", [wide])
    post = await publishing.wait(post_id, "failed")
    assert post.publish_attempts == 1
    assert value("instasched_publish_outcomes_total", failed) == before + 1


async def test_queue_gauge_counts_a_delayed_job(publishing: Publishing) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    await publishing.post(
        user, account, "IMAGE", [image], due=datetime.now(UTC) + timedelta(days=2)
    )
    r = await publishing.http.get("/metrics")
    assert r.status_code == 200
    delayed = [
        s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if s.name == "instasched_queue_jobs" and s.labels.get("state") == "delayed"
    ]
    assert delayed and delayed[0] >= 1
    r = await publishing.http.get("/metrics")
    posts = [
        s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if s.name == "instasched_posts" and s.labels.get("status") == "scheduled"
    ]
    assert posts and posts[0] >= 1
