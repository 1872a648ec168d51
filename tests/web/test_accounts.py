"""Connecting accounts in the browser: OAuth round trip through the sandbox's consent screen,
and the "needs reconnect" warning after Instagram rejects the token (error 190)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import BackgroundWorker, LiveServer
from tests.web.helpers import ApiClient, connect_sandbox_account, jpeg, sign_up, upload_image


def test_connect_with_instagram_oauth_round_trip(page: Page, live_server: LiveServer) -> None:
    session = sign_up(page)
    page.goto("/#/accounts")
    page.get_by_role("button", name="Connect with Instagram").click()
    # Consent (approved at once by the sandbox) -> callback -> /?connected=<id>. The token was
    # in memory only, so the app asks to log in again and says the account is connected.
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator(".auth-status")).to_contain_text("Instagram account connected")
    assert "connected=" not in page.url
    page.get_by_label("Email").fill(session.email)
    page.get_by_label("Password").fill(session.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".account-card")).to_have_count(1)
    api = ApiClient(live_server.url, session)
    accounts = api.accounts()
    assert len(accounts) == 1 and accounts[0]["timezone"] == "America/New_York"
    api.close()
    assert session.errors == []


def test_rejected_token_shows_needs_reconnect(
    page: Page, live_server: LiveServer, worker: BackgroundWorker
) -> None:
    session = sign_up(page)
    connect_sandbox_account(page)
    upload_image(page, "reauth.jpg", jpeg(1080, 1080))
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]
    asset = api.http.get("/api/instagram/scheduling/media", params={"accountId": account["id"]})
    asset_id = asset.json()["items"][0]["id"]
    when = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:00Z")
    r = api.http.post(
        "/api/instagram/scheduling/posts",
        json={
            "instagramAccountId": account["id"],
            "mediaType": "IMAGE",
            "mediaIds": [asset_id],
            "caption": "will meet a revoked token",
            "scheduledFor": when,
        },
    )
    assert r.status_code == 201, r.text
    revoked = httpx.post(f"{live_server.url}/sandbox/_control/users/{account['igUserId']}/revoke")
    assert revoked.status_code == 200, revoked.text
    r = api.http.post(f"/api/instagram/scheduling/posts/{r.json()['id']}/publish-now")
    assert r.status_code == 200, r.text

    page.goto("/#/calendar")
    expect(page.locator(".post-failed")).to_have_count(1, timeout=30_000)
    page.goto("/#/accounts")
    card = page.locator(".account-card.needs-reauth")
    expect(card).to_be_visible()
    expect(card.locator(".notice-error")).to_contain_text("reconnect")
    expect(page.locator(".topbar .badge-warn")).to_have_text("Needs reconnect")
    expect(card.get_by_role("button", name="Reconnect with Instagram")).to_have_class("primary")
    api.close()
    assert session.errors == []


def test_connect_with_facebook_picks_one_of_several_pages(
    page: Page, live_server: LiveServer
) -> None:
    """Facebook Login through the sandbox's dialog as a Facebook user with two Pages linked to
    Instagram accounts: back at /?pick=<id>, log in, pick one, and it is connected with
    Facebook Login (the card says so)."""
    session = sign_up(page)
    name = f"fbweb_{secrets.token_hex(4)}"
    shop, outlet = f"shop_{secrets.token_hex(3)}", f"outlet_{secrets.token_hex(3)}"
    r = httpx.post(
        f"{live_server.url}/sandbox/_control/facebook/users",
        json={
            "name": name,
            "pages": [
                {"name": "Shop", "igUsername": shop},
                {"name": "No Instagram"},
                {"name": "Outlet", "igUsername": outlet},
            ],
        },
    )
    assert r.status_code == 201, r.text
    # The dialog "logs in" as that Facebook user (the sandbox's `username` parameter).
    page.route(
        "**/sandbox/facebook/*/dialog/oauth?*",
        lambda route: route.continue_(url=f"{route.request.url}&username={name}"),
    )
    page.goto("/#/accounts")
    page.get_by_role("button", name="Connect with Facebook").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator(".auth-status")).to_contain_text("Choose which Instagram account")
    assert "pick=" not in page.url
    page.get_by_label("Email").fill(session.email)
    page.get_by_label("Password").fill(session.password)
    page.get_by_role("button", name="Log in").click()
    picker = page.locator("#facebook-picker")
    expect(picker.locator("li")).to_have_count(2)
    expect(picker).to_contain_text("Facebook Page: Outlet")
    picker.get_by_role("button", name=f"Connect @{outlet}").click()
    card = page.locator(".account-card", has_text=f"@{outlet}")
    expect(card).to_be_visible()
    expect(card.locator(".login-kind")).to_contain_text("Facebook Login (Page Outlet)")
    expect(card.get_by_role("button", name="Reconnect with Facebook")).to_be_visible()
    expect(picker).to_have_count(0)
    api = ApiClient(live_server.url, session)
    [account] = api.accounts()
    assert account["loginKind"] == "facebook" and account["username"] == outlet
    api.close()
    assert session.errors == []


def test_sandbox_account_with_facebook_login(page: Page, live_server: LiveServer) -> None:
    session = sign_up(page)
    username = connect_sandbox_account(page, login="facebook")
    card = page.locator(".account-card", has_text=f"@{username}")
    expect(card.locator(".login-kind")).to_contain_text("Facebook Login")
    expect(card).to_contain_text("does not expire")
    api = ApiClient(live_server.url, session)
    assert api.accounts()[0]["loginKind"] == "facebook"
    api.close()
    assert session.errors == []
