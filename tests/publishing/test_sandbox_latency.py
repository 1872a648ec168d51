"""The sandbox's latency profile (SANDBOX_LATENCY_*) and its limit of 400 containers per 24 h.

The timed checks are lower bounds only (a call with 300 ms of added latency takes at least
300 ms), which a busy machine cannot make fail.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from instasched.config import Settings
from instasched.sandbox.latency import (
    LATENCY_ENDPOINTS,
    Latency,
    LatencyProfile,
    video_processing_seconds,
)
from tests.conftest import SandboxApps
from tests.factories import jpeg_bytes
from tests.publishing.conftest import Publishing


def _settings(base: Settings, data_dir: Path, **update: Any) -> Settings:
    return base.model_copy(update={"data_dir": data_dir, **update})


async def _account(client: httpx.AsyncClient, username: str) -> tuple[str, str]:
    r = await client.post("/_control/users", json={"username": username})
    assert r.status_code == 201, r.text
    return r.json()["igUserId"], r.json()["accessToken"]


async def _timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await call
    return response, time.monotonic() - started


async def _publish_unknown(
    client: httpx.AsyncClient, ig: str, token: str
) -> tuple[httpx.Response, float]:
    """media_publish of a container that does not exist (code 100), timed."""
    return await _timed(
        client.post(
            f"/v21.0/{ig}/media_publish",
            data={"creation_id": "18000000000000000", "access_token": token},
        )
    )


async def test_every_graph_call_takes_the_configured_latency(
    app_settings: Settings, data_dir: Path, sandbox_apps: SandboxApps
) -> None:
    settings = _settings(app_settings, data_dir, sandbox_latency_ms=300.0)
    async with sandbox_apps.client(settings) as client:
        ig, token = await _account(client, "latency_all")
        r, elapsed = await _timed(
            client.get(f"/v21.0/{ig}/content_publishing_limit", params={"access_token": token})
        )
        assert r.status_code == 200, r.text
        assert elapsed >= 0.3
        # An answer that is an error takes it too (Meta is slow to refuse as well).
        r, elapsed = await _publish_unknown(client, ig, token)
        assert r.status_code == 400 and r.json()["error"]["code"] == 100
        assert elapsed >= 0.3
        # A queued latencyMs fault adds to the profile's: the one mechanism.
        r = await client.post(
            "/_control/faults",
            json={"igUserId": ig, "endpoint": "media_publish", "latencyMs": 400},
        )
        assert r.status_code == 201, r.text
        r, elapsed = await _publish_unknown(client, ig, token)
        assert r.status_code == 400
        assert elapsed >= 0.7


async def test_the_latency_is_a_sleep_that_holds_nothing(
    app_settings: Settings, data_dir: Path, sandbox_apps: SandboxApps
) -> None:
    """Ten slow calls at once take about one latency, not ten (a lower bound, and the upper
    bound that ten sleeps one after the other could not meet)."""
    settings = _settings(app_settings, data_dir, sandbox_latency_ms=500.0)
    async with sandbox_apps.client(settings) as client:
        ig, token = await _account(client, "latency_together")
        started = time.monotonic()
        answers = await asyncio.gather(
            *(
                client.get(f"/v21.0/{ig}/content_publishing_limit", params={"access_token": token})
                for _ in range(10)
            )
        )
        elapsed = time.monotonic() - started
    assert all(r.status_code == 200 for r in answers)
    assert 0.5 <= elapsed < 5.0


async def test_an_endpoints_own_latency_wins(
    app_settings: Settings, data_dir: Path, sandbox_apps: SandboxApps
) -> None:
    settings = _settings(
        app_settings,
        data_dir,
        sandbox_latency_profile="meta",
        sandbox_latency_ms=0.0,
        sandbox_latency_ms_media_publish=400.0,
    )
    profile = LatencyProfile.from_settings(settings)
    assert profile.of("media_publish") == Latency(400.0)
    assert profile.of("media") == Latency() and profile.of("publishing_limit") == Latency()
    async with sandbox_apps.client(settings) as client:
        ig, token = await _account(client, "latency_own")
        r, elapsed = await _publish_unknown(client, ig, token)
        assert r.status_code == 400
        assert elapsed >= 0.4


def test_the_spread_stays_within_its_bounds(app_settings: Settings) -> None:
    settings = app_settings.model_copy(
        update={"sandbox_latency_ms": 1500.0, "sandbox_latency_spread_ms": 500.0}
    )
    profile = LatencyProfile.from_settings(settings)
    draws = [profile.draw_ms("container_status") for _ in range(2000)]
    assert all(1000.0 <= d <= 2000.0 for d in draws)
    assert min(draws) < 1100.0 and max(draws) > 1900.0  # spread over the range, not a constant
    # A spread wider than the mean never gives a negative delay.
    wide = LatencyProfile.from_settings(
        app_settings.model_copy(
            update={"sandbox_latency_ms": 100.0, "sandbox_latency_spread_ms": 300.0}
        )
    )
    assert wide.of("media").bounds_ms == (0.0, 400.0)
    assert all(0.0 <= wide.draw_ms("media") <= 400.0 for _ in range(500))


def test_the_meta_profile_and_what_overrides_it(app_settings: Settings) -> None:
    meta = app_settings.model_copy(
        update={"sandbox_latency_profile": "meta", "sandbox_video_processing_seconds": None}
    )
    profile = LatencyProfile.from_settings(meta)
    assert profile.of("media").bounds_ms == (1000.0, 3000.0)  # Meta downloads the image
    assert profile.of("media_publish").bounds_ms == (1000.0, 2000.0)
    assert profile.of("container_status").bounds_ms == (150.0, 450.0)
    assert set(profile.endpoints) == set(LATENCY_ENDPOINTS)
    assert video_processing_seconds(meta) == 30.0
    # SANDBOX_LATENCY_MS replaces the profile's means (without their spread) ...
    flat = LatencyProfile.from_settings(meta.model_copy(update={"sandbox_latency_ms": 1500.0}))
    assert {flat.of(e) for e in LATENCY_ENDPOINTS} == {Latency(1500.0)}
    # ... and an explicit processing time wins over the profile's.
    assert (
        video_processing_seconds(meta.model_copy(update={"sandbox_video_processing_seconds": 60.0}))
        == 60.0
    )
    # No profile, nothing set: no added latency, the 2 s processing of before.
    plain = app_settings.model_copy(
        update={"sandbox_latency_profile": "none", "sandbox_video_processing_seconds": None}
    )
    assert LatencyProfile.from_settings(plain).endpoints == {}
    assert video_processing_seconds(plain) == 2.0


async def test_the_401st_container_in_24_hours_is_refused_until_the_window_moves(
    publishing: Publishing, app_settings: Settings, data_dir: Path, sandbox_apps: SandboxApps
) -> None:
    settings = _settings(app_settings, data_dir)
    assert settings.sandbox_container_limit == 400
    key = "test-sandbox-limit/one.jpg"
    await publishing.storage.put_bytes(key, jpeg_bytes(400, 400), "image/jpeg")
    image_url = await publishing.storage.presign_get(key, 3600)
    async with sandbox_apps.client(settings) as client:
        ig, token = await _account(client, "container_limit")
        other_ig, other_token = await _account(client, "container_limit_other")

        async def create(owner: str, owner_token: str) -> httpx.Response:
            return await client.post(
                f"/v21.0/{owner}/media", data={"image_url": image_url, "access_token": owner_token}
            )

        made: list[str] = []
        for _ in range(400):
            r = await create(ig, token)
            assert r.status_code == 200, (len(made), r.text)
            made.append(r.json()["id"])
        r = await create(ig, token)
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == 9 and "error_subcode" not in error
        assert "400 media containers in the last 24 hours" in error["message"]
        # Refused containers are not created, and the limit is the account's, not the app's.
        r = await client.get(
            f"/v21.0/{made[0]}", params={"fields": "status_code", "access_token": token}
        )
        assert r.json()["status_code"] == "FINISHED"
        assert (await create(other_ig, other_token)).status_code == 200
        # The oldest container leaves the moving 24 h window: one more fits, then no more.
        r = await client.post(f"/_control/containers/{made[0]}/expire")
        assert r.status_code == 200 and r.json()["statusCode"] == "EXPIRED"
        assert (await create(ig, token)).status_code == 200
        assert (await create(ig, token)).status_code == 400


async def test_the_container_limit_is_a_setting(
    publishing: Publishing, app_settings: Settings, data_dir: Path, sandbox_apps: SandboxApps
) -> None:
    settings = _settings(app_settings, data_dir, sandbox_container_limit=2)
    key = "test-sandbox-limit/two.jpg"
    await publishing.storage.put_bytes(key, jpeg_bytes(400, 400), "image/jpeg")
    image_url = await publishing.storage.presign_get(key, 3600)
    async with sandbox_apps.client(settings) as client:
        ig, token = await _account(client, "container_limit_two")
        codes = [
            (
                await client.post(
                    f"/v21.0/{ig}/media", data={"image_url": image_url, "access_token": token}
                )
            ).status_code
            for _ in range(3)
        ]
    assert codes == [200, 200, 400]
