"""Fixtures for the posts API tests: media assets (real S3 object + row), a user with an account.

Media assets are made by inserting a `MediaAsset` row and putting the real file into the run's S3
bucket (`tests.media.files` generates real JPEG/MP4 bytes). The media upload endpoint is built in
parallel; `MediaFactory.upload` uses it when it answers, see test_media_upload_interop.py.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from instasched.config import Settings
from instasched.integrations.storage import Storage
from instasched.models import MediaAsset
from instasched.worker.queue import PublishQueue
from tests.factories import Account, Api, User
from tests.media.files import jpeg_bytes, mp4_bytes

OK_EVERYWHERE = {
    "feed": {"ok": True, "reasons": []},
    "carousel": {"ok": True, "reasons": []},
    "reel": {"ok": True, "reasons": []},
    "story": {"ok": True, "reasons": []},
}
BASE = "/api/instagram/scheduling"


@pytest.fixture(scope="session")
async def storage(app_settings: Settings, live_server: Any) -> AsyncIterator[Storage]:
    """An S3 client on the test's event loop (the server's own lives on the server thread)."""
    client = Storage.for_settings(app_settings)
    await client.start()
    await client.ensure_bucket()
    yield client
    await client.close()


_JPEG: bytes | None = None
_MP4: bytes | None = None


def _jpeg() -> bytes:
    global _JPEG
    if _JPEG is None:
        _JPEG = jpeg_bytes(1080, 1080)
    return _JPEG


def _mp4() -> bytes:
    global _MP4
    if _MP4 is None:
        _MP4 = mp4_bytes(seconds=3.0)
    return _MP4


class MediaFactory:
    def __init__(self, db_engine: Any, storage: Storage) -> None:
        self.factory = async_sessionmaker(db_engine, expire_on_commit=False)
        self.storage = storage

    async def asset(
        self,
        user: User,
        *,
        kind: str = "image",
        compatibility: dict[str, Any] | None = None,
        account: Account | None = None,
        duration: int | None = None,
    ) -> MediaAsset:
        """A media asset of `user`: the real file in S3 and its row."""
        data, mime, ext = (
            (_jpeg(), "image/jpeg", "jpg") if kind == "image" else (_mp4(), "video/mp4", "mp4")
        )
        key = f"media/{user.id}/{uuid.uuid4().hex}.{ext}"
        if kind == "video" and duration is None:
            duration = 3
        await self.storage.put_bytes(key, data, mime)
        asset = MediaAsset(
            workspace_id=user.id,
            instagram_account_id=account.id if account else None,
            filename=key.rsplit("/", 1)[1],
            original_filename=f"original.{ext}",
            mime_type=mime,
            file_size=len(data),
            media_type=kind,
            s3_bucket=self.storage.bucket,
            s3_key=key,
            s3_url=self.storage.object_url(key),
            width=1080 if kind == "image" else 320,
            height=1080 if kind == "image" else 240,
            duration=duration,
            compatibility=compatibility if compatibility is not None else OK_EVERYWHERE,
            media_metadata={} if duration is None else {"duration_ms": duration * 1000},
            tags=[],
            stored_bytes=len(data),
        )
        async with self.factory() as session:
            session.add(asset)
            await session.commit()
        return asset

    async def reload(self, asset_id: uuid.UUID) -> MediaAsset:
        async with self.factory() as session:
            found = await session.get(MediaAsset, asset_id)
            assert found is not None
            return found


@pytest.fixture(scope="session")
def media(db_engine: Any, storage: Storage) -> MediaFactory:
    return MediaFactory(db_engine, storage)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def later(**delta: float) -> str:
    """An ISO time `delta` from now (default one day), safely inside the schedule window."""
    return iso(datetime.now(UTC) + (timedelta(**delta) if delta else timedelta(days=1)))


@dataclass
class Poster:
    """A user with a connected sandbox account, and helpers for the posts API."""

    http: httpx.AsyncClient
    user: User
    account: Account
    media: MediaFactory
    assets: list[MediaAsset] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return self.user.headers

    async def image(self, **kw: Any) -> MediaAsset:
        return await self.media.asset(self.user, kind="image", account=self.account, **kw)

    async def video(self, **kw: Any) -> MediaAsset:
        return await self.media.asset(self.user, kind="video", account=self.account, **kw)

    async def body(self, **overrides: Any) -> dict[str, Any]:
        """A valid IMAGE post body (a fresh image unless mediaIds/mediaUrls are given)."""
        body: dict[str, Any] = {
            "instagramAccountId": str(self.account.id),
            "scheduledFor": later(),
            "caption": "Hello #test",
            "mediaType": "IMAGE",
        }
        if "mediaIds" not in overrides and "mediaUrls" not in overrides:
            body["mediaIds"] = [str((await self.image()).id)]
        body.update(overrides)
        return {k: v for k, v in body.items() if v is not ...}

    async def create(self, expect: int = 201, **overrides: Any) -> dict[str, Any]:
        r = await self.http.post(
            f"{BASE}/posts", json=await self.body(**overrides), headers=self.headers
        )
        assert r.status_code == expect, r.text
        data: dict[str, Any] = r.json()
        return data

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        kw["headers"] = {**self.headers, **kw.get("headers", {})}
        return await self.http.post(BASE + path, **kw)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        kw["headers"] = {**self.headers, **kw.get("headers", {})}
        return await self.http.get(BASE + path, **kw)

    async def put(self, path: str, **kw: Any) -> httpx.Response:
        kw["headers"] = {**self.headers, **kw.get("headers", {})}
        return await self.http.put(BASE + path, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        kw["headers"] = {**self.headers, **kw.get("headers", {})}
        return await self.http.delete(BASE + path, **kw)


@pytest.fixture
async def poster(api: Api, http: httpx.AsyncClient, media: MediaFactory) -> Poster:
    user = await api.user()
    account = await api.account(user, timezone="UTC")
    return Poster(http=http, user=user, account=account, media=media)


@pytest.fixture
async def fb_poster(api: Api, http: httpx.AsyncClient, media: MediaFactory) -> Poster:
    """A user whose account is connected with Facebook Login (collaborators, product tags)."""
    user = await api.user()
    account = await api.account(user, timezone="UTC", login_kind="facebook")
    return Poster(http=http, user=user, account=account, media=media)


@pytest.fixture
async def make_poster(api: Api, http: httpx.AsyncClient, media: MediaFactory) -> Any:
    async def _make(timezone: str = "UTC") -> Poster:
        user = await api.user()
        account = await api.account(user, timezone=timezone)
        return Poster(http=http, user=user, account=account, media=media)

    return _make


@pytest.fixture
def server_settings(live_server: Any) -> Iterator[Any]:
    """Change the live server's settings for one test (restored afterwards)."""
    settings = live_server.state.settings
    saved = settings.model_dump()

    class _Override:
        def set(self, **values: Any) -> None:
            for name, value in values.items():
                setattr(settings, name, value)

    yield _Override()
    for name, value in saved.items():
        if getattr(settings, name) != value:
            setattr(settings, name, value)


@pytest.fixture(scope="session")
async def queue(app_settings: Settings) -> AsyncIterator[PublishQueue]:
    """The server's queue (same Redis, same prefix), read from the test's event loop."""
    q = PublishQueue(app_settings.require_redis_url(), prefix=app_settings.queue_prefix)
    yield q
    await q.close()


def token() -> str:
    return secrets.token_hex(8)
