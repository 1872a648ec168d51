"""/health and /ready: a second app with a broken Redis or S3 address answers 503 naming it."""

from __future__ import annotations

import httpx
import pytest

from instasched.config import Settings
from instasched.embedded._proc import free_port
from tests.conftest import LiveServer


async def test_health_and_ready_ok(http: httpx.AsyncClient) -> None:
    r = await http.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = await http.get("/ready")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "s3": "ok"}}


@pytest.mark.parametrize(
    ("component", "override"),
    [
        ("redis", lambda port: {"redis_url": f"redis://127.0.0.1:{port}/0"}),
        ("s3", lambda port: {"s3_endpoint": f"http://127.0.0.1:{port}"}),
        (
            "database",
            lambda port: {"database_url": f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x"},
        ),
    ],
)
async def test_ready_names_the_failing_component(
    app_settings: Settings, component: str, override: object
) -> None:
    assert callable(override)
    dead_port = free_port()  # nothing listens there
    settings = app_settings.model_copy(update={"port": free_port(), **override(dead_port)})
    server = LiveServer(settings)
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            r = await client.get("/health")
            assert r.status_code == 200
            r = await client.get("/ready")
            assert r.status_code == 503, r.text
            body = r.json()
            assert body["error"] == "service_unavailable"
            assert component in body["message"]
            failing = {k for k, v in body["checks"].items() if v != "ok"}
            assert failing == {component}, body
    finally:
        server.stop()
