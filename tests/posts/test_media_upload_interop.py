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


async def test_concurrent_posts_with_one_asset_count_every_use(
    poster: Poster, db: AsyncSession
) -> None:
    """Uses go to per-connection stripes (migration 0007): posts created at once with one asset
    (and a carousel repeating it) are all counted; an edit that drops the asset takes its uses
    back; uses counted before the migration (the asset's own column) are still included."""
    image = await upload(poster, jpeg_bytes(1080, 1080), "logo.jpg", "image/jpeg")
    other = await upload(poster, jpeg_bytes(1080, 1080), "other.jpg", "image/jpeg")
    bodies = [await poster.body(mediaIds=[image["id"]]) for _ in range(12)]
    bodies.append(
        await poster.body(
            mediaIds=[image["id"], image["id"], other["id"]], mediaType="CAROUSEL", caption="x"
        )
    )
    created = await asyncio.gather(*(poster.post("/posts", json=b) for b in bodies))
    assert [r.status_code for r in created] == [201] * 13, [r.text for r in created]

    async def shown(asset_id: str) -> dict[str, Any]:
        r = await poster.get(f"/media/assets/{asset_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    first = await shown(image["id"])
    assert first["usedInPosts"] == 14 and first["lastUsedAt"] is not None
    assert (await shown(other["id"]))["usedInPosts"] == 1
    stripes = (
        await db.execute(
            text(
                "SELECT stripe, uses FROM instagram_media_asset_uses WHERE asset_id = :id"
                " ORDER BY stripe"
            ),
            {"id": image["id"]},
        )
    ).all()
    assert sum(uses for _, uses in stripes) == 14 and all(0 <= s < 16 for s, _ in stripes)
    # The asset row itself is not written by a post (that was the contended row).
    raw = (
        await db.execute(
            text("SELECT used_in_posts, last_used_at FROM instagram_media_assets WHERE id = :id"),
            {"id": image["id"]},
        )
    ).one()
    assert tuple(raw) == (0, None)

    r = await poster.put(f"/posts/{created[0].json()['id']}", json={"mediaIds": [other["id"]]})
    assert r.status_code == 200, r.text
    assert (await shown(image["id"]))["usedInPosts"] == 13
    assert (await shown(other["id"]))["usedInPosts"] == 2

    # Counted before migration 0007: kept in the asset's column, added to the stripes.
    await db.execute(
        text("UPDATE instagram_media_assets SET used_in_posts = 5 WHERE id = :id"),
        {"id": image["id"]},
    )
    await db.commit()
    assert (await shown(image["id"]))["usedInPosts"] == 18
    listed = await poster.get("/media", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    by_id = {item["id"]: item for item in listed.json()["items"]}
    assert by_id[image["id"]]["usedInPosts"] == 18
    assert by_id[image["id"]]["lastUsedAt"] == first["lastUsedAt"]
