"""Posts made from media uploaded through the real upload API (POST .../media/upload)."""

from __future__ import annotations

from typing import Any

from tests.media.files import jpeg_bytes, mp4_bytes
from tests.posts.conftest import Poster
from tests.posts.test_create import problem


async def upload(poster: Poster, data: bytes, filename: str, mime: str) -> dict[str, Any]:
    r = await poster.post(
        "/media/upload",
        params={"accountId": str(poster.account.id)},
        files={"file": (filename, data, mime)},
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_uploaded_media_schedules_by_id_and_by_s3_url(poster: Poster) -> None:
    image = await upload(poster, jpeg_bytes(1080, 1080), "square.jpg", "image/jpeg")
    video = await upload(
        poster, mp4_bytes(seconds=4.0, width=720, height=1280), "reel.mp4", "video/mp4"
    )

    by_id = await poster.create(mediaIds=[image["id"]], mediaType="IMAGE")
    assert by_id["mediaUrls"] == [image["s3Url"]]
    by_url = await poster.create(mediaUrls=[video["s3Url"]], mediaType="REELS", caption="Reel #one")
    assert by_url["mediaIds"] == [video["id"]]
    carousel = await poster.create(
        mediaUrls=[image["s3Url"], video["s3Url"]], mediaType="CAROUSEL", caption="Both"
    )
    assert carousel["mediaIds"] == [image["id"], video["id"]]

    r = await poster.get(f"/media/assets/{image['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["usedInPosts"] == 2


async def test_uploaded_wide_image_is_refused_for_the_feed_with_the_report_reasons(
    poster: Poster,
) -> None:
    wide = await upload(poster, jpeg_bytes(1500, 500), "wide.jpg", "image/jpeg")
    report = wide["compatibility"]["feed"]
    assert report["ok"] is False, wide["compatibility"]
    r = await poster.post("/posts", json=await poster.body(mediaIds=[wide["id"]]))
    message = problem(r, 422, "mediaIds[0]")
    assert report["reasons"][0] in message
    # As a story the same file is judged by the report's "story" entry.
    r = await poster.post(
        "/posts", json=await poster.body(mediaIds=[wide["id"]], mediaType="STORIES", caption="")
    )
    assert r.status_code == (201 if wide["compatibility"]["story"]["ok"] else 422), r.text
