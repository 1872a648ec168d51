"""List, get, update, cancel and publish-now; the worker race; owner scoping on every endpoint."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.models import ScheduledPost
from instasched.worker.queue import PublishQueue
from tests.posts.conftest import MediaFactory, Poster, iso, later
from tests.posts.test_create import job_due, parse, problem

# The worker's claim, as the publishing domain runs it.
CLAIM = text(
    "UPDATE instagram_scheduled_posts SET status = 'publishing', "
    "publish_attempts = coalesce(publish_attempts, 0) + 1 "
    "WHERE id = :id AND status = 'scheduled' "
    "AND coalesce(next_attempt_at, scheduled_for) <= now() + interval '2 seconds' RETURNING id"
)


async def claim(db: AsyncSession, post_id: str) -> bool:
    row = (await db.execute(CLAIM, {"id": post_id})).first()
    await db.commit()
    return row is not None


async def sql(db: AsyncSession, statement: str, **params: Any) -> None:
    await db.execute(text(statement), params)
    await db.commit()


async def fresh(db: AsyncSession, post_id: str) -> ScheduledPost:
    db.expire_all()
    row = await db.get(ScheduledPost, uuid.UUID(post_id), populate_existing=True)
    assert row is not None
    return row


# --- list and get ---------------------------------------------------------------------------
async def test_list_filters_pages_and_orders_by_scheduled_for(
    make_poster: Any, db: AsyncSession
) -> None:
    poster: Poster = await make_poster(timezone="America/New_York")
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    made = []
    for hours in (5, 1, 3, 2, 4):
        made.append(await poster.create(scheduledFor=iso(base + timedelta(hours=hours))))
    cancelled = made[0]
    assert (await poster.delete(f"/posts/{cancelled['id']}")).status_code == 200
    path = f"/posts/{poster.account.id}"

    r = await poster.get(path)
    body = r.json()
    assert r.status_code == 200 and set(body) == {"posts", "total", "page", "limit"}
    assert body["total"] == 5 and body["page"] == 1 and body["limit"] == 20
    times = [parse(p["scheduledFor"]) for p in body["posts"]]
    assert times == sorted(times)

    r = await poster.get(path, params={"status": "scheduled", "limit": 2, "page": 2})
    body = r.json()
    assert body["total"] == 4 and body["limit"] == 2 and body["page"] == 2
    assert [parse(p["scheduledFor"]) for p in body["posts"]] == [
        base + timedelta(hours=3),
        base + timedelta(hours=4),
    ]
    # The total on a short last page, a full page and a page past the end (counted then).
    for page, limit, count in ((2, 3, 1), (1, 4, 4), (3, 2, 0), (9, 2, 0)):
        body = (
            await poster.get(path, params={"status": "scheduled", "limit": limit, "page": page})
        ).json()
        assert (body["total"], len(body["posts"])) == (4, count), (page, limit, body)
    r = await poster.get(path, params={"status": "cancelled"})
    assert [p["id"] for p in r.json()["posts"]] == [cancelled["id"]]

    # Bounds are inclusive; without an offset they are read in the account's timezone.
    local = (base + timedelta(hours=2)).astimezone(
        __import__("zoneinfo").ZoneInfo("America/New_York")
    )
    r = await poster.get(
        path,
        params={
            "scheduledAfter": local.replace(tzinfo=None).isoformat(),
            "scheduledBefore": iso(base + timedelta(hours=4)),
        },
    )
    assert [parse(p["scheduledFor"]) for p in r.json()["posts"]] == [
        base + timedelta(hours=h) for h in (2, 3, 4)
    ]

    for params, field in [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"page": 0}, "page"),
        ({"status": "done"}, "status"),
        ({"scheduledAfter": "yesterday"}, "scheduledAfter"),
        (
            {"scheduledAfter": iso(base), "scheduledBefore": iso(base - timedelta(days=1))},
            "scheduledBefore",
        ),
    ]:
        problem(await poster.get(path, params=params), 422, field)


async def test_get_post_by_account_and_id(poster: Poster, api: Any) -> None:
    created = await poster.create()
    r = await poster.get(f"/posts/{poster.account.id}/{created['id']}")
    assert r.status_code == 200 and r.json() == created
    # The user's other account does not hold this post.
    second = await api.account(poster.user)
    r = await poster.get(f"/posts/{second.id}/{created['id']}")
    assert r.status_code == 404
    r = await poster.get(f"/posts/{poster.account.id}/{uuid.uuid4()}")
    assert r.status_code == 404 and r.json()["error"] == "not_found"


# --- update ---------------------------------------------------------------------------------
async def test_reschedule_moves_the_job_and_clears_a_retry_wait(
    poster: Poster, db: AsyncSession, queue: PublishQueue
) -> None:
    # Both times inside the dispatch horizon (1 h): the job moves (tests/posts/test_horizon.py
    # moves posts across it).
    first = datetime.now(UTC) + timedelta(minutes=20)
    created = await poster.create(scheduledFor=iso(first))
    assert abs(await job_due(queue, created["id"]) - first) < timedelta(seconds=2)
    # As if a publish attempt failed and a retry is waiting.
    await sql(
        db,
        "UPDATE instagram_scheduled_posts SET next_attempt_at = now() + interval '1 hour' "
        "WHERE id = :id",
        id=created["id"],
    )
    second = datetime.now(UTC) + timedelta(minutes=50)
    r = await poster.put(f"/posts/{created['id']}", json={"scheduledFor": iso(second)})
    assert r.status_code == 200, r.text
    updated = r.json()
    assert parse(updated["scheduledFor"]) == second.replace(microsecond=second.microsecond)
    assert updated["nextAttemptAt"] is None
    assert abs(await job_due(queue, created["id"]) - second) < timedelta(seconds=2)
    assert await queue.job_state(created["id"]) == "delayed"
    # An edit that keeps the time leaves the job alone.
    r = await poster.put(f"/posts/{created['id']}", json={"caption": "new words"})
    assert r.status_code == 200
    assert abs(await job_due(queue, created["id"]) - second) < timedelta(seconds=2)
    # The time rules apply to a new time.
    r = await poster.put(f"/posts/{created['id']}", json={"scheduledFor": iso(datetime.now(UTC))})
    problem(r, 422, "scheduledFor")


async def test_update_applies_empty_caption_revalidates_and_tracks_media(
    poster: Poster, media: MediaFactory, db: AsyncSession
) -> None:
    a, b, c = await poster.image(), await poster.image(), await poster.video()
    created = await poster.create(mediaIds=[str(a.id)], caption="Hello #one", altText="alt")
    r = await poster.put(f"/posts/{created['id']}", json={"caption": ""})
    assert r.status_code == 200 and r.json()["caption"] == ""
    assert r.json()["altText"] == "alt" and r.json()["mediaIds"] == [str(a.id)]

    # Changing the type revalidates everything: a CAROUSEL needs 2..10 and no altText.
    r = await poster.put(f"/posts/{created['id']}", json={"mediaType": "CAROUSEL"})
    problem(r, 422, "mediaIds")
    r = await poster.put(
        f"/posts/{created['id']}",
        json={"mediaType": "CAROUSEL", "mediaIds": [str(b.id), str(c.id)]},
    )
    problem(r, 422, "altText")
    r = await poster.put(
        f"/posts/{created['id']}",
        json={"mediaType": "CAROUSEL", "mediaIds": [str(b.id), str(c.id)], "altText": None},
    )
    assert r.status_code == 200, r.text
    assert r.json()["mediaUrls"] == [b.s3_url, c.s3_url] and r.json()["altText"] is None
    assert [(await media.reload(x.id)).used_in_posts for x in (a, b, c)] == [0, 1, 1]

    # A rejected edit changes nothing.
    before = await fresh(db, created["id"])
    r = await poster.put(f"/posts/{created['id']}", json={"caption": "#bad-tag", "locationId": "1"})
    problem(r, 422, "caption")
    after = await fresh(db, created["id"])
    assert (after.caption, after.location_id, after.updated_at) == (
        before.caption,
        before.location_id,
        before.updated_at,
    )
    for body, field in [
        ({"caption": None}, "caption"),
        ({"instagramAccountId": str(uuid.uuid4())}, "instagramAccountId"),
    ]:
        problem(await poster.put(f"/posts/{created['id']}", json=body), 422, field)


# --- cancel and the worker ------------------------------------------------------------------
async def test_cancel_removes_the_job_and_only_scheduled_posts_change(
    poster: Poster, db: AsyncSession, queue: PublishQueue
) -> None:
    created = await poster.create(scheduledFor=later(minutes=30))  # inside the horizon: a job
    assert await queue.get_job(created["id"]) is not None
    r = await poster.delete(f"/posts/{created['id']}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message"] == "Post cancelled successfully"
    assert body["post"]["status"] == "cancelled" and body["post"]["cancelledAt"] is not None
    assert await queue.get_job(created["id"]) is None
    # A job that starts anyway (e.g. re-created before the cancel) finds nothing to claim.
    await sql(
        db,
        "UPDATE instagram_scheduled_posts SET scheduled_for = now() WHERE id = :id",
        id=created["id"],
    )
    assert await claim(db, created["id"]) is False
    for method, path in [
        ("delete", f"/posts/{created['id']}"),
        ("put", f"/posts/{created['id']}"),
        ("post", f"/posts/{created['id']}/publish-now"),
    ]:
        kw: dict[str, Any] = {"json": {"caption": "x"}} if method == "put" else {}
        r = await getattr(poster, method)(path, **kw)
        assert r.status_code == 409, r.text
        assert "cancelled" in r.json()["message"] and r.json()["detail"]["status"] == "cancelled"


async def test_edits_lose_to_a_claimed_post_with_409(poster: Poster, db: AsyncSession) -> None:
    created = await poster.create()
    await sql(
        db,
        "UPDATE instagram_scheduled_posts SET scheduled_for = now() WHERE id = :id",
        id=created["id"],
    )
    assert await claim(db, created["id"]) is True
    for method, path, kw in [
        ("put", f"/posts/{created['id']}", {"json": {"caption": "late edit"}}),
        ("delete", f"/posts/{created['id']}", {}),
        ("post", f"/posts/{created['id']}/publish-now", {}),
    ]:
        r = await getattr(poster, method)(path, **kw)
        assert r.status_code == 409, r.text
        assert "publishing" in r.json()["message"]
    row = await fresh(db, created["id"])
    assert row.status == "publishing" and row.caption == created["caption"]


async def test_a_cancel_holding_the_row_makes_the_worker_claim_fail(
    poster: Poster, db_engine: Any
) -> None:
    """The cancel locks the row; a claim racing with it waits, then re-reads the cancelled row."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    created = await poster.create()
    factory = async_sessionmaker(db_engine, expire_on_commit=False)
    async with factory() as setup:
        await sql(
            setup,
            "UPDATE instagram_scheduled_posts SET scheduled_for = now() WHERE id = :id",
            id=created["id"],
        )
    async with factory() as locker, factory() as worker:
        # Hold the row lock the way the cancel endpoint does, then start the claim.
        await locker.execute(
            text("SELECT id FROM instagram_scheduled_posts WHERE id = :id FOR UPDATE"),
            {"id": created["id"]},
        )
        claiming = asyncio.create_task(worker.execute(CLAIM, {"id": created["id"]}))
        await asyncio.sleep(0.3)
        assert not claiming.done()  # the claim waits for the lock
        await locker.execute(
            text(
                "UPDATE instagram_scheduled_posts SET status = 'cancelled', cancelled_at = now() "
                "WHERE id = :id"
            ),
            {"id": created["id"]},
        )
        await locker.commit()
        result = await claiming
        assert result.first() is None
        await worker.commit()


# --- publish now ----------------------------------------------------------------------------
async def test_publish_now_makes_the_job_due_and_returns_the_fresh_row(
    poster: Poster, db: AsyncSession, queue: PublishQueue, no_worker: None
) -> None:
    original = datetime.now(UTC) + timedelta(days=1)
    created = await poster.create(scheduledFor=iso(original))
    r = await poster.post(f"/posts/{created['id']}/publish-now", params={"waitSeconds": 0})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "scheduled"
    assert parse(body["scheduledFor"]) <= datetime.now(UTC)
    assert parse(body["metadata"]["originalScheduledFor"]) == original
    assert await queue.job_state(created["id"]) in ("wait", "waiting", "prioritized")
    job = await queue.get_job(created["id"])
    assert job is not None and job.delay == 0


async def test_publish_now_waits_for_the_worker_outcome(
    poster: Poster, db_engine: Any, no_worker: None
) -> None:
    """A stand-in for the worker (its exact claim SQL, then the published row) runs while the
    request waits; the answer is the published row, not the copy from before."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    created = await poster.create()
    factory = async_sessionmaker(db_engine, expire_on_commit=False)

    async def worker() -> None:
        async with factory() as session:
            for _ in range(200):
                if await claim(session, created["id"]):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the post never became due")
            await sql(
                session,
                "UPDATE instagram_scheduled_posts SET status = 'published', published_at = now(), "
                "instagram_media_id = '1789', permalink = 'https://instagram.com/p/abc' "
                "WHERE id = :id",
                id=created["id"],
            )

    task = asyncio.create_task(worker())
    r = await poster.post(f"/posts/{created['id']}/publish-now", params={"waitSeconds": 30})
    await task
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "published" and body["permalink"] == "https://instagram.com/p/abc"
    assert body["publishAttempts"] == 1 and body["instagramMediaId"] == "1789"


# --- owner scoping --------------------------------------------------------------------------
async def test_every_endpoint_answers_404_for_another_users_ids(make_poster: Any) -> None:
    alice: Poster = await make_poster()
    bob: Poster = await make_poster()
    post = await alice.create()
    bob_image = await bob.image()
    a_acc, p_id = alice.account.id, post["id"]
    calls = [
        (
            "post",
            "/posts",
            {"json": await bob.body(instagramAccountId=str(a_acc), mediaIds=[str(bob_image.id)])},
        ),
        ("get", f"/posts/{a_acc}", {}),
        ("get", f"/posts/{a_acc}/{p_id}", {}),
        ("get", f"/posts/{bob.account.id}/{p_id}", {}),
        ("put", f"/posts/{p_id}", {"json": {"caption": "mine now"}}),
        ("delete", f"/posts/{p_id}", {}),
        ("post", f"/posts/{p_id}/publish-now", {"params": {"waitSeconds": 0}}),
    ]
    for method, path, kw in calls:
        r = await getattr(bob, method)(path, **kw)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"] == "not_found"
    # Alice's post is untouched and still hers.
    r = await alice.get(f"/posts/{a_acc}/{p_id}")
    assert r.status_code == 200 and r.json() == post
    # Without a token: 401 everywhere.
    for method, path, kw in calls:
        r = await getattr(alice.http, method)("/api/instagram/scheduling" + path, **kw)
        assert r.status_code == 401, (method, path)


async def test_malformed_ids_are_422_naming_the_path_parameter(poster: Poster) -> None:
    problem(await poster.get("/posts/not-a-uuid"), 422, "accountId")
    problem(await poster.get(f"/posts/{poster.account.id}/42"), 422, "postId")
    problem(await poster.put("/posts/42", json={"caption": "x"}), 422, "postId")
    problem(await poster.delete("/posts/42"), 422, "postId")
    problem(await poster.post("/posts/42/publish-now"), 422, "postId")
