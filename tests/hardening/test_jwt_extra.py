"""JWT cases beyond tests/foundation/test_auth.py (missing, malformed, expired, wrong secret,
alg none, HS512, no exp, deleted user): right secret but wrong claims, odd shapes, and a 401 that
never echoes the token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import jwt

from instasched.config import Settings
from tests.factories import Api


async def test_right_secret_wrong_claims_and_odd_tokens_are_401(
    api: Api, http: httpx.AsyncClient, app_settings: Settings
) -> None:
    secret = app_settings.jwt_secret
    assert secret
    user = await api.user()
    now = int(datetime.now(UTC).timestamp())
    good: dict[str, Any] = {"sub": str(user.id), "iat": now, "exp": now + 3600, "typ": "access"}
    cases = {
        "refresh typ": {**good, "typ": "refresh"},
        "no typ": {k: v for k, v in good.items() if k != "typ"},
        "sub not a uuid": {**good, "sub": "admin"},
        "sub a list": {**good, "sub": [str(user.id)]},
        "no sub": {k: v for k, v in good.items() if k != "sub"},
        "no iat": {k: v for k, v in good.items() if k != "iat"},
        "not yet valid": {**good, "nbf": now + 3600},
    }
    tokens = {name: jwt.encode(claims, secret, algorithm="HS256") for name, claims in cases.items()}
    tokens["huge"] = "a" * 8000 + "." + "b" * 8000 + "." + "c" * 100
    tokens["non-ascii"] = "été.é.é"
    tokens["signature stripped"] = jwt.encode(good, secret, algorithm="HS256").rsplit(".", 1)[0]
    for name, token in tokens.items():
        try:
            r = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        except UnicodeEncodeError:
            continue  # httpx refuses non-latin-1 header values: nothing reaches the server
        assert r.status_code == 401, (name, r.status_code, r.text)
        assert r.json()["error"] == "unauthorized", name
        assert token[:40] not in r.text, name
    # The well-formed one passes, so the failures above are about the claims.
    r = await http.get(
        "/api/auth/me",
        headers={"Authorization": f"Bearer {jwt.encode(good, secret, algorithm='HS256')}"},
    )
    assert r.status_code == 200, r.text
