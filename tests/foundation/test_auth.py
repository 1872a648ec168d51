"""Auth: every way a bearer token can be wrong is a 401; registration rules; login rate limit."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from instasched import security
from instasched.config import Settings
from instasched.exceptions import Unauthorized
from instasched.models import User as UserRow
from instasched.security import (
    create_access_token,
    decode_access_token,
    hash_password,
    verify_password,
)
from tests.factories import Api

PROTECTED = "/api/instagram/accounts"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(user_id: uuid.UUID) -> dict[str, object]:
    now = int(datetime.now(UTC).timestamp())
    return {"sub": str(user_id), "iat": now, "exp": now + 3600, "typ": "access"}


# A well-formed new post: creating a post checks the token, then reads its user together with
# the account and media (posts.repository.read_create_context), so it answers 401 on its own.
NEW_POST = {
    "instagramAccountId": str(uuid.uuid4()),
    "scheduledFor": "2030-01-01T12:00:00Z",
    "caption": "Hello",
    "mediaIds": [str(uuid.uuid4())],
    "mediaType": "IMAGE",
}


async def _assert_401(http: httpx.AsyncClient, headers: dict[str, str], why: str) -> None:
    for method, path, body in (
        ("GET", PROTECTED, None),
        ("GET", "/api/auth/me", None),
        ("POST", "/api/instagram/scheduling/posts", NEW_POST),
    ):
        r = await http.request(method, path, headers=headers, json=body)
        assert r.status_code == 401, (why, path, r.status_code, r.text)
        problem = r.json()
        assert problem["error"] == "unauthorized" and problem["message"], (why, problem)
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer")


async def test_valid_token_is_accepted(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    r = await http.get(PROTECTED, headers=user.headers)
    assert r.status_code == 200 and r.json() == []
    r = await http.get("/api/auth/me", headers=user.headers)
    assert r.json()["id"] == str(user.id) and r.json()["email"] == user.email


async def test_every_auth_failure_is_401(
    api: Api, http: httpx.AsyncClient, app_settings: Settings, db: AsyncSession
) -> None:
    secret = app_settings.jwt_secret
    assert secret
    user = await api.user()

    await _assert_401(http, {}, "missing header")
    await _assert_401(http, {"Authorization": "Bearer"}, "empty bearer")
    await _assert_401(http, {"Authorization": "Bearer not-a-jwt"}, "malformed")
    await _assert_401(http, {"Authorization": "Bearer a.b.c"}, "malformed parts")
    await _assert_401(http, {"Authorization": f"Basic {user.token}"}, "wrong scheme")

    expired = create_access_token(
        user.id, secret=secret, expires_seconds=60, now=datetime.now(UTC) - timedelta(hours=2)
    )
    await _assert_401(http, {"Authorization": f"Bearer {expired}"}, "expired")
    r = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert "expired" in r.json()["message"]

    wrong_secret = jwt.encode(_claims(user.id), "another-secret-" + "y" * 40, algorithm="HS256")
    await _assert_401(http, {"Authorization": f"Bearer {wrong_secret}"}, "wrong secret")

    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims(user.id)).encode())
    for none_token in (f"{header}.{payload}.", f"{header}.{payload}"):
        await _assert_401(http, {"Authorization": f"Bearer {none_token}"}, "alg none")

    hs512 = jwt.encode(_claims(user.id), secret, algorithm="HS512")
    await _assert_401(http, {"Authorization": f"Bearer {hs512}"}, "HS512 with the right secret")

    # The same claims signed HS256 with the right secret pass: the failures above are real.
    good = jwt.encode(_claims(user.id), secret, algorithm="HS256")
    r = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {good}"})
    assert r.status_code == 200, r.text

    no_exp = jwt.encode({"sub": str(user.id), "typ": "access"}, secret, algorithm="HS256")
    await _assert_401(http, {"Authorization": f"Bearer {no_exp}"}, "no exp claim")

    await db.execute(delete(UserRow).where(UserRow.id == user.id))
    await db.commit()
    await _assert_401(http, user.headers, "deleted user")
    await _assert_401(http, {"Authorization": f"Bearer {good}"}, "deleted user (fresh token)")
    r = await http.post("/api/instagram/scheduling/posts", headers=user.headers, json=NEW_POST)
    assert r.json()["message"] == "This account no longer exists"


async def test_register_rules(http: httpx.AsyncClient) -> None:
    email = f"Mixed.Case-{secrets.token_hex(4)}@Example.COM"
    password = "a-long-enough-password"

    r = await http.post("/api/auth/register", json={"email": email, "password": "short-pw"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == "password" and "12" in r.json()["message"]

    r = await http.post("/api/auth/register", json={"email": email, "password": " " * 14})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "password"

    r = await http.post("/api/auth/register", json={"email": "not-an-email", "password": password})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == "email"

    r = await http.post("/api/auth/register", json={"password": password})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "email"

    r = await http.post(
        "/api/auth/register", json={"email": email, "password": password, "admin": True}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "admin"

    r = await http.post("/api/auth/register", json={"email": email, "password": password})
    assert r.status_code == 201, r.text
    assert r.json()["email"] == email.lower()
    assert "password" not in r.text.lower()

    r = await http.post("/api/auth/register", json={"email": email, "password": password})
    assert r.status_code == 409 and r.json()["error"] == "conflict"
    r = await http.post("/api/auth/register", json={"email": email.upper(), "password": password})
    assert r.status_code == 409, "emails are case-insensitive"

    r = await http.post("/api/auth/login", json={"email": email.upper(), "password": password})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tokenType"] == "bearer" and body["expiresIn"] > 0 and body["accessToken"]


async def test_login_rate_limit(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    other = await api.user()
    for attempt in range(10):
        r = await http.post(
            "/api/auth/login", json={"email": user.email, "password": f"wrong-password-{attempt}"}
        )
        assert r.status_code == 401, (attempt, r.text)
        assert r.json()["message"] == "Wrong email or password"

    r = await http.post("/api/auth/login", json={"email": user.email, "password": "wrong-again!"})
    assert r.status_code == 429, r.text
    retry_after = int(r.headers["retry-after"])
    assert 0 < retry_after <= 900
    assert r.json()["error"] == "too_many_requests"
    # Locked out even with the right password until the window ends.
    r = await http.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert r.status_code == 429
    # Another email from the same address is not affected.
    r = await http.post("/api/auth/login", json={"email": other.email, "password": other.password})
    assert r.status_code == 200


async def test_unknown_email_is_a_401_not_a_hint(http: httpx.AsyncClient) -> None:
    r = await http.post(
        "/api/auth/login",
        json={"email": f"nobody-{secrets.token_hex(4)}@example.com", "password": "x" * 12},
    )
    assert r.status_code == 401 and r.json()["message"] == "Wrong email or password"


def test_a_verified_token_is_remembered_until_it_expires() -> None:
    """decode_access_token remembers tokens it verified (PyJWT's checks once per token), but
    never past their expiry, and never for another secret."""
    secret, user_id = secrets.token_urlsafe(32), uuid.uuid4()
    token = create_access_token(user_id, secret=secret, expires_seconds=2, version=3)
    assert decode_access_token(token, secret=secret) == (user_id, 3)
    assert decode_access_token(token, secret=secret) == (user_id, 3)  # from memory
    other = secrets.token_urlsafe(32)
    for _ in range(2):
        with pytest.raises(Unauthorized, match="Invalid access token"):
            decode_access_token(token, secret=other)
    time.sleep(2.1)
    with pytest.raises(Unauthorized, match="expired"):
        decode_access_token(token, secret=secret)


async def test_password_hashing_leaves_the_event_loop_free() -> None:
    """argon2 runs beside the event loop (issue 24: 40 logins stalled /health for 5 s): while
    a hash is verified, other coroutines keep running."""
    hashed = await hash_password("a-long-enough-password")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    assert await verify_password(hashed, "a-long-enough-password")
    assert not await verify_password(hashed, "another-password!")
    assert not await verify_password(None, "a-long-enough-password")
    task.cancel()
    assert ticks > before + 1, "the loop ran nothing while argon2 ran"


async def test_logout_all_revokes_every_token(
    api: Api, http: httpx.AsyncClient, app_settings: Settings
) -> None:
    """Tokens can be revoked (issue 24): logout-all ends every token issued so far, on every
    path, including tokens this process has verified (and remembered) before."""
    user = await api.user()
    r = await http.post("/api/auth/login", json={"email": user.email, "password": user.password})
    second = {"Authorization": f"Bearer {r.json()['accessToken']}"}
    other = await api.user()
    for headers in (user.headers, second):
        r = await http.get("/api/auth/me", headers=headers)
        assert r.status_code == 200  # verified, and remembered by the server

    r = await http.post("/api/auth/logout-all", headers=second)
    assert r.status_code == 200, r.text
    assert "Logged out everywhere" in r.json()["message"]

    for headers in (user.headers, second):
        await _assert_401(http, headers, "revoked")
        r = await http.get("/api/auth/me", headers=headers)
        assert r.json()["message"] == "This session has ended (logged out); log in again"
        r = await http.post(
            "/api/instagram/scheduling/posts",
            headers={**headers, "Idempotency-Key": "k-" + secrets.token_hex(4)},
            json=NEW_POST,
        )
        assert r.status_code == 401 and "ended" in r.json()["message"], r.text
    r = await http.post("/api/auth/logout-all", headers=user.headers)
    assert r.status_code == 401
    # Another user's tokens are untouched; logging in again gives a working token.
    r = await http.get("/api/auth/me", headers=other.headers)
    assert r.status_code == 200
    r = await http.post("/api/auth/login", json={"email": user.email, "password": user.password})
    fresh = {"Authorization": f"Bearer {r.json()['accessToken']}"}
    r = await http.get("/api/auth/me", headers=fresh)
    assert r.status_code == 200, r.text

    # A token from before token versions (no `ver` claim) is version 0: valid until the first
    # logout-all only.
    secret = app_settings.jwt_secret
    assert secret
    legacy = jwt.encode(_claims(other.id), secret, algorithm="HS256")
    r = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {legacy}"})
    assert r.status_code == 200
    r = await http.post("/api/auth/logout-all", headers=other.headers)
    assert r.status_code == 200
    r = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {legacy}"})
    assert r.status_code == 401
    # A `ver` that is not an integer is not a token of ours.
    odd = jwt.encode({**_claims(other.id), "ver": "1"}, secret, algorithm="HS256")
    await _assert_401(http, {"Authorization": f"Bearer {odd}"}, "string ver")


async def test_logins_hold_no_connection_while_the_password_is_checked(
    api: Api, http: httpx.AsyncClient, db: AsyncSession
) -> None:
    """argon2 queues in a small pool when many log in at once: the logins' transactions must
    not stay open (a pooled connection each) meanwhile, or they starve every other request.
    The pool (shared with the in-process live server) is kept busy while 12 logins arrive."""
    users = [await api.user() for _ in range(3)]
    release = threading.Event()
    blockers = [
        security._password_pool.submit(release.wait, 30) for _ in range(security._PASSWORD_THREADS)
    ]
    try:
        logins = [
            asyncio.create_task(
                http.post("/api/auth/login", json={"email": u.email, "password": f"wrong-{i}" * 3})
            )
            for u in users
            for i in range(4)
        ]
        await asyncio.sleep(1.0)  # every login has read its user and waits for argon2
        open_transactions = await db.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state = 'idle in transaction' "
                "AND query LIKE '%users.password_hash%'"
            )
        )
        assert not any(task.done() for task in logins), "the logins were waiting"
    finally:
        release.set()
    assert open_transactions == 0
    assert {(await task).status_code for task in logins} == {401}
    assert all(b.result() for b in blockers)
