from __future__ import annotations

import httpx

from tests.factories import Api


async def test_health_and_ready(http: httpx.AsyncClient) -> None:
    r = await http.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = await http.get("/ready")
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"database": "ok", "redis": "ok", "s3": "ok"}


async def test_register_login_connect_account(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    r = await http.get("/api/auth/me", headers=user.headers)
    assert r.status_code == 200 and r.json()["email"] == user.email
    account = await api.account(user, timezone="Europe/Paris")
    assert account.raw["username"] == account.username
    assert account.raw["timezone"] == "Europe/Paris"
    r = await http.get("/api/instagram/accounts", headers=user.headers)
    assert [a["id"] for a in r.json()] == [str(account.id)]
