"""Deleting an Instagram account removes its posts' jobs from Redis (after the commit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from instasched.worker.queue import QUEUE_NAME, job_id_for
from tests.publishing.conftest import Publishing


async def test_deleting_an_account_removes_its_posts_jobs(publishing: Publishing) -> None:
    user, doomed = await publishing.user_account()
    kept = await publishing.api.account(user)
    image = await publishing.image(user)
    due = datetime.now(UTC) + timedelta(days=2)
    gone = [
        await publishing.post(user, doomed, "IMAGE", [image], due=due + timedelta(minutes=i))
        for i in range(5)
    ]
    stays = await publishing.post(user, kept, "IMAGE", [image], due=due)
    queue = publishing.queue
    delayed = f"{queue.prefix}:{QUEUE_NAME}:delayed"
    client = queue.queue.client
    assert len(await queue.existing_job_ids([*gone, stays])) == 6

    r = await publishing.http.delete(f"/api/instagram/accounts/{doomed.id}", headers=user.headers)
    assert r.status_code == 200, r.text

    assert await queue.existing_job_ids(gone) == set()
    for post_id in gone:
        assert await client.zscore(delayed, job_id_for(post_id)) is None
    assert await queue.existing_job_ids([stays]) == {job_id_for(stays)}
    assert await client.zscore(delayed, job_id_for(stays)) is not None


async def test_remove_many_removes_only_the_given_jobs(publishing: Publishing) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    due = datetime.now(UTC) + timedelta(days=2)
    posts = [await publishing.post(user, account, "IMAGE", [image], due=due) for _ in range(3)]
    await publishing.queue.remove_many([*posts[:2], posts[0]])
    assert await publishing.queue.existing_job_ids(posts) == {job_id_for(posts[2])}
    await publishing.queue.remove_many([])
    assert await publishing.queue.existing_job_ids(posts) == {job_id_for(posts[2])}
