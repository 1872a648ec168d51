"""Issue 16: the composer says when a time is over the publishing quota (and can save anyway);
the post dialog shows a published post's insights over time."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from playwright.sync_api import Page, expect

from instasched.config import plain_database_url
from instasched.publishing.insights import refresh_due
from instasched.state import AppState
from tests.conftest import BackgroundWorker, LiveServer
from tests.web.helpers import ApiClient, jpeg, sign_up, upload_image

TZ = "Europe/Berlin"
SCHED = "/api/instagram/scheduling"
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """A coroutine on a loop of its own (Playwright's sync API holds this thread's)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def connect_with_quota(
    page: Page, live_server: LiveServer, api: ApiClient, quota: int
) -> dict[str, Any]:
    """A sandbox account publishing at most `quota` posts per 24 h, connected through the API
    (the sandbox's quota is read at connection), then seen by the page."""
    sandbox = f"{live_server.url}/sandbox/_control"
    r = httpx.post(
        f"{sandbox}/users", json={"username": f"web_{secrets.token_hex(4)}", "timezone": TZ}
    )
    r.raise_for_status()
    sb = r.json()
    r = httpx.put(f"{sandbox}/quota", json={"igUserId": sb["igUserId"], "quotaTotal": quota})
    r.raise_for_status()
    r = api.http.post(
        "/api/instagram/accounts", json={"accessToken": sb["accessToken"], "timezone": TZ}
    )
    r.raise_for_status()
    account: dict[str, Any] = r.json()
    page.goto("/#/accounts")  # the accounts view reloads the list (the token lives in memory)
    expect(page.locator(".account-card", has_text=f"@{sb['username']}")).to_be_visible()
    expect(page.locator("#account-picker")).to_contain_text(f"@{sb['username']}")
    return account


def media_id(api: ApiClient, name: str) -> str:
    r = api.http.get(f"{SCHED}/media", params={"limit": 100})
    r.raise_for_status()
    return str(next(m["id"] for m in r.json()["items"] if m["originalFilename"] == name))


def test_composer_over_the_quota_offers_to_save_anyway(page: Page, live_server: LiveServer) -> None:
    session = sign_up(page)
    api = ApiClient(live_server.url, session)
    account = connect_with_quota(page, live_server, api, 1)
    upload_image(page, "quota.jpg", jpeg())
    day = (datetime.now(ZoneInfo(TZ)) + timedelta(days=3)).date().isoformat()
    r = api.http.post(
        f"{SCHED}/posts",
        json={
            "instagramAccountId": account["id"],
            "scheduledFor": f"{day}T10:00:00",
            "caption": "first",
            "mediaIds": [media_id(api, "quota.jpg")],
            "mediaType": "IMAGE",
        },
    )
    assert r.status_code == 201, r.text

    page.get_by_role("link", name="Compose").click()
    page.locator("#media-picker label", has_text="quota.jpg").click()
    page.locator("#composer-caption").fill("second, same day")
    page.locator("#composer-when").fill(f"{day}T11:00")
    page.locator("#composer-submit").click()
    error = page.locator("#composer-status .notice-error")
    expect(error).to_contain_text("at most 1 per 24 hours")
    assert len(api.posts(account["id"])) == 1
    page.locator("#composer-over-quota").click()
    expect(page.locator("#toast")).to_contain_text("at most 1 per 24 hours")
    assert len(api.posts(account["id"])) == 2
    assert session.errors == []


def test_post_dialog_shows_insights_over_time(
    page: Page, live_server: LiveServer, worker: BackgroundWorker
) -> None:
    session = sign_up(page)
    api = ApiClient(live_server.url, session)
    account = connect_with_quota(page, live_server, api, 100)
    upload_image(page, "insights.jpg", jpeg())
    soon = datetime.now(ZoneInfo(TZ)) + timedelta(hours=1)
    r = api.http.post(
        f"{SCHED}/posts",
        json={
            "instagramAccountId": account["id"],
            "scheduledFor": soon.isoformat(),
            "caption": "measured",
            "mediaIds": [media_id(api, "insights.jpg")],
            "mediaType": "IMAGE",
        },
    )
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]
    r = api.http.post(f"{SCHED}/posts/{post_id}/publish-now")
    assert r.json()["status"] == "published", r.text

    async def read_one_hour_figures() -> None:
        settings = live_server.settings
        conn = await asyncpg.connect(plain_database_url(settings.require_database_url()))
        try:
            await conn.execute(
                "UPDATE instagram_post_insights SET due_at = now() "
                "WHERE post_id = $1 AND checkpoint = '1h'",
                post_id,
            )
        finally:
            await conn.close()
        app = await AppState.create(settings)
        try:
            await refresh_due(app)
        finally:
            await app.close()

    run(read_one_hour_figures())
    page.goto(f"/#/calendar/{soon.date().isoformat()}/month")
    page.locator(f'[data-post-id="{post_id}"]').click()
    table = page.locator("#post-insights table")
    expect(table).to_contain_text("At publication")
    done = table.locator('tr[data-checkpoint="1h"] td')
    expect(done).to_have_count(7)
    [reading, *_] = api.http.get(f"{SCHED}/posts/{post_id}/insights").json()["readings"]
    assert reading["checkpoint"] == "1h" and reading["state"] == "done"
    expect(done.nth(2)).to_have_text(str(reading["likes"]))
    expect(table.locator('tr[data-checkpoint="24h"]')).to_contain_text("Read ")
    expect(table.locator('tr[data-checkpoint="7d"]')).to_contain_text("Read ")
    assert session.errors == []
