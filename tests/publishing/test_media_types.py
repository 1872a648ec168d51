"""Each media type goes out with its parameters; the sandbox records what Meta would have."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.publishing.conftest import Publishing


async def test_image_with_every_parameter(publishing: Publishing, worker: Any) -> None:
    user, account = await publishing.user_account(login_kind="facebook")
    image = await publishing.image(user, 1080, 1350)
    post_id = await publishing.post(
        user,
        account,
        "IMAGE",
        [image],
        caption="Launch day #new @friend",
        alt_text="A red square",
        location_id="110184922344060",
        user_tags=[{"username": "friend", "x": 0.5, "y": 0.25}],
        product_tags=[{"productId": "987654321", "x": 0.1, "y": 0.9}],
        collaborators=["partner_one"],
        first_comment="More at the link in bio",
    )
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published", post.last_publish_error
    assert post.publish_attempts == 1
    assert post.instagram_media_id and post.permalink and post.instagram_media_url
    assert post.published_at is not None and post.container_id
    # The first comment follows the publication (a separate write): wait for it.
    deadline = time.monotonic() + 15
    while not post.first_comment_id and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        post = await publishing.get(post_id)
    assert post.first_comment_id
    assert (post.initial_reach or 0) > 0

    media = await publishing.media(account.ig_user_id)
    assert len(media) == 1
    item = media[0]
    assert item["id"] == post.instagram_media_id
    assert item["mediaType"] == "IMAGE"
    assert item["caption"] == "Launch day #new @friend"
    assert item["permalink"] == post.permalink
    params = item["params"]
    assert params["alt_text"] == "A red square"
    assert params["location_id"] == "110184922344060"
    assert params["user_tags"] == [{"username": "friend", "x": 0.5, "y": 0.25}]
    assert params["product_tags"] == [{"product_id": "987654321", "x": 0.1, "y": 0.9}]
    assert params["collaborators"] == ["partner_one"]
    assert [c["text"] for c in item["comments"]] == ["More at the link in bio"]


async def test_image_publish_makes_three_graph_calls(publishing: Publishing, worker: Any) -> None:
    """Create the container, media_publish, then fields and insights in one call: an image
    container is FINISHED at once, so its status is not read before publishing."""
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    post_id = await publishing.post(user, account, "IMAGE", [image])
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published", post.last_publish_error
    assert post.permalink and post.instagram_media_url and (post.initial_reach or 0) > 0
    assert not {"insightsError", "mediaFieldsError"} & set(post.meta or {})
    assert await publishing.calls(account.ig_user_id) == {
        "publishing_limit": 1,  # read when the account was connected (posts.quota)
        "media": 1,
        "media_publish": 1,
        "media_fields": 1,
    }


async def test_insights_failure_still_records_the_permalink(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    await publishing.fault(
        account.ig_user_id,
        "insights",
        error={"code": 10, "message": "Application does not have permission for this action"},
    )
    post_id = await publishing.post(user, account, "IMAGE", [image])
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published", post.last_publish_error
    (item,) = await publishing.media(account.ig_user_id)
    assert post.permalink == item["permalink"]
    assert post.initial_reach == 0  # the server default: no reach was read
    assert "does not have permission" in (post.meta or {})["insightsError"]


async def test_image_story_is_published_without_insights(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user, 1080, 1920)
    post_id = await publishing.post(user, account, "STORIES", [image], caption="")
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published", post.last_publish_error
    assert post.permalink
    assert await publishing.calls(account.ig_user_id) == {
        "publishing_limit": 1,  # read when the account was connected (posts.quota)
        "media": 1,
        "media_publish": 1,
        "media_fields": 1,
    }


async def test_reel_with_cover_and_share_to_feed(publishing: Publishing, worker: Any) -> None:
    user, account = await publishing.user_account(login_kind="facebook")
    video = await publishing.video(user, 3.5)
    cover = await publishing.image(user, 1080, 1350)
    post_id = await publishing.post(
        user,
        account,
        "REELS",
        [video],
        caption="Behind the scenes",
        share_to_feed=True,
        cover_url=cover.s3_url,
        location_id="1234",
        collaborators=["a_friend"],
        user_tags=[{"username": "friend"}],
    )
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published", post.last_publish_error
    (item,) = await publishing.media(account.ig_user_id)
    assert item["mediaType"] == "REELS"
    assert item["params"]["share_to_feed"] == "true"
    assert item["params"]["cover_url"].startswith("http")
    assert "thumb_offset" not in item["params"]  # cover_url wins
    assert item["params"]["location_id"] == "1234"
    assert item["params"]["collaborators"] == ["a_friend"]
    assert item["params"]["user_tags"] == [{"username": "friend"}]


async def test_single_video_goes_out_as_reel_with_thumb_offset(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    video = await publishing.video(user, 3.5)
    post_id = await publishing.post(
        user, account, "VIDEO", [video], share_to_feed=False, thumb_offset_ms=1500
    )
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published", post.last_publish_error
    (item,) = await publishing.media(account.ig_user_id)
    assert item["mediaType"] == "REELS"
    assert item["params"]["thumb_offset"] == "1500"
    assert item["params"]["share_to_feed"] == "false"


async def test_carousel_of_image_and_video(publishing: Publishing, worker: Any) -> None:
    user, account = await publishing.user_account(login_kind="facebook")
    first = await publishing.image(user, 1080, 1080)
    second = await publishing.video(user, 3.5)
    third = await publishing.image(user, 1080, 1080)
    post_id = await publishing.post(
        user,
        account,
        "CAROUSEL",
        [first, second, third],
        caption="Three in one",
        location_id="42",
        collaborators=["collab_a"],
        alt_text="first slide",
        user_tags=[{"username": "tagged", "x": 0.2, "y": 0.3}],
    )
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published", post.last_publish_error
    assert len(post.child_container_ids) == 3
    (item,) = await publishing.media(account.ig_user_id)
    assert item["mediaType"] == "CAROUSEL"
    assert item["caption"] == "Three in one"
    assert [c["mediaType"] for c in item["children"]] == ["IMAGE", "VIDEO", "IMAGE"]
    assert [c["containerId"] for c in item["children"]] == post.child_container_ids
    assert item["children"][0]["params"]["alt_text"] == "first slide"
    assert item["children"][0]["params"]["user_tags"] == [
        {"username": "tagged", "x": 0.2, "y": 0.3}
    ]
    assert item["params"]["location_id"] == "42"
    assert item["params"]["collaborators"] == ["collab_a"]


async def test_stories_image_and_video(publishing: Publishing, worker: Any) -> None:
    user, account = await publishing.user_account()
    tall = await publishing.image(user, 1080, 1920)  # 9:16 is fine for a story, not the feed
    video = await publishing.video(user, 3.5)
    image_post = await publishing.post(user, account, "STORIES", [tall], caption="")
    video_post = await publishing.post(user, account, "STORIES", [video], caption="")
    for post_id in (image_post, video_post):
        post = await publishing.wait(post_id, "published", "failed")
        assert post.status == "published", post.last_publish_error
    media = await publishing.media(account.ig_user_id)
    assert sorted(m["mediaType"] for m in media) == ["STORIES", "STORIES"]
    assert {m["caption"] for m in media} == {None}
