"""Hostile uploads that tests/media does not already cover (bomb PNG, truncated MP4, 0 bytes and
a wrong field name are in tests/media/test_upload_rejected.py):

- polyglots: a JPEG with a ZIP appended (GIFAR-like), a JPEG with HTML appended, a PNG with a
  script appended, an HTML page behind JPEG magic bytes: the type is what the bytes decode as,
  the stored object is served as an image (never text/html or a zip), and its key ends in the
  sniffed extension whatever the client called it; undecodable ones are a clean 4xx;
- a client that stops mid-upload (raw socket, half a multipart body, then close): no row, no S3
  object, no temp file, and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import io
import socket
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.integrations.storage import Storage
from instasched.models import MediaAsset
from tests.factories import Api, User
from tests.hardening.conftest import BASE
from tests.media.files import jpeg_bytes, png_bytes

UPLOAD = f"{BASE}/media/upload"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        z.writestr("evil.class", b"\xca\xfe\xba\xbe" + b"\0" * 64)
    return buf.getvalue()


HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


async def _stored(storage: Storage, db: AsyncSession, user: User) -> tuple[list[str], int]:
    keys = [o.key for o in await storage.list_keys(prefix=f"{user.id}/")]
    rows = await db.scalar(
        select(func.count()).select_from(MediaAsset).where(MediaAsset.workspace_id == user.id)
    )
    await db.rollback()
    return keys, int(rows or 0)


@pytest.mark.parametrize(
    ("name", "data", "filename", "ctype", "mime"),
    [
        (
            "jpeg+zip (GIFAR-like)",
            jpeg_bytes() + _zip(),
            "cat.jar",
            "application/java-archive",
            "image/jpeg",
        ),
        ("jpeg+html", jpeg_bytes() + HTML, "cat.html", "text/html", "image/jpeg"),
        ("png+script", png_bytes(800, 800) + HTML, "x.svg", "image/svg+xml", "image/png"),
    ],
)
async def test_polyglot_is_stored_only_as_the_image_it_decodes_as(
    api: Api,
    http: httpx.AsyncClient,
    hstorage: Storage,
    name: str,
    data: bytes,
    filename: str,
    ctype: str,
    mime: str,
) -> None:
    user = await api.user()
    r = await http.post(UPLOAD, files={"file": (filename, data, ctype)}, headers=user.headers)
    assert r.status_code == 201, (name, r.text)
    asset = r.json()
    assert asset["mimeType"] == mime, asset
    ext = ".jpg" if mime == "image/jpeg" else ".png"
    assert asset["filename"].endswith(ext), asset
    keys = [o.key for o in await hstorage.list_keys(prefix=f"{user.id}/")]
    assert keys
    for key in keys:
        assert not key.endswith((".html", ".jar", ".svg", ".zip")), key
        head = await hstorage.client.head_object(Bucket=hstorage.bucket, Key=key)
        assert head["ContentType"].startswith("image/"), (key, head["ContentType"])
    # What Instagram fetches is the decoded image, never the appended payload: the publish file
    # (re-encoded when one is made) or the original served as an image.
    async with httpx.AsyncClient(timeout=30) as raw:
        fetched = await raw.get(asset["publishUrl"])
    assert fetched.status_code == 200
    assert fetched.headers["content-type"].startswith("image/")


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("html behind jpeg magic", b"\xff\xd8\xff\xe0" + HTML * 20, 422),
        ("zip", _zip(), 415),
        ("html", HTML, 415),
    ],
)
async def test_impostors_are_refused_and_nothing_is_stored(
    api: Api,
    http: httpx.AsyncClient,
    hstorage: Storage,
    db: AsyncSession,
    name: str,
    data: bytes,
    status: int,
) -> None:
    user = await api.user()
    r = await http.post(UPLOAD, files={"file": ("a.jpg", data, "image/jpeg")}, headers=user.headers)
    assert r.status_code == status, (name, r.text)
    assert (
        r.json()["detail"][0]["field"] == "file"
        if isinstance(r.json()["detail"], list)
        else (r.json()["detail"]["field"] == "file")
    )
    assert await _stored(hstorage, db, user) == ([], 0)


def _file_part_head(boundary: str, filename: str) -> bytes:
    """The multipart headers of the JPEG field `file`, up to its content."""
    return (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()


def _half_upload(url: str, token: str, payload: bytes, sent_fraction: float) -> None:
    """Send the headers and part of a multipart body over a raw socket, then hang up."""
    host, port = url.removeprefix("http://").split(":")
    boundary = "----hardening-boundary"
    head = _file_part_head(boundary, "big.jpg")
    tail = f"\r\n--{boundary}--\r\n".encode()
    body = head + payload + tail
    request = (
        f"POST {UPLOAD} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        sock.sendall(body[: int(len(body) * sent_fraction)])
        time.sleep(0.3)
    # closed without the rest of the body


def _temp_entries() -> set[str]:
    tmp = Path(tempfile.gettempdir())
    return {p.name for p in tmp.glob("instasched-media-*")} | {p.name for p in tmp.glob("upload-*")}


async def test_client_disconnect_mid_upload_leaves_nothing(
    api: Api, http: httpx.AsyncClient, hstorage: Storage, db: AsyncSession, live_server: Any
) -> None:
    user = await api.user()
    payload = jpeg_bytes(2000, 2000, quality=100) * 3  # a few MB
    before_tmp = _temp_entries()
    for fraction in (0.05, 0.5, 0.98):
        await asyncio.to_thread(_half_upload, live_server.url, user.token, payload, fraction)
    # The server notices the disconnects; give it a moment, then nothing of them is left.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _temp_entries() - before_tmp:
        await asyncio.sleep(0.2)
    assert _temp_entries() - before_tmp == set()
    assert await _stored(hstorage, db, user) == ([], 0)
    # And the server still serves uploads.
    r = await http.post(
        UPLOAD, files={"file": ("ok.jpg", jpeg_bytes(), "image/jpeg")}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    keys, rows = await _stored(hstorage, db, user)
    assert rows == 1 and keys


async def test_utf8_names_in_multipart_headers(api: Api, http: httpx.AsyncClient) -> None:
    """Found by the fuzzer: a non-latin-1 field name was a 500; UTF-8 file names came back
    mangled (each non-ASCII byte decoded on its own)."""
    user = await api.user()
    r = await http.post(
        UPLOAD,
        files={"file": ("café 🎉 مرحبا.jpg", jpeg_bytes(), "image/jpeg")},
        data={"LUV\U000657d5ú": "x"},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["originalFilename"] == "café 🎉 مرحبا.jpg", r.json()["originalFilename"]


async def _stalled_upload(url: str, token: str) -> asyncio.StreamWriter:
    """An upload whose headers and first body bytes are sent, then nothing (a 1 B/s client):
    the server has authenticated it and waits for the rest of the body."""
    host, port = url.removeprefix("http://").split(":")
    boundary = "stalledboundary"
    head = _file_part_head(boundary, "slow.jpg")
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        (
            f"POST {UPLOAD} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(head) + 1_000_000}\r\n\r\n"
        ).encode()
        + head
        + b"\xff\xd8"
    )
    await writer.drain()
    return writer


async def test_slow_uploads_hold_no_database_connection(
    api: Api, http: httpx.AsyncClient, live_server: Any, app_settings: Any
) -> None:
    """More stalled uploads than the API has pooled connections (issue 24: 25 uploads at 100 B/s
    made /api/auth/me wait ~30 s): another user's authenticated request still answers, because
    an upload returns its connection right after the user lookup."""
    uploader, other = await api.user(), await api.user()
    # Each pool (SQLAlchemy's and asyncpg's) holds up to twice DATABASE_POOL_SIZE.
    count = app_settings.database_pool_size * 2 + 2
    writers = [await _stalled_upload(live_server.url, uploader.token) for _ in range(count)]
    try:
        await asyncio.sleep(1.0)  # every upload is past its user lookup, waiting for its body
        r = await http.get("/api/auth/me", headers=other.headers, timeout=15)
        assert r.status_code == 200, r.text
        r = await http.get(f"{BASE}/media", headers=other.headers, timeout=15)
        assert r.status_code == 200, r.text
    finally:
        for writer in writers:
            writer.close()
