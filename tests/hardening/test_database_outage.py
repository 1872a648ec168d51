"""PostgreSQL goes away: the API answers 503 with a clear JSON error, recovers without a restart,
and the worker publishes what fell due during the outage.

A dedicated embedded PostgreSQL (its own temp dir, never the suite's shared server) backs a second
live server and worker; the test stops and starts that PostgreSQL.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from instasched.config import Settings, normalise_database_url
from instasched.embedded._proc import free_port
from instasched.embedded.postgres import EmbeddedPostgres
from tests.conftest import BackgroundWorker, LiveServer
from tests.factories import Api
from tests.media.files import jpeg_bytes

BASE = "/api/instagram/scheduling"


@pytest.fixture(scope="module")
def outage_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    root = Path(tmp_path_factory.mktemp("outage-pg"))
    pg = EmbeddedPostgres(root, database="outage")
    url = pg.start()
    from instasched.migrate import upgrade

    upgrade(url)
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture(scope="module")
def outage_settings(app_settings: Settings, outage_pg: EmbeddedPostgres) -> Settings:
    return app_settings.model_copy(
        update={
            "port": free_port(),
            "database_url": normalise_database_url(outage_pg.url("outage")),
            "queue_prefix": f"outage{secrets.token_hex(3)}",
            "schedule_min_lead_seconds": 0,
            "database_pool_size": 3,
        }
    )


@pytest.fixture(scope="module")
def outage_server(outage_settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(outage_settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _assert_clean_503(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["error"] == "service_unavailable", body
    assert "database" in body["message"].lower(), body
    assert r.headers.get("retry-after"), r.headers
    for leak in ("Traceback", "asyncpg", "sqlalchemy", 'File "', "127.0.0.1"):
        assert leak not in r.text, (leak, r.text)


async def _wait_for(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], timeout: float = 60
) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        r = await client.get(path, headers=headers)
        if r.status_code == 200 or time.monotonic() > deadline:
            return r
        await asyncio.sleep(0.5)


async def test_api_answers_503_and_recovers_and_worker_resumes(
    outage_server: LiveServer, outage_settings: Settings, outage_pg: EmbeddedPostgres
) -> None:
    worker = BackgroundWorker(outage_settings)
    worker.start()
    try:
        await _scenario(outage_server, outage_pg)
    finally:
        worker.stop()


async def _scenario(server: LiveServer, pg: EmbeddedPostgres) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        api = Api(client)
        user = await api.user()
        account = await api.account(user)
        h = user.headers
        r = await client.post(
            f"{BASE}/media/upload",
            files={"file": ("p.jpg", jpeg_bytes(), "image/jpeg")},
            headers=h,
        )
        assert r.status_code == 201, r.text
        media_id = r.json()["id"]
        # Falls due while PostgreSQL is down.
        due = datetime.now(UTC) + timedelta(seconds=4)
        r = await client.post(
            f"{BASE}/posts",
            json={
                "instagramAccountId": str(account.id),
                "scheduledFor": due.isoformat(),
                "caption": "published after the outage",
                "mediaIds": [media_id],
                "mediaType": "IMAGE",
            },
            headers=h,
        )
        assert r.status_code == 201, r.text
        post_id = r.json()["id"]

        await asyncio.to_thread(pg.stop)
        try:
            for method, path, body in (
                ("GET", "/api/instagram/accounts", None),
                ("GET", f"{BASE}/posts/{account.id}/{post_id}", None),
                ("GET", f"{BASE}/media", None),
                ("PUT", f"{BASE}/posts/{post_id}", {"caption": "x"}),
                ("POST", f"{BASE}/templates", {"name": "n", "captionTemplate": "t"}),
            ):
                _assert_clean_503(await client.request(method, path, json=body, headers=h))
            r = await client.post(
                "/api/auth/login", json={"email": user.email, "password": user.password}
            )
            _assert_clean_503(r)
            r = await client.get("/ready")
            assert r.status_code == 503 and "database" in r.json()["message"], r.text
            assert (await client.get("/health")).status_code == 200
            # The post falls due while the database is down.
            await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() + 2))
        finally:
            await asyncio.to_thread(pg.start)

        # The same process recovers: no restart.
        r = await _wait_for(client, "/api/instagram/accounts", h)
        assert r.status_code == 200 and r.json()[0]["id"] == str(account.id), r.text
        for _ in range(5):
            assert (await client.get(f"{BASE}/media", headers=h)).status_code == 200
        r = await _wait_for(client, "/ready", {})
        assert r.status_code == 200, r.text

        # The worker resumes: the post that fell due during the outage is published once.
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline:
            r = await client.get(f"{BASE}/posts/{account.id}/{post_id}", headers=h)
            status = r.json()["status"]
            if status in ("published", "failed"):
                break
            await asyncio.sleep(0.5)
        assert status == "published", r.text
        r = await client.get("/sandbox/_control/media", params={"igUserId": account.ig_user_id})
        assert r.status_code == 200, r.text
        published = [m for m in r.json()["media"] if m["caption"] == "published after the outage"]
        assert len(published) == 1, r.json()
