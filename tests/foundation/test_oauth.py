"""Instagram Login through the sandbox: authorize URL → consent (redirect) → callback."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.accounts import oauth
from instasched.config import Settings
from instasched.models import InstagramAccount, OAuthState
from instasched.security import TokenCipher
from tests.factories import Api, User

CALLBACK = "/api/instagram/oauth/callback"


async def _authorize(
    http: httpx.AsyncClient, user: User, *, timezone: str | None = None, username: str | None = None
) -> tuple[dict[str, str], str]:
    """Ask for the authorize URL, follow it like a browser; return the callback query + URL."""
    params = {"timezone": timezone} if timezone else {}
    r = await http.get("/api/instagram/oauth/authorize-url", params=params, headers=user.headers)
    assert r.status_code == 200, r.text
    url = r.json()["url"]
    if username:
        url += f"&username={username}"
    consent = await http.get(url, follow_redirects=False)
    assert consent.status_code == 302, consent.text
    location = consent.headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["state"] == r.json()["state"]
    return query, location


async def test_authorize_url_points_at_the_sandbox(
    api: Api, http: httpx.AsyncClient, app_settings: Settings, db: AsyncSession
) -> None:
    user = await api.user()
    r = await http.get("/api/instagram/oauth/authorize-url", headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    parts = urlsplit(body["url"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.path == "/sandbox/oauth/authorize"
    assert query["redirect_uri"] == f"{app_settings.base_url}{CALLBACK}"
    assert query["state"] == body["state"] and len(body["state"]) >= 32
    assert query["response_type"] == "code"
    assert "instagram_business_content_publish" in query["scope"]
    row = await db.scalar(select(OAuthState).where(OAuthState.state == body["state"]))
    assert row is not None and row.user_id == user.id
    assert timedelta(minutes=9) < row.expires_at - datetime.now(UTC) <= timedelta(minutes=10)

    r2 = await http.get("/api/instagram/oauth/authorize-url", headers=user.headers)
    assert r2.json()["state"] != body["state"], "every URL gets its own state"

    r = await http.get("/api/instagram/oauth/authorize-url")
    assert r.status_code == 401
    r = await http.get(
        "/api/instagram/oauth/authorize-url",
        params={"timezone": "Nowhere/Land"},
        headers=user.headers,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "timezone"


async def test_oauth_happy_path_then_replay(
    api: Api, http: httpx.AsyncClient, db: AsyncSession, cipher: TokenCipher
) -> None:
    user = await api.user()
    username = f"oauth_{secrets.token_hex(4)}"
    query, location = await _authorize(http, user, timezone="Europe/Madrid", username=username)
    assert location.startswith(str(http.base_url).rstrip("/") + CALLBACK)

    # The callback arrives by browser redirect: no bearer token.
    r = await http.get(CALLBACK, params=query)
    assert r.status_code == 200, r.text
    account = r.json()
    assert account["username"] == username and account["timezone"] == "Europe/Madrid"
    assert datetime.fromisoformat(account["tokenExpiresAt"]) - datetime.now(UTC) > timedelta(
        days=59
    )
    row = await db.scalar(
        select(InstagramAccount).where(InstagramAccount.id == uuid.UUID(account["id"]))
    )
    assert row is not None and row.workspace_id == user.id
    token = cipher.decrypt(row.access_token_encrypted)
    assert token.startswith("IGSL"), "the long-lived token is stored"
    r = await http.get("/api/instagram/accounts", headers=user.headers)
    assert [a["id"] for a in r.json()] == [account["id"]]
    gone = await db.scalar(select(OAuthState).where(OAuthState.state == query["state"]))
    assert gone is None, "the state is consumed"

    # Replaying the same callback: the state is gone.
    r = await http.get(CALLBACK, params=query)
    assert r.status_code == 400, r.text
    assert r.json()["detail"][0]["field"] == "state"
    assert "start again" in r.json()["message"]


async def test_browser_is_redirected_to_the_web_app(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    query, _ = await _authorize(http, user)
    r = await http.get(
        CALLBACK,
        params=query,
        headers={
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            **user.headers,
        },
    )
    assert r.status_code == 303, r.text
    connected = parse_qs(urlsplit(r.headers["location"]).query)["connected"][0]
    assert urlsplit(r.headers["location"]).path == "/"
    r = await http.get(f"/api/instagram/accounts/{connected}", headers=user.headers)
    assert r.status_code == 200


async def test_another_users_state_is_refused(api: Api, http: httpx.AsyncClient) -> None:
    alice = await api.user()
    mallory = await api.user()
    query, _ = await _authorize(http, alice)
    r = await http.get(CALLBACK, params=query, headers=mallory.headers)
    assert r.status_code == 400, r.text
    r = await http.get("/api/instagram/accounts", headers=mallory.headers)
    assert r.json() == []
    # Mallory's attempt did not burn Alice's state: Alice completes it.
    r = await http.get(CALLBACK, params=query, headers=alice.headers)
    assert r.status_code == 200, r.text
    r = await http.get("/api/instagram/accounts", headers=alice.headers)
    assert len(r.json()) == 1


async def test_bad_states_and_codes(api: Api, http: httpx.AsyncClient, db: AsyncSession) -> None:
    user = await api.user()
    r = await http.get(CALLBACK, params={"code": "abc"})
    assert r.status_code == 400 and r.json()["detail"][0]["field"] == "state"
    r = await http.get(CALLBACK, params={"code": "abc", "state": "made-up"})
    assert r.status_code == 400 and r.json()["detail"][0]["field"] == "state"

    # Expired state.
    query, _ = await _authorize(http, user)
    await db.execute(
        update(OAuthState)
        .where(OAuthState.state == query["state"])
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    await db.commit()
    r = await http.get(CALLBACK, params=query)
    assert r.status_code == 400 and "expired" in r.json()["message"]

    # Instagram refuses the code: its message is passed on as a 422.
    query, _ = await _authorize(http, user)
    r = await http.get(CALLBACK, params={"state": query["state"], "code": "not-a-code"})
    assert r.status_code == 422, r.text
    assert "authorization code has been used or expired" in r.json()["message"]
    assert r.json()["detail"][0]["field"] == "code"

    # The user denied access on Instagram's screen.
    query, _ = await _authorize(http, user)
    r = await http.get(
        CALLBACK,
        params={
            "state": query["state"],
            "error": "access_denied",
            "error_reason": "user_denied",
            "error_description": "Permissions error",
        },
    )
    assert r.status_code == 400 and "Permissions error" in r.json()["message"]

    # A code used twice (a new state, the old code): Instagram refuses it.
    query, _ = await _authorize(http, user)
    r = await http.get(CALLBACK, params=query)
    assert r.status_code == 200
    second, _ = await _authorize(http, user)
    r = await http.get(CALLBACK, params={"state": second["state"], "code": query["code"]})
    assert r.status_code == 422

    # An invalid bearer token on the callback is a 401, not an anonymous callback.
    query, _ = await _authorize(http, user)
    r = await http.get(CALLBACK, params=query, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


async def test_an_authorize_url_works_only_in_the_browser_that_asked_for_it(
    api: Api, http: httpx.AsyncClient, live_server: Any
) -> None:
    """Account-linking CSRF (issue 24): Mallory asks for an authorize URL and sends it to Alice;
    Alice opens it and approves with her Instagram account. The callback, in Alice's browser
    (no bearer token, no cookie of that state), is refused: nothing is connected to Mallory.
    Mallory's own browser (the cookie) completes the flow."""
    mallory = await api.user()
    r = await http.get("/api/instagram/oauth/authorize-url", headers=mallory.headers)
    assert r.status_code == 200, r.text
    cookie = r.cookies.get(oauth.STATE_COOKIE)
    assert cookie == r.json()["state"]
    set_cookie = r.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    assert "path=/api/instagram/oauth" in set_cookie
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as alice_browser:
        consent = await alice_browser.get(r.json()["url"], follow_redirects=False)
        assert consent.status_code == 302, consent.text
        callback = await alice_browser.get(
            consent.headers["location"], headers={"Accept": "text/html"}
        )
        assert callback.status_code == 400, callback.text
        assert callback.json()["detail"][0]["message"] == "not started in this browser"
        assert "another browser" in callback.json()["message"]
        # Another browser's cookie for another state does not help either.
        alice_browser.cookies.set(oauth.STATE_COOKIE, "some-other-state")
        callback = await alice_browser.get(consent.headers["location"])
        assert callback.status_code == 400, callback.text
    r = await http.get("/api/instagram/accounts", headers=mallory.headers)
    assert r.json() == [], "nothing was connected to the attacker"

    # The state was not burnt: the browser that asked for it completes it (its cookie is
    # cleared then).
    callback = await http.get(consent.headers["location"])
    assert callback.status_code == 200, callback.text
    assert 'instasched_oauth_state=""' in callback.headers["set-cookie"]
