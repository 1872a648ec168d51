"""Facebook Login for Business through the sandbox: consent, callback, Page picker, tokens."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.config import Settings
from instasched.exceptions import BadRequest
from instasched.models import FacebookPendingConnection, InstagramAccount
from instasched.security import TokenCipher
from tests.factories import Api

AUTHORIZE = "/api/instagram/oauth/facebook/authorize-url"
CALLBACK = "/api/instagram/oauth/facebook/callback"
PENDING = "/api/instagram/oauth/facebook/pending"


async def test_authorize_url_points_at_the_sandbox_facebook_dialog(
    api: Api, http: httpx.AsyncClient, app_settings: Settings
) -> None:
    user = await api.user()
    r = await http.get(AUTHORIZE, headers=user.headers)
    assert r.status_code == 200, r.text
    parts = urlsplit(r.json()["url"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    version = app_settings.instagram_api_version
    assert parts.path == f"/sandbox/facebook/{version}/dialog/oauth"
    assert query["redirect_uri"] == f"{app_settings.base_url}{CALLBACK}"
    assert query["state"] == r.json()["state"]
    assert set(query["scope"].split(",")) >= {
        "instagram_basic",
        "instagram_content_publish",
        "pages_read_engagement",
        "pages_show_list",
    }
    assert "instasched_oauth_state" in r.headers["set-cookie"]


async def test_one_page_connects_its_instagram_account_with_a_page_token(
    api: Api, http: httpx.AsyncClient, db: AsyncSession, app_settings: Settings, cipher: TokenCipher
) -> None:
    user = await api.user()
    fb = await api.facebook_user([{"name": "Brand Page", "igUsername": "brand_one"}])
    query = await api.facebook_consent(user, username=fb["name"], timezone="Europe/Paris")
    r = await http.get(CALLBACK, params=query, headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    page = fb["pages"][0]
    assert body["loginKind"] == "facebook"
    assert body["igUserId"] == page["igUserId"] and body["username"] == "brand_one"
    assert body["facebookPageId"] == page["pageId"] and body["facebookPageName"] == "Brand Page"
    assert body["timezone"] == "Europe/Paris"
    # A Page token from a long-lived user token does not expire.
    assert body["tokenExpiresAt"] is None and body["needsReauth"] is False
    row = await db.scalar(
        select(InstagramAccount).where(InstagramAccount.id == uuid.UUID(body["id"]))
    )
    assert row is not None
    token = cipher.decrypt(row.access_token_encrypted)
    assert token.startswith("EAA")  # a Facebook token, not an Instagram Login one
    # The stored Page token works on graph.facebook.com, not on graph.instagram.com.
    version = app_settings.instagram_api_version
    ok = await http.get(
        f"/sandbox/facebook/{version}/{page['igUserId']}",
        params={"access_token": token, "fields": "id,username"},
    )
    assert ok.status_code == 200 and ok.json()["username"] == "brand_one", ok.text
    wrong = await http.get(
        f"/sandbox/{version}/{page['igUserId']}",
        params={"access_token": token, "fields": "id,username"},
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == 190
    # The state is single use.
    again = await http.get(CALLBACK, params=query, headers=user.headers)
    assert again.status_code == 400


async def test_browser_is_redirected_and_an_instagram_state_is_refused(
    api: Api, http: httpx.AsyncClient
) -> None:
    user = await api.user()
    fb = await api.facebook_user([{"name": "P", "igUsername": "brand_browser"}])
    # A state made for Instagram Login's callback is not one of Facebook's.
    r = await http.get("/api/instagram/oauth/authorize-url", headers=user.headers)
    state = r.json()["state"]
    refused = await http.get(CALLBACK, params={"code": "x", "state": state}, headers=user.headers)
    assert refused.status_code == 400 and "already used" in refused.json()["message"]

    query = await api.facebook_consent(user, username=fb["name"])
    browser = await http.get(
        CALLBACK,
        params=query,
        headers={"Accept": "text/html"},
        cookies={"instasched_oauth_state": query["state"]},
    )
    assert browser.status_code == 303, browser.text
    assert browser.headers["location"].startswith("/?connected=")


async def _pending(
    api: Api, http: httpx.AsyncClient, pages: list[dict[str, Any]]
) -> tuple[Any, dict[str, Any], httpx.Response]:
    user = await api.user()
    fb = await api.facebook_user(pages)
    query = await api.facebook_consent(user, username=fb["name"])
    r = await http.get(CALLBACK, params=query, headers=user.headers)
    return user, fb, r


async def test_several_pages_are_offered_and_the_picked_one_is_connected(
    api: Api, http: httpx.AsyncClient, db: AsyncSession
) -> None:
    user, fb, r = await _pending(
        api,
        http,
        [
            {"name": "Shop", "igUsername": "pick_shop"},
            {"name": "No Instagram"},
            {"name": "Outlet", "igUsername": "pick_outlet"},
        ],
    )
    assert r.status_code == 202, r.text
    pending = r.json()
    # Only the Pages with an Instagram account, and no token in the answer.
    assert [p["igUsername"] for p in pending["pages"]] == ["pick_shop", "pick_outlet"]
    assert "token" not in r.text and "EAA" not in r.text
    listed = await http.get(f"{PENDING}/{pending['id']}", headers=user.headers)
    assert listed.status_code == 200 and listed.json() == pending

    # Another user sees nothing; a Page that was not offered is refused and nothing is used up.
    other = await api.user()
    assert (await http.get(f"{PENDING}/{pending['id']}", headers=other.headers)).status_code == 404
    no_ig_page = fb["pages"][1]["pageId"]
    bad = await http.post(
        f"{PENDING}/{pending['id']}/connect", json={"pageId": no_ig_page}, headers=user.headers
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "pageId", bad.text

    outlet = fb["pages"][2]
    done = await http.post(
        f"{PENDING}/{pending['id']}/connect",
        json={"pageId": outlet["pageId"]},
        headers=user.headers,
    )
    assert done.status_code == 201, done.text
    account = done.json()
    assert account["username"] == "pick_outlet" and account["loginKind"] == "facebook"
    assert account["facebookPageName"] == "Outlet"
    # Single use.
    again = await http.post(
        f"{PENDING}/{pending['id']}/connect",
        json={"pageId": outlet["pageId"]},
        headers=user.headers,
    )
    assert again.status_code == 404
    assert await db.get(FacebookPendingConnection, uuid.UUID(pending["id"])) is None


async def test_browser_goes_to_the_picker(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    fb = await api.facebook_user(
        [{"name": "A", "igUsername": "pick_a"}, {"name": "B", "igUsername": "pick_b"}]
    )
    query = await api.facebook_consent(user, username=fb["name"])
    r = await http.get(
        CALLBACK,
        params=query,
        headers={"Accept": "text/html"},
        cookies={"instasched_oauth_state": query["state"]},
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/?pick="), r.text


async def test_no_page_with_an_instagram_account_is_a_clear_400(
    api: Api, http: httpx.AsyncClient
) -> None:
    _, _, r = await _pending(api, http, [{"name": "Only a Page"}])
    assert r.status_code == 400, r.text
    assert "Instagram professional account linked" in r.json()["message"]


async def test_reconnecting_with_instagram_login_switches_the_kind_back(
    api: Api, http: httpx.AsyncClient
) -> None:
    user = await api.user()
    account = await api.account(user, login_kind="facebook")
    # An Instagram Login token of the same Instagram account.
    r = await http.post(
        "/sandbox/_control/tokens/short-lived", json={"igUserId": account.ig_user_id}
    )
    token = r.json()["accessToken"]
    r = await http.post(
        "/api/instagram/accounts", json={"accessToken": token}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"] == str(account.id) and body["loginKind"] == "instagram"
    assert body["facebookPageId"] is None and body["tokenExpiresAt"] is not None


async def test_facebook_login_not_configured_is_a_400() -> None:
    from instasched.accounts import facebook

    settings = Settings(
        environment="test",
        instagram_sandbox="false",
        instagram_app_id="1",
        instagram_app_secret="s",
    )
    with pytest.raises(BadRequest) as exc:
        facebook._dialog(settings)
    assert "FACEBOOK_APP_ID" in exc.value.message
    configured = Settings(
        environment="test",
        instagram_sandbox="false",
        facebook_app_id="42",
        facebook_app_secret="s",
    )
    url, client_id = facebook._dialog(configured)
    assert url == f"https://www.facebook.com/{configured.instagram_api_version}/dialog/oauth"
    assert client_id == "42"


async def test_connect_with_a_page_token(api: Api, http: httpx.AsyncClient) -> None:
    """`POST /api/instagram/accounts` with `loginKind: facebook` takes a Page token."""
    user = await api.user()
    fb = await api.facebook_user(
        [{"name": "Token Page", "igUsername": "page_token_ig"}, {"name": "Bare Page"}]
    )
    linked, bare = fb["pages"]
    r = await http.post(
        "/api/instagram/accounts",
        json={"accessToken": linked["accessToken"], "loginKind": "facebook", "timezone": "UTC"},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["loginKind"] == "facebook" and body["username"] == "page_token_ig"
    assert body["facebookPageId"] == linked["pageId"] and body["tokenExpiresAt"] is None
    sb = await api.sandbox_user()
    for token, words in (
        (bare["accessToken"], "has no Instagram professional account"),
        (fb["accessToken"], "token of a Facebook Page"),  # a user token, not a Page's
        (sb["accessToken"], "Facebook rejected the access token"),  # an Instagram Login token
    ):
        r = await http.post(
            "/api/instagram/accounts",
            json={"accessToken": token, "loginKind": "facebook"},
            headers=user.headers,
        )
        assert r.status_code == 422, r.text
        assert words in r.json()["message"] and r.json()["detail"][0]["field"] == "accessToken"


def test_sandbox_is_used_only_without_credentials_of_either_login() -> None:
    def settings(**kw: Any) -> Settings:
        return Settings(environment="production", jwt_secret="x" * 40, **kw)

    facebook_only = settings(facebook_app_id="1", facebook_app_secret="s")
    assert facebook_only.meta_app_configured and not facebook_only.sandbox_enabled
    instagram_only = settings(instagram_app_id="1", instagram_app_secret="s")
    assert not instagram_only.sandbox_enabled
    with pytest.raises(ValueError, match="FACEBOOK_APP_ID"):
        settings()


async def test_a_refused_code_or_a_declined_consent_is_a_clear_4xx(
    api: Api, http: httpx.AsyncClient
) -> None:
    user = await api.user()
    fb = await api.facebook_user([{"name": "P", "igUsername": "refused_code"}])
    query = await api.facebook_consent(user, username=fb["name"])
    r = await http.get(CALLBACK, params={**query, "code": "bogus"}, headers=user.headers)
    assert r.status_code == 422, r.text
    assert r.json()["message"].startswith("Facebook refused the authorization")
    assert r.json()["detail"][0]["field"] == "code"
    query = await api.facebook_consent(user, username=fb["name"])
    r = await http.get(
        CALLBACK,
        params={"state": query["state"], "error": "access_denied", "error_description": "Nope"},
        headers=user.headers,
    )
    assert r.status_code == 400 and "Facebook did not authorize the connection: Nope" in r.text
