"""Every refusal: a clear 4xx naming the field, and nothing left in S3 or PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.integrations.storage import Storage
from tests.factories import Api, User
from tests.media.conftest import UPLOAD, keys_of, rows_of, upload
from tests.media.files import (
    bomb_png_bytes,
    html_bytes,
    jpeg_bytes,
    mp4_bytes,
    pdf_bytes,
    png_bytes,
    svg_bytes,
)


async def _assert_nothing_stored(storage: Storage, db: AsyncSession, user: User) -> None:
    assert await keys_of(storage, user) == []
    assert await rows_of(db, user) == 0


@pytest.mark.parametrize(
    ("name", "data", "filename", "ctype", "status", "words"),
    [
        ("html", html_bytes(), "cat.jpg", "image/jpeg", 415, "HTML document"),
        ("svg", svg_bytes(), "cat.jpg", "image/jpeg", 415, "SVG image"),
        ("pdf", pdf_bytes(), "doc.jpg", "image/jpeg", 415, "PDF document"),
        ("gif", b"GIF89a" + b"\0" * 100, "a.png", "image/png", 415, "GIF image"),
        ("heic", b"\0\0\0\x18ftypheic" + b"\0" * 100, "a.jpg", "image/jpeg", 415, "HEIC"),
        ("truncated jpeg", jpeg_bytes()[:4000], "a.jpg", "image/jpeg", 422, "truncated"),
        ("corrupt png", png_bytes()[:40] + b"x" * 200, "a.png", "image/png", 422, "PNG"),
        ("truncated mp4", mp4_bytes()[:30000], "v.mp4", "video/mp4", 422, "truncated"),
        ("bomb", bomb_png_bytes(20000, 20000), "b.png", "image/png", 422, "MAX_IMAGE_PIXELS"),
        ("64 Mpx", bomb_png_bytes(8000, 8000), "b.png", "image/png", 422, "64,000,000 pixels"),
        ("empty", b"", "e.jpg", "image/jpeg", 422, "empty"),
        ("tiny", b"\xff\xd8", "e.jpg", "image/jpeg", 415, "not an accepted format"),
    ],
)
async def test_refused_content(
    api: Api,
    http: httpx.AsyncClient,
    storage: Storage,
    db: AsyncSession,
    name: str,
    data: bytes,
    filename: str,
    ctype: str,
    status: int,
    words: str,
) -> None:
    user = await api.user()
    r = await upload(http, user, data, filename=filename, content_type=ctype)
    assert r.status_code == status, (name, r.text)
    body = r.json()
    assert words in body["message"], body
    detail = body["detail"]
    fields = [d["field"] for d in detail] if isinstance(detail, list) else [detail["field"]]
    assert fields == ["file"]
    await _assert_nothing_stored(storage, db, user)


async def test_no_file_and_not_multipart(
    api: Api, http: httpx.AsyncClient, storage: Storage, db: AsyncSession
) -> None:
    user = await api.user()
    r = await http.post(
        UPLOAD, data={"tags": "x"}, files={"other": ("a", b"1")}, headers=user.headers
    )
    assert r.status_code == 422 and "field `file`" in r.json()["message"], r.text
    r = await http.post(UPLOAD, json={"file": "x"}, headers=user.headers)
    assert r.status_code == 415 and "multipart/form-data" in r.json()["message"], r.text
    r = await http.post(
        UPLOAD,
        files=[
            ("file", ("a.jpg", jpeg_bytes(), "image/jpeg")),
            ("file", ("b.jpg", jpeg_bytes(), "image/jpeg")),
        ],
        headers=user.headers,
    )
    assert r.status_code == 422 and "one file" in r.json()["message"], r.text
    await _assert_nothing_stored(storage, db, user)


async def test_bad_tags_and_foreign_account(
    api: Api, http: httpx.AsyncClient, storage: Storage, db: AsyncSession
) -> None:
    user = await api.user()
    other = await api.user()
    foreign = await api.account(other)
    r = await upload(http, user, jpeg_bytes(), tags=["x" * 51])
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == "tags"
    r = await upload(http, user, jpeg_bytes(), tags="[not json")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "tags", r.text
    r = await upload(http, user, jpeg_bytes(), account_id=foreign.id)
    assert r.status_code == 404, r.text
    r = await upload(http, user, jpeg_bytes(), account_id=uuid.uuid4())
    assert r.status_code == 404, r.text
    r = await upload(http, user, jpeg_bytes(), account_id="not-a-uuid")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "accountId", r.text
    r = await http.post(UPLOAD, files={"file": ("a.jpg", jpeg_bytes(), "image/jpeg")})
    assert r.status_code == 401
    await _assert_nothing_stored(storage, db, user)


@contextmanager
def _limits(
    live_server: Any, *, image: int | None = None, video: int | None = None
) -> Iterator[None]:
    settings = live_server.state.settings
    saved = settings.max_file_size, settings.max_video_file_size
    if image is not None:
        settings.max_file_size = image
    if video is not None:
        settings.max_video_file_size = video
    try:
        yield
    finally:
        settings.max_file_size, settings.max_video_file_size = saved


async def test_413_over_the_image_limit(
    api: Api, http: httpx.AsyncClient, storage: Storage, db: AsyncSession
) -> None:
    user = await api.user()
    # A JPEG signature followed by 11 MB: over MAX_FILE_SIZE (10 MB) for images.
    data = jpeg_bytes()[:-2] + b"\0" * (11 * 1024 * 1024)
    r = await upload(http, user, data)
    assert r.status_code == 413, r.text
    assert "MAX_FILE_SIZE" in r.json()["message"] and r.json()["detail"]["field"] == "file"
    await _assert_nothing_stored(storage, db, user)


async def test_413_as_soon_as_the_limit_is_crossed(
    api: Api, http: httpx.AsyncClient, storage: Storage, db: AsyncSession, live_server: Any
) -> None:
    """A chunked body (no Content-Length) of up to 1 GB: refused after ~the limit, not the end."""
    user = await api.user()
    sent = 0
    boundary = "b0undary"
    chunk = b"\0" * (256 * 1024)

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
        ).encode()
        yield head + mp4_bytes()[:64]
        for _ in range(4096):  # 1 GB if nobody stops us
            sent += len(chunk)
            yield chunk

    with _limits(live_server, video=3 * 1024 * 1024):
        try:
            r = await http.post(
                UPLOAD,
                content=body(),
                headers={
                    **user.headers,
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                },
            )
            status = r.status_code
            message = r.json()["message"]
        except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
            status, message = 413, "connection closed by the server"
        assert status == 413, message
        assert "MAX_VIDEO_FILE_SIZE" in message or "closed" in message
    print(f"413 after {sent} bytes sent: {message}")
    # The server stopped reading long before the 1 GB end (socket buffers allow some slack).
    assert sent < 64 * 1024 * 1024, sent
    await _assert_nothing_stored(storage, db, user)


async def test_413_from_content_length_before_reading(
    api: Api, http: httpx.AsyncClient, live_server: Any
) -> None:
    user = await api.user()
    with _limits(live_server, image=1024 * 1024, video=2 * 1024 * 1024):
        r = await upload(http, user, jpeg_bytes()[:-2] + b"\0" * (3 * 1024 * 1024))
    assert r.status_code == 413, r.text
    assert "limit" in r.json()["message"]


async def test_video_limit_applies_to_videos_image_limit_to_images(
    api: Api, http: httpx.AsyncClient, live_server: Any
) -> None:
    user = await api.user()
    video = mp4_bytes(seconds=3)
    with _limits(live_server, image=len(video) - 1, video=len(video) + 1):
        r = await upload(http, user, video, filename="v.mp4", content_type="video/mp4")
        assert r.status_code == 201, r.text
        image = jpeg_bytes()[:-2] + b"\0" * len(video)
        r = await upload(http, user, image)
        assert r.status_code == 413 and "MAX_FILE_SIZE" in r.json()["message"], r.text


# --- failures after the objects were stored ----------------------------------------------------

_FAIL_FN = """
CREATE OR REPLACE FUNCTION media_test_fail() RETURNS trigger AS $$
BEGIN
  IF NEW.original_filename LIKE 'fail-%' THEN
    RAISE EXCEPTION 'simulated failure for %', NEW.original_filename;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
"""


async def test_no_orphans_when_the_insert_or_the_commit_fails(
    api: Api, http: httpx.AsyncClient, storage: Storage, db: AsyncSession
) -> None:
    """Objects are in S3 before the row; a failed INSERT or a failed COMMIT removes them."""
    await db.execute(text(_FAIL_FN))
    # Fires at INSERT (during the service's flush).
    await db.execute(
        text(
            "CREATE TRIGGER media_test_fail_insert BEFORE INSERT ON instagram_media_assets "
            "FOR EACH ROW WHEN (NEW.original_filename = 'fail-insert.jpg') "
            "EXECUTE FUNCTION media_test_fail()"
        )
    )
    # Deferred: fires at COMMIT, after the endpoint returned.
    await db.execute(
        text(
            "CREATE CONSTRAINT TRIGGER media_test_fail_commit "
            "AFTER INSERT ON instagram_media_assets DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            "WHEN (NEW.original_filename = 'fail-commit.jpg') EXECUTE FUNCTION media_test_fail()"
        )
    )
    await db.commit()
    try:
        user = await api.user()
        for name in ("fail-insert.jpg", "fail-commit.jpg"):
            r = await upload(http, user, png_bytes(), filename=name, content_type="image/png")
            assert r.status_code == 500, r.text
            assert r.json()["error"] == "internal_error"
            await _assert_nothing_stored(storage, db, user)
        # The same upload with another name goes through: the triggers were the only problem.
        r = await upload(http, user, png_bytes(), filename="fine.png", content_type="image/png")
        assert r.status_code == 201, r.text
        assert len(await keys_of(storage, user)) == 3
    finally:
        await db.execute(
            text("DROP TRIGGER IF EXISTS media_test_fail_insert ON instagram_media_assets")
        )
        await db.execute(
            text("DROP TRIGGER IF EXISTS media_test_fail_commit ON instagram_media_assets")
        )
        await db.commit()
