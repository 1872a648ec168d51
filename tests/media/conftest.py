"""Media test fixtures: a Storage client of our own (the server's is bound to its own loop)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.config import Settings
from instasched.integrations.storage import Storage
from instasched.models import MediaAsset
from tests.factories import User

UPLOAD = "/api/instagram/scheduling/media/upload"
MEDIA = "/api/instagram/scheduling/media"


@pytest.fixture(scope="session")
async def storage(live_server: Any, app_settings: Settings) -> AsyncIterator[Storage]:
    s = Storage.for_settings(app_settings)
    await s.start()
    try:
        yield s
    finally:
        await s.close()


async def upload(
    http: httpx.AsyncClient,
    user: User,
    data: bytes,
    *,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    account_id: uuid.UUID | str | None = None,
    tags: str | list[str] | None = None,
) -> httpx.Response:
    params = {"accountId": str(account_id)} if account_id else None
    form: dict[str, Any] | None = None
    if isinstance(tags, list):
        form = {"tags": json.dumps(tags)}
    elif tags is not None:
        form = {"tags": tags}
    return await http.post(
        UPLOAD,
        params=params,
        files={"file": (filename, data, content_type)},
        data=form,
        headers=user.headers,
    )


async def keys_of(storage: Storage, user: User) -> list[str]:
    return sorted(o.key for o in await storage.list_keys(prefix=f"{user.id}/"))


async def rows_of(db: AsyncSession, user: User) -> int:
    count = await db.scalar(
        select(func.count()).select_from(MediaAsset).where(MediaAsset.workspace_id == user.id)
    )
    return int(count or 0)
