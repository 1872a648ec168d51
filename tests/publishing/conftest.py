"""Publishing fixtures: real S3 objects + asset rows, post rows + queue jobs, sandbox controls."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from instasched.config import Settings
from instasched.integrations.storage import Storage
from instasched.models import InstagramAccount, MediaAsset, ScheduledPost
from instasched.state import AppState
from instasched.worker.queue import PublishQueue
from tests.factories import Account, Api, User, jpeg_bytes
from tests.media import files as media_files


def mp4_bytes(seconds: float = 3.5, width: int = 64, height: int = 112, fps: int = 24) -> bytes:
    """A real, small H.264 MP4 (PyAV), quick to make, within Meta's 23-60 fps."""
    return media_files.mp4_bytes(seconds, width, height, fps=fps)


@dataclass
class Publishing:
    http: httpx.AsyncClient
    api: Api
    engine: AsyncEngine
    storage: Storage
    queue: PublishQueue
    settings: Settings

    @property
    def sessions(self) -> async_sessionmaker[Any]:
        return async_sessionmaker(self.engine, expire_on_commit=False)

    async def user_account(self, *, login_kind: str = "instagram") -> tuple[User, Account]:
        user = await self.api.user()
        return user, await self.api.account(user, login_kind=login_kind)

    async def asset(self, user: User, data: bytes, *, kind: str, mime: str, ext: str) -> MediaAsset:
        key = f"test-publishing/{user.id}/{secrets.token_hex(8)}.{ext}"
        await self.storage.put_bytes(key, data, mime)
        asset = MediaAsset(
            workspace_id=user.id,
            filename=key.rsplit("/", 1)[-1],
            original_filename=f"original.{ext}",
            mime_type=mime,
            file_size=len(data),
            media_type=kind,
            s3_bucket=self.storage.bucket,
            s3_key=key,
            s3_url=self.storage.object_url(key),
            stored_bytes=len(data),
        )
        async with self.sessions() as session:
            session.add(asset)
            await session.commit()
        return asset

    async def image(self, user: User, width: int = 1080, height: int = 1080) -> MediaAsset:
        return await self.asset(
            user, jpeg_bytes(width, height), kind="image", mime="image/jpeg", ext="jpg"
        )

    async def video(self, user: User, seconds: float = 3.5) -> MediaAsset:
        data = await asyncio.to_thread(mp4_bytes, seconds)
        return await self.asset(user, data, kind="video", mime="video/mp4", ext="mp4")

    async def post(
        self,
        user: User,
        account: Account,
        media_type: str,
        assets: list[MediaAsset],
        *,
        due: datetime | None = None,
        enqueue: bool = True,
        caption: str | None = None,
        **fields: Any,
    ) -> uuid.UUID:
        due = due or datetime.now(UTC) + timedelta(milliseconds=300)
        post = ScheduledPost(
            instagram_account_id=account.id,
            workspace_id=user.id,
            scheduled_for=due,
            caption=caption if caption is not None else f"Test post {secrets.token_hex(4)}",
            media_urls=[a.s3_url for a in assets],
            media_ids=[str(a.id) for a in assets],
            media_type=media_type,
            status="scheduled",
            publish_attempts=0,
            **fields,
        )
        async with self.sessions() as session:
            session.add(post)
            await session.commit()
        if enqueue:
            await self.queue.schedule(post.id, due)
        return post.id

    async def get(self, post_id: uuid.UUID) -> ScheduledPost:
        async with self.sessions() as session:
            post = await session.get(ScheduledPost, post_id)
            assert post is not None
            return post

    async def account_row(self, account_id: uuid.UUID) -> InstagramAccount:
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(InstagramAccount).where(InstagramAccount.id == account_id)
                )
            ).scalar_one()
            return row

    async def wait(
        self, post_id: uuid.UUID, *statuses: str, timeout: float = 30.0
    ) -> ScheduledPost:
        deadline = time.monotonic() + timeout
        while True:
            post = await self.get(post_id)
            if post.status in statuses:
                return post
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"post {post_id} is {post.status} (wanted {statuses}); "
                    f"error={post.last_publish_error!r} attempts={post.publish_attempts}"
                )
            await asyncio.sleep(0.1)

    async def media(self, ig_user_id: str) -> list[dict[str, Any]]:
        r = await self.http.get("/sandbox/_control/media", params={"igUserId": ig_user_id})
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["media"]
        return items

    async def calls(self, ig_user_id: str) -> dict[str, int]:
        """The Graph calls the sandbox answered for this account, by endpoint."""
        r = await self.http.get("/sandbox/_control/calls", params={"igUserId": ig_user_id})
        assert r.status_code == 200, r.text
        calls: dict[str, int] = r.json()["calls"]
        return calls

    async def fault(self, ig_user_id: str, endpoint: str, count: int = 1, **kw: Any) -> None:
        body = {"igUserId": ig_user_id, "endpoint": endpoint, "count": count, **kw}
        r = await self.http.post("/sandbox/_control/faults", json=body)
        assert r.status_code == 201, r.text


@pytest.fixture(scope="session")
async def publishing(
    http: httpx.AsyncClient, api: Api, db_engine: AsyncEngine, app_settings: Settings
) -> AsyncIterator[Publishing]:
    storage = Storage.for_settings(app_settings)
    await storage.start()
    await storage.ensure_bucket()
    queue = PublishQueue(
        app_settings.require_redis_url(),
        prefix=app_settings.queue_prefix,
        attempts=app_settings.publish_max_attempts,
        backoff_ms=int(app_settings.publish_retry_base_seconds * 1000),
    )
    try:
        yield Publishing(
            http=http,
            api=api,
            engine=db_engine,
            storage=storage,
            queue=queue,
            settings=app_settings,
        )
    finally:
        await queue.close()
        await storage.close()


@pytest.fixture
async def app(app_settings: Settings, live_server: Any) -> AsyncIterator[AppState]:
    """A worker's state (engine, Redis, Graph client on the sandbox), to play its part in a
    test (test_insights.py has its own, which also clears the insights pause)."""
    state = await AppState.create(app_settings)
    try:
        yield state
    finally:
        await state.close()
