"""A post the API accepts publishes on the sandbox: one test per publishing rule, at its edge.

The API (upload compatibility report, post validation) and the sandbox (container creation,
comments) read the same rules (`instasched.integrations.instagram.publish_rules`); each test
creates a post exactly at a rule's limit through the public API, publishes it now, and checks
that the sandbox published it; one step past the limit the API answers 422 naming the field
(the README's "Publishing rules" table lists the rules).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.factories import Account, User, jpeg_bytes, png_bytes
from tests.media.files import mp4_bytes
from tests.publishing.conftest import Publishing

BASE = "/api/instagram/scheduling"


async def upload(
    p: Publishing, user: User, account: Account, data: bytes, name: str, mime: str
) -> dict[str, Any]:
    r = await p.http.post(
        f"{BASE}/media/upload",
        params={"accountId": str(account.id)},
        files={"file": (name, data, mime)},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def image(p: Publishing, user: User, account: Account, w: int = 1080, h: int = 1080) -> str:
    return str((await upload(p, user, account, jpeg_bytes(w, h), "p.jpg", "image/jpeg"))["id"])


async def video(
    p: Publishing, user: User, account: Account, seconds: float, **kw: Any
) -> dict[str, Any]:
    data = await asyncio.to_thread(mp4_bytes, seconds, 360, 640, **kw)
    return await upload(p, user, account, data, "v.mp4", "video/mp4")


async def create(p: Publishing, user: User, account: Account, **body: Any) -> httpx.Response:
    when = datetime.now(UTC) + timedelta(hours=1)
    payload = {"instagramAccountId": str(account.id), "scheduledFor": when.isoformat(), **body}
    return await p.http.post(f"{BASE}/posts", json=payload, headers=user.headers)


def refused(r: httpx.Response, field: str) -> str:
    assert r.status_code == 422, r.text
    body = r.json()
    assert field in [d.get("field") for d in body["detail"]], body
    return str(body["message"])


async def publishes(p: Publishing, user: User, account: Account, **body: Any) -> dict[str, Any]:
    """Create the post through the API, publish it now; the sandbox's media for it."""
    r = await create(p, user, account, **body)
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]
    r = await p.http.post(
        f"{BASE}/posts/{post_id}/publish-now", params={"waitSeconds": 30}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    post = r.json()
    assert post["status"] == "published", post
    media = await p.media(account.ig_user_id)
    found = [m for m in media if m["id"] == post["instagramMediaId"]]
    assert found, media
    return found[0]


async def test_thumb_offset_inside_the_video_to_the_millisecond(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    # 24 fps: video 4.000 s, audio 4.017 s → the file lasts 4.017 s.
    asset = await video(publishing, user, account, 4.017, fps=24)
    assert (asset["durationMs"], asset["duration"]) == (4017, 4)
    reel = {"mediaType": "REELS", "mediaIds": [asset["id"]], "caption": "reel"}
    # These were accepted (compared with 5 s) and failed at their time with 2207057.
    for late in (4018, 4500, 4900, 4999, 5000, 5001):
        message = refused(
            await create(publishing, user, account, **reel, thumbOffsetMs=late), "thumbOffsetMs"
        )
        assert "4017 ms" in message
    media = await publishes(publishing, user, account, **reel, thumbOffsetMs=4017)
    assert media["params"]["thumb_offset"] == "4017"
    # An edit is checked by the same rule.
    r = await create(publishing, user, account, **reel, thumbOffsetMs=0)
    assert r.status_code == 201, r.text
    url, headers = f"{BASE}/posts/{r.json()['id']}", user.headers
    r = await publishing.http.put(url, json={"thumbOffsetMs": 4500}, headers=headers)
    assert "4017 ms" in refused(r, "thumbOffsetMs")
    r = await publishing.http.put(url, json={"thumbOffsetMs": 4017}, headers=headers)
    assert r.status_code == 200 and r.json()["thumbOffsetMs"] == 4017, r.text


async def test_video_durations_at_three_seconds(publishing: Publishing, worker: Any) -> None:
    user, account = await publishing.user_account()
    three = await video(publishing, user, account, 3.0)
    assert three["durationMs"] == 3000
    await publishes(
        publishing, user, account, mediaType="REELS", mediaIds=[three["id"]], caption="3 s"
    )
    photo = await image(publishing, user, account)
    media = await publishes(
        publishing, user, account, mediaType="CAROUSEL", mediaIds=[photo, three["id"]]
    )
    assert [c["mediaType"] for c in media["children"]] == ["IMAGE", "VIDEO"]
    await publishes(publishing, user, account, mediaType="STORIES", mediaIds=[three["id"]])
    short = await video(publishing, user, account, 2.9)
    for media_type in ("REELS", "STORIES"):
        message = refused(
            await create(publishing, user, account, mediaType=media_type, mediaIds=[short["id"]]),
            "mediaIds[0]",
        )
        assert "at least 3 s" in message and "2.9 s" in message


async def test_feed_aspect_ratio_edges(publishing: Publishing, worker: Any) -> None:
    user, account = await publishing.user_account()
    for w, h in ((1080, 1350), (1910, 1000)):  # 0.8 and 1.91 exactly
        photo = await image(publishing, user, account, w, h)
        await publishes(publishing, user, account, mediaType="IMAGE", mediaIds=[photo])
    tall = await image(publishing, user, account, 1080, 1351)
    message = refused(
        await create(publishing, user, account, mediaType="IMAGE", mediaIds=[tall]),
        "mediaIds[0]",
    )
    assert "aspect ratio" in message
    # Stories take any shape.
    await publishes(publishing, user, account, mediaType="STORIES", mediaIds=[tall])


async def test_png_is_published_as_jpeg(publishing: Publishing, worker: Any) -> None:
    user, account = await publishing.user_account()
    asset = await upload(publishing, user, account, png_bytes(1080, 1080), "p.png", "image/png")
    await publishes(publishing, user, account, mediaType="IMAGE", mediaIds=[asset["id"]])


def _caption_at_limits() -> str:
    mentions = " ".join(f"@user{i}" for i in range(20))
    hashtags = " ".join(f"#tag{i}" for i in range(5))
    # "@émile" is no Instagram username (ASCII only): not a 21st mention for either side.
    text = f"{mentions} {hashtags} café @émile "
    return text + "x" * (2200 - len(text))


async def test_caption_at_its_limits(publishing: Publishing, worker: Any) -> None:
    user, account = await publishing.user_account()
    photo = await image(publishing, user, account)
    caption = _caption_at_limits()
    assert len(caption) == 2200
    media = await publishes(
        publishing, user, account, mediaType="IMAGE", mediaIds=[photo], caption=caption
    )
    assert media["caption"] == caption
    for longer, words in (
        (caption + "x", "2201 characters"),
        (caption[:-10] + " #tag5", "6 hashtags"),
        (caption[:-10] + " @user20", "21 @-mentions"),
    ):
        message = refused(
            await create(
                publishing, user, account, mediaType="IMAGE", mediaIds=[photo], caption=longer
            ),
            "caption",
        )
        assert words in message


async def test_tags_and_collaborators_at_their_limits(publishing: Publishing, worker: Any) -> None:
    user, account = await publishing.user_account(login_kind="facebook")
    photo = await image(publishing, user, account)
    user_tags = [{"username": f"friend{i}", "x": i / 20, "y": 1 - i / 20} for i in range(20)]
    product_tags = [{"productId": str(1000 + i), "x": 0.5, "y": 0.5} for i in range(20)]
    post = {
        "mediaType": "IMAGE",
        "mediaIds": [photo],
        "userTags": user_tags,
        "productTags": product_tags,
        "collaborators": ["one", "two", "three", "four", "five"],
    }
    media = await publishes(publishing, user, account, **post)
    assert len(media["params"]["user_tags"]) == 20
    assert len(media["params"]["product_tags"]) == 20
    assert media["params"]["collaborators"] == ["one", "two", "three", "four", "five"]
    for field, value in (
        ("userTags", [*user_tags, {"username": "more", "x": 0.1, "y": 0.1}]),
        ("productTags", [*product_tags, {"productId": "1", "x": 0.1, "y": 0.1}]),
        ("collaborators", ["one", "two", "three", "four", "five", "six"]),
    ):
        refused(await create(publishing, user, account, **{**post, field: value}), field)


async def test_user_tags_on_a_story(publishing: Publishing, worker: Any) -> None:
    """Meta takes `user_tags` on STORIES containers (since 2025-07); a story needs no x/y."""
    user, account = await publishing.user_account()
    tall = await image(publishing, user, account, 1080, 1920)
    user_tags = [{"username": f"friend{i}"} for i in range(19)]
    user_tags.append({"username": "placed", "x": 0.25, "y": 0.75})
    story = {"mediaType": "STORIES", "mediaIds": [tall], "userTags": user_tags}
    media = await publishes(publishing, user, account, **story)
    assert media["mediaType"] == "STORIES"
    assert media["params"]["user_tags"] == user_tags
    one_more = [*user_tags, {"username": "more"}]
    refused(await create(publishing, user, account, **{**story, "userTags": one_more}), "userTags")


async def test_carousel_of_ten(publishing: Publishing, worker: Any) -> None:
    user, account = await publishing.user_account()
    photos = [await image(publishing, user, account) for _ in range(10)]
    media = await publishes(publishing, user, account, mediaType="CAROUSEL", mediaIds=photos)
    assert len(media["children"]) == 10
    refused(
        await create(
            publishing, user, account, mediaType="CAROUSEL", mediaIds=[*photos, photos[0]]
        ),
        "mediaIds",
    )
    refused(
        await create(publishing, user, account, mediaType="CAROUSEL", mediaIds=photos[:1]),
        "mediaIds",
    )


async def test_first_comment(publishing: Publishing, worker: Any) -> None:
    user, account = await publishing.user_account()
    photo = await image(publishing, user, account)
    comment = "y" * 2200
    media = await publishes(
        publishing, user, account, mediaType="IMAGE", mediaIds=[photo], firstComment=comment
    )
    # The comment follows the recorded publication.
    for _ in range(100):
        if media["comments"]:
            break
        await asyncio.sleep(0.1)
        media = next(
            m for m in await publishing.media(account.ig_user_id) if m["id"] == media["id"]
        )
    assert [c["text"] for c in media["comments"]] == [comment]
    for bad in ("   ", comment + "y"):
        refused(
            await create(
                publishing, user, account, mediaType="IMAGE", mediaIds=[photo], firstComment=bad
            ),
            "firstComment",
        )


async def test_collaborators_on_feed_reels_and_carousels_not_stories(
    publishing: Publishing, worker: Any
) -> None:
    """Meta: up to 5 collaborators on feed images, reels and carousels, set on the carousel's
    own container (the sandbox refuses them on its items, as Meta does); none on stories."""
    user, account = await publishing.user_account(login_kind="facebook")
    photos = [await image(publishing, user, account) for _ in range(2)]
    five = ["one", "two", "three", "four", "five"]
    carousel = await publishes(
        publishing, user, account, mediaType="CAROUSEL", mediaIds=photos, collaborators=five
    )
    assert carousel["params"]["collaborators"] == five
    assert len(carousel["children"]) == 2
    assert all("collaborators" not in child["params"] for child in carousel["children"])
    clip = await video(publishing, user, account, 3.0)
    reel = await publishes(
        publishing, user, account, mediaType="REELS", mediaIds=[clip["id"]], collaborators=five
    )
    assert reel["params"]["collaborators"] == five
    message = refused(
        await create(
            publishing,
            user,
            account,
            mediaType="STORIES",
            mediaIds=photos[:1],
            collaborators=["one"],
        ),
        "collaborators",
    )
    assert "does not allow collaborators on STORIES" in message
