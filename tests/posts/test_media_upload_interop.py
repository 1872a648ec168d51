"""Posts made from media uploaded through the real upload API (POST .../media/upload)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

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


async def test_scheduling_and_deleting_the_same_asset_never_both_succeed(
    poster: Poster, db: AsyncSession
) -> None:
    """Concurrent "schedule a post with asset X" and "delete asset X": one of them wins, never
    a scheduled post pointing at a deleted asset."""
    assets = [await poster.image() for _ in range(6)]
    bodies = [await poster.body(mediaIds=[str(a.id)]) for a in assets]

    async def pair(asset_id: str, body: dict[str, Any]) -> tuple[int, int]:
        created, deleted = await asyncio.gather(
            poster.post("/posts", json=body), poster.delete(f"/media/assets/{asset_id}")
        )
        return created.status_code, deleted.status_code

    results = await asyncio.gather(
        *(pair(str(a.id), b) for a, b in zip(assets, bodies, strict=True))
    )
    for (created, deleted), asset in zip(results, assets, strict=True):
        assert (created, deleted) in ((201, 409), (422, 200)), (created, deleted)
        exists = await db.scalar(
            text("SELECT count(*) FROM instagram_media_assets WHERE id = :id"), {"id": asset.id}
        )
        posts = await db.scalar(
            text(
                "SELECT count(*) FROM instagram_scheduled_posts "
                "WHERE media_ids @> jsonb_build_array(CAST(:id AS text))"
            ),
            {"id": str(asset.id)},
        )
        assert (exists, posts) == ((1, 1) if created == 201 else (0, 0))


async def test_an_asset_deleted_while_the_post_is_saved_is_a_422(
    poster: Poster, db_engine: Any, db: AsyncSession
) -> None:
    """The deletion holds the asset row; the create has read the asset and waits on it; the
    deletion commits: the create answers 422 naming the item and writes nothing."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    asset = await poster.image()
    body = await poster.body(mediaIds=[str(asset.id)], caption="race " + asset.s3_key)
    factory = async_sessionmaker(db_engine, expire_on_commit=False)
    async with factory() as deleter, factory() as watcher:
        await deleter.execute(
            text("SELECT id FROM instagram_media_assets WHERE id = :id FOR UPDATE"),
            {"id": asset.id},
        )
        creating = asyncio.create_task(poster.post("/posts", json=body))
        for _ in range(600):  # until the create's statement waits for the row lock
            waiting = await watcher.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' "
                    "AND query LIKE 'WITH locked AS (SELECT id FROM instagram_media_assets %'"
                )
            )
            await watcher.rollback()
            if waiting:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the create never waited for the asset row")
        await deleter.execute(
            text("DELETE FROM instagram_media_assets WHERE id = :id"), {"id": asset.id}
        )
        await deleter.commit()
        r = await creating
    assert "was deleted" in problem(r, 422, "mediaIds[0]")
    count = await db.scalar(
        text("SELECT count(*) FROM instagram_scheduled_posts WHERE caption = :c"),
        {"c": body["caption"]},
    )
    assert count == 0
