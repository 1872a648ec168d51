"""Login and registration limits under attack (issue 24): concurrent guesses, rotating
X-Forwarded-For, many addresses against one account, and Redis hung or gone."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections import Counter

import httpx
import pytest

from instasched.config import Settings
from tests.factories import Api
from tests.foundation.conftest import client_of, second_app

LOGIN = "/api/auth/login"


def _own(settings: Settings, **changes: object) -> Settings:
    """The test settings with `changes`, and counters of their own (a fresh QUEUE_PREFIX)."""
    return settings.model_copy(
        update={"queue_prefix": f"{settings.queue_prefix}-{secrets.token_hex(3)}", **changes}
    )


async def test_concurrent_wrong_passwords_are_counted_before_they_are_checked(
    api: Api, http: httpx.AsyncClient
) -> None:
    """50 wrong passwords at once for one email (limit 10): 10 are checked, 40 refused."""
    user = await api.user()
    answers = await asyncio.gather(
        *(
            http.post(LOGIN, json={"email": user.email, "password": f"wrong-password-{i}"})
            for i in range(50)
        )
    )
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {401: 10, 429: 40}, statuses
    r = await http.post(LOGIN, json={"email": user.email, "password": user.password})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


async def test_x_forwarded_for_is_not_trusted_by_default(api: Api, http: httpx.AsyncClient) -> None:
    """From 127.0.0.1 with a new X-Forwarded-For each time, the address is still the peer's."""
    user = await api.user()
    statuses = []
    for i in range(11):
        r = await http.post(
            LOGIN,
            json={"email": user.email, "password": f"wrong-password-{i}"},
            headers={"X-Forwarded-For": f"203.0.113.{i + 1}"},
        )
        statuses.append(r.status_code)
    assert statuses == [401] * 10 + [429], statuses


async def test_one_account_has_a_ceiling_across_addresses(api: Api, app_settings: Settings) -> None:
    settings = _own(app_settings, login_max_failures=3, login_account_max_failures=5)
    user = await api.user()
    async with second_app(settings) as app:
        statuses = []
        for n in range(6):  # two guesses from each of three addresses
            async with client_of(app, address=f"198.51.100.{n // 2 + 1}") as client:
                r = await client.post(
                    LOGIN, json={"email": user.email, "password": f"wrong-password-{n}"}
                )
                statuses.append(r.status_code)
        assert statuses == [401] * 5 + [429], statuses
        async with client_of(app, address="198.51.100.9") as client:
            r = await client.post(LOGIN, json={"email": user.email, "password": user.password})
            assert r.status_code == 429, "the account is locked from every address"
            assert "Too many failed logins" in r.json()["message"]


async def test_a_success_takes_back_only_its_own_attempt(api: Api, app_settings: Settings) -> None:
    """The owner's logins do not wipe an attacker's failures from the account's count."""
    settings = _own(app_settings, login_max_failures=10, login_account_max_failures=4)
    user = await api.user()
    async with second_app(settings) as app:
        async with client_of(app, address="198.51.100.1") as attacker:
            for n in range(3):
                r = await attacker.post(LOGIN, json={"email": user.email, "password": f"x{n}" * 6})
                assert r.status_code == 401
        async with client_of(app, address="198.51.100.2") as owner:
            for _ in range(3):
                r = await owner.post(LOGIN, json={"email": user.email, "password": user.password})
                assert r.status_code == 200, r.text
        async with client_of(app, address="198.51.100.1") as attacker:
            r = await attacker.post(LOGIN, json={"email": user.email, "password": "y" * 12})
            assert r.status_code == 401  # the fourth failure
            r = await attacker.post(LOGIN, json={"email": user.email, "password": "z" * 12})
            assert r.status_code == 429


async def test_registration_is_rate_limited_per_address(api: Api, app_settings: Settings) -> None:
    """Registering (new or existing email alike) counts per address: probing which emails are
    registered is bounded."""
    settings = _own(app_settings, register_max_per_hour=3)
    existing = await api.user()
    async with second_app(settings) as app, client_of(app, address="192.0.2.7") as client:
        password = "a-long-enough-password"
        r = await client.post(
            "/api/auth/register",
            json={"email": f"new-{secrets.token_hex(4)}@example.com", "password": password},
        )
        assert r.status_code == 201, r.text
        r = await client.post(
            "/api/auth/register", json={"email": existing.email, "password": password}
        )
        assert r.status_code == 409
        r = await client.post(
            "/api/auth/register", json={"email": existing.email.upper(), "password": password}
        )
        assert r.status_code == 409
        r = await client.post(
            "/api/auth/register", json={"email": existing.email, "password": password}
        )
        assert r.status_code == 429, r.text
        assert 0 < int(r.headers["retry-after"]) <= 3600
        assert "registrations" in r.json()["message"]
        async with client_of(app, address="192.0.2.8") as elsewhere:
            r = await elsewhere.post(
                "/api/auth/register", json={"email": existing.email, "password": password}
            )
            assert r.status_code == 409, "another address has its own count"


def _closed_port() -> str:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.mark.parametrize("redis", ["hung", "stopped"])
async def test_redis_trouble_is_a_503_at_login_and_metrics_still_answer(
    api: Api, app_settings: Settings, silent_server: int, redis: str
) -> None:
    user = await api.user()
    url = f"redis://127.0.0.1:{silent_server}/0" if redis == "hung" else _closed_port()
    settings = _own(app_settings, redis_url=url, redis_timeout_seconds=0.5)
    async with second_app(settings) as app, client_of(app) as client:
        # Bounded here too (the in-process transport has no timeout): before the fix a hung
        # Redis held login for good.
        r = await asyncio.wait_for(
            client.post(LOGIN, json={"email": user.email, "password": user.password}), 15
        )
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "5"
        assert r.json()["error"] == "service_unavailable" and "Redis" in r.json()["message"]
        r = await asyncio.wait_for(
            client.post(
                "/api/auth/register",
                json={"email": f"n-{secrets.token_hex(4)}@example.com", "password": "p" * 14},
            ),
            15,
        )
        assert r.status_code == 503, r.text
        r = await asyncio.wait_for(client.get("/metrics"), 15)
        assert r.status_code == 200
        assert "instasched_queue_jobs{" not in r.text, "no stale queue figures"
        assert "instasched_posts{" in r.text, "the database's gauges are there"
        # Requests that do not need Redis are unaffected.
        r = await client.get("/api/auth/me", headers=user.headers)
        assert r.status_code == 200
