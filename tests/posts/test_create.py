"""POST /api/instagram/scheduling/posts against the live server, PostgreSQL, Redis and S3."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.kit.time import add_months
from instasched.models import PostTemplate, ScheduledPost
from instasched.worker.queue import PublishQueue
from tests.posts.conftest import BASE, MediaFactory, Poster, iso, later, token

RESPONSE_FIELDS = {
    # the spec's ScheduledPostResponseDto
    "id", "instagramAccountId", "scheduledFor", "caption", "mediaUrls", "mediaType", "status",
    "publishAttempts", "instagramMediaId", "permalink", "createdAt",
    # the additions
    "publishedAt", "lastPublishError", "nextAttemptAt", "productTags", "locationId", "templateId",
    "templateVariables", "updatedAt", "cancelledAt", "mediaIds", "firstComment", "userTags",
    "collaborators", "altText", "coverUrl", "thumbOffsetMs", "shareToFeed", "instagramMediaUrl",
    "initialLikes", "initialComments", "initialReach", "metadata",
    # issue 16.11: only set on a create or edit over the publishing quota with allowOverQuota
    "quotaWarning",
    # issue 17: containers made ahead of the due time (docs/staging.md)
    "staging",
    # issue 19: trial reels and the AI label
    "trialParams", "isAiGenerated", "storyItems",
    # issue 20 item 2: drafts and approvals (who submitted and decided, when, the comment)
    "approval",
}  # fmt: skip


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def post_count(db: AsyncSession, workspace_id: uuid.UUID) -> int:
    return int(
        await db.scalar(
            select(func.count())
            .select_from(ScheduledPost)
            .where(ScheduledPost.workspace_id == workspace_id)
        )
        or 0
    )


def problem(r: httpx.Response, status: int, field: str) -> str:
    """Assert a 4xx naming `field`; return the message."""
    assert r.status_code == status, r.text
    body = r.json()
    fields = [d.get("field") for d in body.get("detail") or [] if isinstance(d, dict)]
    assert field in fields, body
    assert body["message"]
    return str(body["message"])


async def job_due(queue: PublishQueue, post_id: str) -> datetime:
    job = await queue.get_job(post_id)
    assert job is not None, f"no job for {post_id}"
    return datetime.fromtimestamp((job.timestamp + job.delay) / 1000, UTC)


# --- the happy path -------------------------------------------------------------------------
async def test_create_returns_every_field_stores_it_and_enqueues_after_commit(
    fb_poster: Poster, db: AsyncSession, queue: PublishQueue, media: MediaFactory
) -> None:
    poster = fb_poster  # collaborators and product tags need Facebook Login
    asset = await poster.image()
    when = datetime.now(UTC) + timedelta(minutes=30)  # inside the dispatch horizon (1 h)
    created = await poster.create(
        mediaIds=[str(asset.id)],
        scheduledFor=iso(when),
        caption="Launch day 🎉 #newlaunch #product @brand",
        productTags=[{"productId": "p-1", "x": 0.5, "y": 0.25}],
        userTags=[{"username": "friend.one", "x": 0.1, "y": 0.9}],
        collaborators=["partner_brand"],
        firstComment="More tags #more",
        altText="A red square",
        locationId="110184922344060",
    )
    assert set(created) == RESPONSE_FIELDS
    assert created["status"] == "scheduled" and created["publishAttempts"] == 0
    assert created["mediaIds"] == [str(asset.id)]
    assert created["mediaUrls"] == [asset.s3_url]
    assert created["userTags"] == [{"username": "friend.one", "x": 0.1, "y": 0.9}]
    assert created["productTags"] == [{"productId": "p-1", "x": 0.5, "y": 0.25}]
    assert abs(parse(created["scheduledFor"]) - when) < timedelta(milliseconds=1)

    row = await db.get(ScheduledPost, uuid.UUID(created["id"]))
    assert row is not None and row.workspace_id == poster.user.id
    assert row.first_comment == "More tags #more" and row.collaborators == ["partner_brand"]
    used = await media.reload(asset.id)
    assert used.used_in_posts == 1 and used.last_used_at is not None

    # One delayed job per post, id derived from the post id, due at scheduledFor.
    job = await queue.get_job(created["id"])
    assert job is not None and job.id == f"publish_{created['id']}"
    assert job.data["postId"] == created["id"]
    assert abs(await job_due(queue, created["id"]) - when) < timedelta(seconds=2)
    assert await queue.job_state(created["id"]) == "delayed"


async def test_media_urls_match_s3_url_and_presigned_urls(
    poster: Poster, media: MediaFactory
) -> None:
    first, second = await poster.image(), await poster.video()
    presigned = await media.storage.presign_get(second.s3_key, 3600)
    assert "?" in presigned
    created = await poster.create(mediaUrls=[first.s3_url, presigned], mediaType="CAROUSEL")
    assert created["mediaIds"] == [str(first.id), str(second.id)]
    assert created["mediaUrls"] == [first.s3_url, second.s3_url]
    # Both forms at once are fine when they agree, refused when they don't.
    same = await poster.create(mediaIds=[str(first.id)], mediaUrls=[first.s3_url])
    assert same["mediaIds"] == [str(first.id)]
    r = await poster.post(
        "/posts", json=await poster.body(mediaIds=[str(second.id)], mediaUrls=[first.s3_url])
    )
    problem(r, 422, "mediaUrls")


async def test_foreign_unknown_or_missing_media_is_refused_and_nothing_is_written(
    poster: Poster, make_poster: Any, db: AsyncSession
) -> None:
    other = await make_poster()
    foreign = await other.image()
    cases = [
        ({"mediaIds": [str(foreign.id)]}, "mediaIds[0]"),
        ({"mediaUrls": [foreign.s3_url]}, "mediaUrls[0]"),
        ({"mediaIds": [str(uuid.uuid4())]}, "mediaIds[0]"),
        ({"mediaIds": ["not-an-id"]}, "mediaIds[0]"),
        ({"mediaUrls": ["https://s3.amazonaws.com/bucket/media.jpg"]}, "mediaUrls[0]"),
        ({"mediaUrls": ["file:///etc/passwd"]}, "mediaUrls[0]"),
        ({"mediaIds": []}, "mediaIds"),
        ({"mediaIds": ..., "mediaUrls": ...}, "mediaIds"),
    ]
    for overrides, field in cases:
        body = await poster.body(**overrides)
        if overrides.get("mediaIds") is ...:
            body.pop("mediaIds", None)
        r = await poster.post("/posts", json=body)
        message = problem(r, 422, field)
        assert "media" in message.lower()
    assert await post_count(db, poster.user.id) == 0
    r = await poster.get(f"/posts/{poster.account.id}")
    assert r.json()["total"] == 0


async def test_counts_kinds_and_compatibility_per_media_type(poster: Poster) -> None:
    image, video = await poster.image(), await poster.video(duration=10)
    wide = await poster.image(
        compatibility={
            "feed": {"ok": False, "reasons": ["aspect ratio 3.00 is wider than 1.91:1"]},
            "carousel": {"ok": True, "reasons": []},
            "reel": {"ok": False, "reasons": ["not a video"]},
            "story": {"ok": True, "reasons": []},
        }
    )
    refused = [
        ({"mediaType": "CAROUSEL", "mediaIds": [str(image.id)]}, "mediaIds", "2 to 10"),
        ({"mediaType": "IMAGE", "mediaIds": [str(video.id)]}, "mediaIds[0]", "is a video"),
        ({"mediaType": "REELS", "mediaIds": [str(image.id)]}, "mediaIds[0]", "needs a video"),
        ({"mediaType": "IMAGE", "mediaIds": [str(image.id)] * 2}, "mediaIds", "exactly 1"),
        ({"mediaType": "IMAGE", "mediaIds": [str(wide.id)]}, "mediaIds[0]", "1.91:1"),
        ({"mediaType": "STORIES", "mediaIds": [str(image.id)]}, "caption", "STORIES carry no"),
        (
            {"mediaType": "STORIES", "mediaIds": [str(image.id)], "collaborators": ["partner"]},
            "collaborators",
            "does not allow collaborators on STORIES; only feed images, reels and carousels",
        ),
        ({"mediaType": "BOOMERANG"}, "mediaType", ""),
        ({"mediaType": "IMAGE", "altText": "x", "shareToFeed": True}, "shareToFeed", "REELS"),
        ({"mediaType": "REELS", "mediaIds": [str(video.id)], "altText": "x"}, "altText", ""),
        (
            {"mediaType": "REELS", "mediaIds": [str(video.id)], "thumbOffsetMs": 20_000},
            "thumbOffsetMs",
            "past the end",
        ),
        (
            {"mediaType": "REELS", "mediaIds": [str(video.id)], "coverUrl": video.s3_url},
            "coverUrl",
            "image",
        ),
    ]
    for overrides, field, words in refused:
        message = problem(
            await poster.post("/posts", json=await poster.body(**overrides)), 422, field
        )
        assert words in message, message
    ok = [
        {"mediaType": "CAROUSEL", "mediaIds": [str(image.id), str(video.id), str(wide.id)]},
        {"mediaType": "STORIES", "mediaIds": [str(wide.id)], "caption": ""},
        {
            "mediaType": "STORIES",
            "mediaIds": [str(video.id)],
            "caption": ...,
            "userTags": [{"username": "a"}],
        },
        {
            "mediaType": "REELS",
            "mediaIds": [str(video.id)],
            "coverUrl": image.s3_url,
            "thumbOffsetMs": 1500,
            "shareToFeed": False,
            "userTags": [{"username": "someone"}],
        },
        {
            "mediaType": "VIDEO",
            "mediaIds": [str(video.id)],
            "coverUrl": "https://cdn.example.com/c.jpg",
        },
    ]
    for overrides in ok:
        created = await poster.create(**overrides)
        assert created["mediaType"] == overrides["mediaType"]
    reel = created
    assert reel["coverUrl"] == "https://cdn.example.com/c.jpg"


async def test_caption_and_extras_rules_name_the_field(
    fb_poster: Poster, server_settings: Any
) -> None:
    poster = fb_poster  # collaborators and product tags need Facebook Login
    cases = [
        ({"caption": "x" * 2201}, "caption", "2201 characters"),
        ({"caption": "Sale #summer-sale"}, "caption", "#summer-sale"),
        # Instagram's cap since December 2025: 5 hashtags (the MAX_HASHTAGS default).
        ({"caption": " ".join(f"#t{i}" for i in range(6))}, "caption", "6 hashtags; Instagram"),
        ({"caption": " ".join(f"@u{i}" for i in range(21))}, "caption", "21 @-mentions"),
        ({"productTags": [{"productId": "p", "x": 1.5, "y": 0}]}, "productTags[0].x", "between 0"),
        (
            {"userTags": [{"username": f"u{i}", "x": 0, "y": 0} for i in range(21)]},
            "userTags",
            "20",
        ),
        ({"userTags": [{"username": "bad name", "x": 0, "y": 0}]}, "userTags[0].username", ""),
        ({"userTags": [{"username": "ok"}]}, "userTags[0].x", "x and y"),
        ({"collaborators": ["a", "b", "c", "d", "e", "f"]}, "collaborators", "at most 5"),
        ({"locationId": "Paris"}, "locationId", "location id"),
        ({"firstComment": "y" * 2201}, "firstComment", "2201"),
        ({"unexpected": 1}, "unexpected", "unknown field"),
    ]
    for overrides, field, words in cases:
        message = problem(
            await poster.post("/posts", json=await poster.body(**overrides)), 422, field
        )
        assert words in message, message
    # 5 hashtags and 5 collaborators are accepted by default; MAX_HASHTAGS is a setting.
    await poster.create(caption="#a #b #c #d #e", collaborators=["a", "b", "c", "d", "e"])
    server_settings.set(max_hashtags=8)
    await poster.create(caption="#a #b #c #d #e #f #g #h")
    r = await poster.post("/posts", json=await poster.body(caption="#a #b #c #d #e #f #g #h #i"))
    assert "9 hashtags; Instagram allows at most 8" in problem(r, 422, "caption")


async def test_features_of_facebook_login_are_refused_on_instagram_login_accounts(
    poster: Poster, fb_poster: Poster, db: AsyncSession
) -> None:
    """Collaborators and product tags exist only with Facebook Login (docs/login-kinds.md): a
    post of an Instagram Login account asking for one is a 422 naming it and the fix, on create
    and on edit, and nothing is written."""
    before = await post_count(db, poster.user.id)
    for overrides, field in (
        ({"collaborators": ["partner_brand"]}, "collaborators"),
        ({"productTags": [{"productId": "p-1", "x": 0.5, "y": 0.5}]}, "productTags"),
    ):
        r = await poster.post("/posts", json=await poster.body(**overrides))
        message = problem(r, 422, field)
        assert f"connect this account with Facebook Login to use {field}" in message, message
        assert "connected with Instagram Login" in message
    assert await post_count(db, poster.user.id) == before
    created = await poster.create()
    r = await poster.put(f"/posts/{created['id']}", json={"collaborators": ["partner_brand"]})
    assert "Facebook Login" in problem(r, 422, "collaborators")
    row = await db.get(ScheduledPost, uuid.UUID(created["id"]))
    assert row is not None and row.collaborators == []
    # The same post is accepted from an account connected with Facebook Login.
    ok = await fb_poster.create(
        collaborators=["partner_brand"], productTags=[{"productId": "p-1", "x": 0.5, "y": 0.5}]
    )
    assert ok["collaborators"] == ["partner_brand"]


# --- time -----------------------------------------------------------------------------------
async def test_time_window_and_format(poster: Poster, server_settings: Any) -> None:
    now = datetime.now(UTC)
    for value, words in [
        (iso(now + timedelta(seconds=60)), "at least 5 minutes"),
        (iso(now - timedelta(days=1)), "at least 5 minutes"),
        (iso(now + timedelta(days=190)), "at most 6 months"),
        ("next tuesday", "ISO 8601"),
        ("2026-13-45T25:00:00Z", "ISO 8601"),
    ]:
        r = await poster.post("/posts", json=await poster.body(scheduledFor=value))
        assert words in problem(r, 422, "scheduledFor")
    r = await poster.post("/posts", json=await poster.body(scheduledFor=...))
    assert "required" in problem(r, 422, "scheduledFor")
    # Both bounds are settings.
    server_settings.set(schedule_min_lead_seconds=30, schedule_max_lead_months=14)
    await poster.create(scheduledFor=iso(now + timedelta(seconds=90)))
    await poster.create(scheduledFor=iso(now + timedelta(days=300)))


async def test_six_calendar_months_in_the_account_timezone(make_poster: Any) -> None:
    poster = await make_poster(timezone="Pacific/Kiritimati")  # UTC+14: another day than UTC
    tz = ZoneInfo("Pacific/Kiritimati")
    now = datetime.now(UTC)
    # A minute of margin for the request's own "now"; six months in Kiritimati's calendar.
    edge = add_months(now, 6, tz) - timedelta(minutes=1)
    await poster.create(scheduledFor=iso(edge))
    for beyond in (edge + timedelta(minutes=2), edge + timedelta(days=1)):
        r = await poster.post("/posts", json=await poster.body(scheduledFor=iso(beyond)))
        assert "at most 6 months" in problem(r, 422, "scheduledFor")


async def test_times_without_offset_use_the_account_timezone_across_dst(
    make_poster: Any, server_settings: Any, queue: PublishQueue
) -> None:
    # Fall-back dates of 2027 are more than 6 months away: allow them for this test.
    server_settings.set(schedule_max_lead_months=14)
    cases = [
        ("America/New_York", "2027-01-15T09:00:00", "2027-01-15T14:00:00Z"),
        ("America/New_York", "2027-03-14T02:30:00", "2027-03-14T07:30:00Z"),  # gap → 03:30 EDT
        ("America/New_York", "2027-11-07T01:30:00", "2027-11-07T05:30:00Z"),  # twice → EDT
        ("Europe/Berlin", "2027-03-28T02:30:00", "2027-03-28T01:30:00Z"),  # gap → 03:30 CEST
        ("Europe/Berlin", "2027-10-31T02:30:00", "2027-10-31T00:30:00Z"),  # twice → CEST
        ("Australia/Sydney", "2027-04-04T02:30:00", "2027-04-03T15:30:00Z"),  # twice → AEDT
        ("Europe/Berlin", "2027-03-28T02:30:00+00:00", "2027-03-28T02:30:00Z"),  # offset wins
    ]
    posters: dict[str, Poster] = {}
    for zone_name, wall, expected in cases:
        if zone_name not in posters:
            posters[zone_name] = await make_poster(timezone=zone_name)
        created = await posters[zone_name].create(scheduledFor=wall)
        assert iso(parse(created["scheduledFor"])) == expected, (zone_name, wall)
        # Months ahead, beyond the dispatch horizon: the promoter enqueues it from this row.
        assert await queue.get_job(created["id"]) is None


# --- templates ------------------------------------------------------------------------------
async def make_template(db: AsyncSession, poster: Poster, **kw: Any) -> PostTemplate:
    values: dict[str, Any] = {
        "workspace_id": poster.user.id,
        "name": "Launch " + token(),
        "caption_template": (
            "Introducing {{productName}}! Get {{ discount }} off until {{endDate}}."
        ),
        "variables": ["productName", "discount", "endDate"],
        "suggested_hashtags": ["newproduct", "#sale"],
        "suggested_mentions": ["yourbrand"],
    }
    values.update(kw)
    template = PostTemplate(**values)
    db.add(template)
    await db.commit()
    return template


async def template_usage(db: AsyncSession, template_id: uuid.UUID) -> tuple[int, Any]:
    row = (
        await db.execute(
            text("SELECT usage_count, last_used_at FROM instagram_post_templates WHERE id = :id"),
            {"id": template_id},
        )
    ).one()
    return int(row[0]), row[1]


async def test_template_renders_appends_suggestions_and_counts_in_the_same_transaction(
    poster: Poster, make_poster: Any, db: AsyncSession
) -> None:
    template = await make_template(db, poster)
    variables = {
        "productName": "Premium {{endDate}} Course",
        "discount": "20%",
        "endDate": "Jan 31",
    }

    # Missing variables: 422 listing them, and the template counts nothing.
    r = await poster.post(
        "/posts",
        json=await poster.body(
            caption="", templateId=str(template.id), templateVariables={"discount": "5%"}
        ),
    )
    message = problem(r, 422, "templateVariables")
    assert "productName" in message and "endDate" in message
    # A post rejected for another reason (media) after rendering counts nothing either.
    r = await poster.post(
        "/posts",
        json=await poster.body(
            caption="", templateId=str(template.id), templateVariables=variables,
            mediaIds=[str(uuid.uuid4())],
        ),
    )  # fmt: skip
    problem(r, 422, "mediaIds[0]")
    assert (await template_usage(db, template.id))[0] == 0

    created = await poster.create(
        caption="", templateId=str(template.id), templateVariables=variables
    )
    assert created["caption"] == (
        "Introducing Premium {{endDate}} Course! Get 20% off until Jan 31."
        "\n\n#newproduct #sale\n@yourbrand"
    )
    assert created["templateId"] == str(template.id)
    assert created["templateVariables"] == variables
    count, last_used = await template_usage(db, template.id)
    assert count == 1 and last_used is not None

    # A caption and a template at once, an inactive template, another user's template.
    r = await poster.post(
        "/posts",
        json=await poster.body(
            caption="mine", templateId=str(template.id), templateVariables=variables
        ),
    )
    problem(r, 422, "caption")
    inactive = await make_template(db, poster, is_active=False)
    r = await poster.post(
        "/posts",
        json=await poster.body(
            caption="", templateId=str(inactive.id), templateVariables=variables
        ),
    )
    assert "inactive" in problem(r, 422, "templateId")
    other = await make_poster()
    foreign = await make_template(db, other)
    r = await poster.post(
        "/posts",
        json=await poster.body(caption="", templateId=str(foreign.id), templateVariables=variables),
    )
    assert r.status_code == 404, r.text
    assert (await template_usage(db, foreign.id))[0] == 0


async def test_an_edit_to_another_template_counts_one_use_of_it(
    poster: Poster, db: AsyncSession
) -> None:
    first = await make_template(db, poster)
    second = await make_template(db, poster, caption_template="Now {{productName}}!")
    variables = {"productName": "Shoes", "discount": "5%", "endDate": "May 1"}
    created = await poster.create(caption="", templateId=str(first.id), templateVariables=variables)
    # The same template again (new variables): rendered again, not a new use.
    r = await poster.put(
        f"/posts/{created['id']}", json={"templateVariables": {**variables, "discount": "9%"}}
    )
    assert r.status_code == 200, r.text
    assert "9%" in r.json()["caption"]
    assert (await template_usage(db, first.id))[0] == 1
    assert await template_usage(db, second.id) == (0, None)
    r = await poster.put(
        f"/posts/{created['id']}",
        json={"templateId": str(second.id), "templateVariables": {"productName": "Boots"}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["caption"].startswith("Now Boots!")
    count, last_used = await template_usage(db, second.id)
    assert count == 1 and last_used is not None
    assert (await template_usage(db, first.id))[0] == 1


async def test_template_result_is_validated_as_a_caption(poster: Poster, db: AsyncSession) -> None:
    template = await make_template(
        db, poster, caption_template="{{name}}", suggested_hashtags=[f"t{i}" for i in range(6)]
    )
    r = await poster.post(
        "/posts",
        json=await poster.body(
            caption="", templateId=str(template.id), templateVariables={"name": "x"}
        ),
    )
    assert "6 hashtags" in problem(r, 422, "caption")
    assert (await template_usage(db, template.id))[0] == 0


# --- idempotency ----------------------------------------------------------------------------
async def test_idempotency_key_returns_the_first_post(
    poster: Poster, make_poster: Any, db: AsyncSession, media: MediaFactory
) -> None:
    key = "order-" + token()
    body = await poster.body()
    r1 = await poster.post("/posts", json=body, headers={**poster.headers, "Idempotency-Key": key})
    # The same request again (keys in another order): the first post.
    r2 = await poster.post(
        "/posts",
        json=dict(reversed(body.items())),
        headers={**poster.headers, "Idempotency-Key": key},
    )
    assert r1.status_code == 201 and r2.status_code == 200, (r1.text, r2.text)
    assert r2.json()["id"] == r1.json()["id"] and r2.json()["caption"] == body["caption"]
    # The key reused for another post (issue 24: it silently answered the first post): 422.
    r = await poster.post(
        "/posts",
        json={**body, "caption": "changed"},
        headers={**poster.headers, "Idempotency-Key": key},
    )
    problem(r, 422, "Idempotency-Key")
    assert "different post" in r.json()["message"]
    assert await post_count(db, poster.user.id) == 1
    # Keys are per user.
    other = await make_poster()
    r3 = await other.post(
        "/posts", json=await other.body(), headers={**other.headers, "Idempotency-Key": key}
    )
    assert r3.status_code == 201 and r3.json()["id"] != r1.json()["id"]
    r = await poster.post(
        "/posts", json=body, headers={**poster.headers, "Idempotency-Key": "x" * 300}
    )
    problem(r, 422, "Idempotency-Key")


async def test_idempotency_key_under_a_concurrent_race(
    poster: Poster, db: AsyncSession, media: MediaFactory, queue: PublishQueue
) -> None:
    asset = await poster.image()
    key = "race-" + token()
    body = await poster.body(mediaIds=[str(asset.id)], scheduledFor=later(minutes=30))
    headers = {**poster.headers, "Idempotency-Key": key}
    responses = await asyncio.gather(
        *(poster.http.post(f"{BASE}/posts", json=body, headers=headers) for _ in range(8))
    )
    assert sorted({r.status_code for r in responses}) in ([200, 201], [201]), [
        r.text for r in responses
    ]
    assert [r.status_code for r in responses].count(201) == 1
    assert len({r.json()["id"] for r in responses}) == 1
    assert await post_count(db, poster.user.id) == 1
    assert (await media.reload(asset.id)).used_in_posts == 1
    assert await queue.get_job(responses[0].json()["id"]) is not None


# --- queue failures -------------------------------------------------------------------------
async def test_a_failed_enqueue_keeps_the_post_and_is_not_a_500(
    poster: Poster, live_server: Any, db: AsyncSession, queue: PublishQueue, no_worker: None
) -> None:
    from instasched.embedded._proc import free_port

    state = live_server.state
    working = state.queue
    # A real queue client whose Redis is not there (connection refused).
    state.queue = PublishQueue(f"redis://127.0.0.1:{free_port()}/0", prefix=working.prefix)
    try:
        created = await poster.create()
    finally:
        state.queue = working
    row = await db.get(ScheduledPost, uuid.UUID(created["id"]))
    assert row is not None and row.status == "scheduled"
    # No job: the reconciler re-creates it from the row.
    assert await queue.get_job(created["id"]) is None


# --- next free slot -------------------------------------------------------------------------
async def test_use_next_slot_takes_the_posting_schedule(poster: Poster) -> None:
    r = await poster.post("/posts", json=await poster.body(scheduledFor=..., useNextSlot=True))
    assert "no free slot" in problem(r, 422, "useNextSlot")
    for day in range(7):
        r = await poster.post(
            f"/schedules/{poster.account.id}",
            json={"dayOfWeek": day, "timeSlots": ["09:00", "18:30"], "timezone": "Europe/Paris"},
        )
        assert r.status_code == 201, r.text
    r = await poster.get(f"/schedules/{poster.account.id}/next-slot")
    assert r.status_code == 200, r.text
    expected = r.json()["scheduledFor"]
    created = await poster.create(scheduledFor=..., useNextSlot=True)
    assert parse(created["scheduledFor"]) == parse(expected)
    # That minute is now taken: the next post gets a later slot.
    second = await poster.create(scheduledFor=..., useNextSlot=True)
    assert parse(second["scheduledFor"]) > parse(created["scheduledFor"])
    r = await poster.post("/posts", json=await poster.body(scheduledFor=later(), useNextSlot=True))
    problem(r, 422, "useNextSlot")
