"""Every accepted format, end to end through the HTTP API, the real S3 and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import uuid

import httpx
from PIL import Image

from instasched.integrations.storage import Storage
from instasched.media.probe import read_atoms
from tests.factories import Api
from tests.media.conftest import keys_of, upload
from tests.media.files import (
    cmyk_jpeg_bytes,
    exif_rotated_jpeg_bytes,
    jpeg_bytes,
    mov_bytes,
    mp4_bytes,
    png_bytes,
)


async def _fetch(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as plain:
        return await plain.get(url)


async def test_plain_jpeg(api: Api, http: httpx.AsyncClient, storage: Storage) -> None:
    user = await api.user()
    account = await api.account(user)
    data = jpeg_bytes(1080, 1350)
    r = await upload(
        http,
        user,
        data,
        filename="../../etc/Photo.JPG",
        account_id=account.id,
        tags="Summer, #launch,summer",
    )
    assert r.status_code == 201, r.text
    body = r.json()
    asset_id = uuid.UUID(body["id"])
    assert body["mediaType"] == "image"
    assert body["mimeType"] == "image/jpeg"
    assert body["instagramAccountId"] == str(account.id)
    assert body["originalFilename"] == "Photo.JPG"
    assert body["filename"] == f"{asset_id}.jpg"
    assert body["fileSize"] == len(data)
    assert (body["width"], body["height"]) == (1080, 1350)
    assert body["duration"] is None
    assert body["tags"] == ["summer", "launch"]
    assert body["checksumSha256"] == hashlib.sha256(data).hexdigest()
    assert body["compatibility"]["feed"] == {"ok": True, "reasons": []}
    assert body["compatibility"]["carousel"]["ok"] is True
    assert body["compatibility"]["reel"]["ok"] is False
    assert body["compatibility"]["story"]["ok"] is True
    # A plain sRGB JPEG is published as is; only a preview is derived.
    assert body["publishUrl"] == body["url"]
    assert body["metadata"]["converted"] is False
    keys = await keys_of(storage, user)
    prefix = f"{user.id}/"
    assert len(keys) == 2 and all(k.startswith(prefix) for k in keys)
    original = next(k for k in keys if k.endswith(f"{asset_id}.jpg"))
    assert original.split("/")[1].isdigit() and len(original.split("/")[1]) == 4
    assert any(k.endswith(f"{asset_id}.preview.jpg") for k in keys)
    assert body["s3Url"].endswith(original)
    # The presigned URL is fetchable by anyone, with a plain GET, and returns the exact bytes.
    got = await _fetch(body["url"])
    assert got.status_code == 200 and got.content == data
    preview = await _fetch(body["previewUrl"])
    assert preview.status_code == 200
    assert Image.open(io.BytesIO(preview.content)).size == (864, 1080)
    assert body["thumbnailUrl"] == body["previewUrl"]
    assert body["usedInPosts"] == 0 and body["storedBytes"] > len(data)


async def test_png_gets_a_jpeg_beside_the_original(
    api: Api, http: httpx.AsyncClient, storage: Storage
) -> None:
    user = await api.user()
    data = png_bytes(1200, 1000)
    r = await upload(http, user, data, filename="logo.png", content_type="image/png")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["mimeType"] == "image/png" and body["filename"].endswith(".png")
    assert (body["width"], body["height"]) == (1200, 1000)
    assert body["metadata"]["has_alpha"] is True
    asset_id = body["id"]
    keys = await keys_of(storage, user)
    assert sorted(k.split("/")[-1] for k in keys) == [
        f"{asset_id}.png",
        f"{asset_id}.preview.jpg",
        f"{asset_id}.publish.jpg",
    ]
    original = await _fetch(body["url"])
    assert original.content == data  # the original is kept untouched
    published = await _fetch(body["publishUrl"])
    assert published.status_code == 200
    img = Image.open(io.BytesIO(published.content))
    assert img.format == "JPEG" and img.mode == "RGB" and img.size == (1200, 1000)
    # The transparent corner was flattened on white, not black.
    corner = img.getpixel((img.width - 1, img.height - 1))
    assert isinstance(corner, tuple) and corner[2] > 150
    assert body["compatibility"]["feed"]["ok"] is True


async def test_exif_rotated_jpeg(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    r = await upload(http, user, exif_rotated_jpeg_bytes(1200, 800, orientation=6))
    assert r.status_code == 201, r.text
    body = r.json()
    # Stored 1200x800, displayed 800x1200: the API reports what people see.
    assert (body["width"], body["height"]) == (800, 1200)
    assert body["metadata"]["exif_orientation"] == 6
    published = Image.open(io.BytesIO((await _fetch(body["publishUrl"])).content))
    assert published.size == (800, 1200)
    assert published.getexif().get(0x0112, 1) == 1
    # 800/1200 = 0.67: too tall for the feed, with a reason a person can act on.
    feed = body["compatibility"]["feed"]
    assert feed["ok"] is False
    assert any("aspect ratio 0.67" in reason and "4:5" in reason for reason in feed["reasons"])
    assert body["compatibility"]["story"]["ok"] is True


async def test_cmyk_jpeg_converted_to_srgb(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    r = await upload(http, user, cmyk_jpeg_bytes(1080, 1080))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["metadata"]["mode"] == "CMYK"
    assert body["publishUrl"] != body["url"]
    published = Image.open(io.BytesIO((await _fetch(body["publishUrl"])).content))
    assert published.mode == "RGB" and published.format == "JPEG"


async def test_mp4_h264_aac(api: Api, http: httpx.AsyncClient, storage: Storage) -> None:
    user = await api.user()
    data = mp4_bytes(seconds=4, width=360, height=640)
    r = await upload(http, user, data, filename="clip.mp4", content_type="video/mp4")
    assert r.status_code == 201, r.text
    body = r.json()
    asset_id = body["id"]
    assert body["mediaType"] == "video" and body["mimeType"] == "video/mp4"
    assert (body["width"], body["height"]) == (360, 640)
    assert body["duration"] == 4 and body["durationMs"] == 4000
    meta = body["metadata"]
    assert meta["video_codec"] == "h264" and meta["audio_codec"] == "aac"
    assert meta["audio_sample_rate"] == 44100 and meta["fps"] == 30.0
    assert meta["faststart"] is True and meta["rotation"] == 0
    assert meta["thumbnail_at_ms"] == 1000
    keys = await keys_of(storage, user)
    assert sorted(k.split("/")[-1] for k in keys) == [f"{asset_id}.mp4", f"{asset_id}.thumb.jpg"]
    thumb = await _fetch(body["thumbnailUrl"])
    assert Image.open(io.BytesIO(thumb.content)).size == (360, 640)
    assert (await _fetch(body["url"])).content == data
    compat = body["compatibility"]
    assert compat["reel"]["ok"] is True and compat["reel"]["reasons"] == []
    assert compat["story"]["ok"] is True and compat["carousel"]["ok"] is True
    assert compat["feed"]["ok"] is False


async def test_mov(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    r = await upload(
        http, user, mov_bytes(seconds=3), filename="clip.mov", content_type="video/quicktime"
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["mimeType"] == "video/quicktime" and body["filename"].endswith(".mov")
    assert body["metadata"]["container"] == "mov"
    assert body["compatibility"]["reel"]["ok"] is True
    # 320x240 is not 9:16: fine, with a note.
    assert any("9:16" in n for n in body["compatibility"]["reel"]["reasons"])


async def test_video_facts_rotation_hevc_short(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    r = await upload(
        http,
        user,
        mp4_bytes(seconds=3, width=320, height=180, rotate=-90),
        filename="phone.mp4",
        content_type="video/mp4",
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["metadata"]["rotation"] == 90
    assert (body["width"], body["height"]) == (180, 320)
    thumb = Image.open(io.BytesIO((await _fetch(body["thumbnailUrl"])).content))
    assert thumb.size == (180, 320)

    r = await upload(http, user, mp4_bytes(seconds=3, codec="hevc"), filename="h.mp4")
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["video_codec"] == "hevc"
    assert r.json()["compatibility"]["reel"]["ok"] is True

    r = await upload(http, user, mp4_bytes(seconds=1.0, fps=15), filename="short.mp4")
    assert r.status_code == 201, r.text
    compat = r.json()["compatibility"]
    assert compat["reel"]["ok"] is False
    assert any("at least 3 s" in x for x in compat["reel"]["reasons"])
    assert any("15 fps" in x for x in compat["reel"]["reasons"])
    assert compat["story"]["ok"] is False and compat["carousel"]["ok"] is False
    assert r.json()["metadata"]["thumbnail_at_ms"] == 0


async def test_video_without_faststart_is_remuxed(
    api: Api, http: httpx.AsyncClient, storage: Storage
) -> None:
    user = await api.user()
    data = mp4_bytes(seconds=3, faststart=False)
    r = await upload(http, user, data, filename="export.mp4")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["metadata"]["faststart"] is False
    assert body["metadata"]["faststart_remuxed"] is True
    assert body["compatibility"]["reel"]["ok"] is True
    published = (await _fetch(body["publishUrl"])).content
    import tempfile
    from pathlib import Path

    with tempfile.NamedTemporaryFile(suffix=".mp4") as fh:
        fh.write(published)
        fh.flush()
        kinds = [a.kind for a in read_atoms(Path(fh.name))]
    assert kinds.index("moov") < kinds.index("mdat")
    assert len(await keys_of(storage, user)) == 3
