"""The dispatch horizon on the API side: a post due within DISPATCH_HORIZON_SECONDS (1 h, the
default the test server runs with) gets its job at once; a later one lives only in PostgreSQL
until the promoter adds it (tests/publishing/test_horizon.py); moves across the horizon add or
remove the job at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from instasched.worker.queue import PublishQueue
from tests.posts.conftest import Poster, iso, later
from tests.posts.test_create import job_due


async def test_a_far_future_post_has_no_job_and_a_near_one_has_one(
    poster: Poster, queue: PublishQueue
) -> None:
    far = await poster.create(scheduledFor=later(days=30))
    beyond = await poster.create(scheduledFor=later(minutes=70))
    near_time = datetime.now(UTC) + timedelta(minutes=50)
    near = await poster.create(scheduledFor=iso(near_time))
    assert await queue.get_job(far["id"]) is None
    assert await queue.get_job(beyond["id"]) is None
    assert abs(await job_due(queue, near["id"]) - near_time) < timedelta(seconds=2)


async def test_moving_a_post_into_the_horizon_enqueues_it_at_once_and_out_removes_it(
    poster: Poster, queue: PublishQueue
) -> None:
    created = await poster.create(scheduledFor=later(days=10))
    assert await queue.get_job(created["id"]) is None
    inside = datetime.now(UTC) + timedelta(minutes=15)
    r = await poster.put(f"/posts/{created['id']}", json={"scheduledFor": iso(inside)})
    assert r.status_code == 200, r.text
    assert abs(await job_due(queue, created["id"]) - inside) < timedelta(seconds=2)
    assert await queue.job_state(created["id"]) == "delayed"
    # Moved beyond the horizon again: the job goes (the promoter adds it back when it is due).
    r = await poster.put(f"/posts/{created['id']}", json={"scheduledFor": later(days=2)})
    assert r.status_code == 200, r.text
    assert await queue.get_job(created["id"]) is None
    # (publish-now from a day away: test_manage.test_publish_now_makes_the_job_due_...)
