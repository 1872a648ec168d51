"""Several stories as one post: published in order, each its own container; the post is
published when all are; a failure is reported per story, and a retry resumes where it stopped
(publishing/sequence.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.media import files as media_files
from tests.publishing.conftest import Publishing
from tests.publishing.test_rules_agree import BASE, create, image, refused, video


async def test_three_stories_publish_in_order_through_the_api(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    first, clip, last = (
        await image(publishing, user, account, 1080, 1920),
        (await video(publishing, user, account, 3.0))["id"],
        await image(publishing, user, account, 1080, 1920),
    )
    r = await create(
        publishing,
        user,
        account,
        mediaType="STORIES",
        mediaIds=[first, clip, last],
        userTags=[{"username": "best.friend", "x": 0.3, "y": 0.6}],
        isAiGenerated=True,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert [(s["mediaId"], s["status"]) for s in created["storyItems"]] == [
        (first, "pending"),
        (clip, "pending"),
        (last, "pending"),
    ]
    r = await publishing.http.post(
        f"{BASE}/posts/{created['id']}/publish-now",
        params={"waitSeconds": 30},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    post = r.json()
    assert post["status"] == "published", post
    items = post["storyItems"]
    assert [s["status"] for s in items] == ["published"] * 3, items
    media = await publishing.media(account.ig_user_id)
    assert [m["id"] for m in media] == [s["instagramMediaId"] for s in items]
    assert [m["mediaType"] for m in media] == ["STORIES"] * 3
    assert post["instagramMediaId"] == items[0]["instagramMediaId"] and post["permalink"]
    assert media[0]["params"]["user_tags"] == [{"username": "best.friend", "x": 0.3, "y": 0.6}]
    assert all("user_tags" not in m["params"] for m in media[1:])
    assert all(m["params"]["is_ai_generated"] is True for m in media)


async def test_a_sequence_is_bounded_and_keeps_the_story_rules(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    photo = await image(publishing, user, account, 1080, 1920)
    message = refused(
        await create(publishing, user, account, mediaType="STORIES", mediaIds=[photo] * 11),
        "mediaIds",
    )
    assert "at most 10" in message
    r = await create(
        publishing, user, account, mediaType="STORIES", mediaIds=[photo, photo], caption="x"
    )
    refused(r, "caption")


async def test_a_failed_story_is_reported_per_item(publishing: Publishing, worker: Any) -> None:
    """The second story breaks Meta's video rules (10 fps; stored without the API's checks):
    the first stays published, the post fails naming both, the third is not published."""
    user, account = await publishing.user_account()
    one = await publishing.image(user, 1080, 1920)
    data = await asyncio.to_thread(media_files.mp4_bytes, 3.5, 64, 112, fps=10)
    slow = await publishing.asset(user, data, kind="video", mime="video/mp4", ext="mp4")
    three = await publishing.image(user, 1080, 1920)
    post_id = await publishing.post(user, account, "STORIES", [one, slow, three], caption="")
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "failed"
    assert post.last_publish_error is not None
    assert post.last_publish_error.startswith("Story 2 of 3 failed:"), post.last_publish_error
    assert "10 fps" in post.last_publish_error
    assert "Story 1 of 3 was published; 3 not published." in post.last_publish_error
    items = (post.meta or {})["storySequence"]
    assert [i["status"] for i in items] == ["published", "failed", "pending"]
    media = await publishing.media(account.ig_user_id)
    assert [m["id"] for m in media] == [items[0]["instagramMediaId"]]


async def test_a_retry_resumes_after_the_published_stories(
    publishing: Publishing, worker: Any
) -> None:
    """A transient error while the second story (a video) processes: the next attempt reads
    its container and publishes it; the first story is not published twice."""
    user, account = await publishing.user_account()
    photo = await publishing.image(user, 1080, 1920)
    clip = await publishing.video(user, 3.5)
    await publishing.fault(
        account.ig_user_id, "container_status", error={"code": 2, "message": "Service down"}
    )
    post_id = await publishing.post(user, account, "STORIES", [photo, clip], caption="")
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published", post.last_publish_error
    assert post.publish_attempts == 2
    items = (post.meta or {})["storySequence"]
    assert [i["status"] for i in items] == ["published", "published"]
    media = await publishing.media(account.ig_user_id)
    assert [m["id"] for m in media] == [i["instagramMediaId"] for i in items]
    calls = await publishing.calls(account.ig_user_id)
    assert calls["media"] == 2 and calls["media_publish"] == 2


async def test_media_cannot_change_once_a_story_is_out(publishing: Publishing) -> None:
    """A sequence waiting for its retry with its first story published: changing its media
    would publish that story again (409); other fields still change."""
    user, account = await publishing.user_account()
    one = await publishing.image(user, 1080, 1920)
    two = await publishing.image(user, 1080, 1920)
    published = {
        "index": 0,
        "mediaId": str(one.id),
        "containerId": "18000000000000001",
        "instagramMediaId": "18000000000000002",
        "status": "published",
        "error": None,
    }
    pending = {**published, "index": 1, "mediaId": str(two.id), "status": "pending"}
    pending.update(containerId=None, instagramMediaId=None)
    post_id = await publishing.post(
        user,
        account,
        "STORIES",
        [one, two],
        caption="",
        due=datetime.now(UTC) + timedelta(hours=2),
        enqueue=False,
        meta={"storySequence": [published, pending]},
    )
    url = f"{BASE}/posts/{post_id}"
    r = await publishing.http.put(url, json={"mediaIds": [str(two.id)]}, headers=user.headers)
    assert r.status_code == 409 and "already on Instagram" in r.json()["message"], r.text
    r = await publishing.http.put(url, json={"isAiGenerated": True}, headers=user.headers)
    assert r.status_code == 200, r.text
    assert [s["status"] for s in r.json()["storyItems"]] == ["published", "pending"]
