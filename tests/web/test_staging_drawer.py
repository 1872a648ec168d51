"""Pre-staged containers (docs/staging.md): the post dialog shows a staging Meta rejected, well
before the post's time, so the person can replace the media."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from playwright.sync_api import Page, expect

from instasched.config import plain_database_url
from tests.conftest import LiveServer
from tests.web.helpers import ApiClient, connect_sandbox_account, jpeg, sign_up, upload_image
from tests.web.test_quota_insights import SCHED, TZ, media_id, run

REJECTED = "The aspect ratio is not accepted (feed images must be between 4:5 and 1.91:1)."


def test_post_dialog_shows_a_rejected_staging(page: Page, live_server: LiveServer) -> None:
    session = sign_up(page)
    api = ApiClient(live_server.url, session)
    connect_sandbox_account(page, timezone=TZ)
    [account] = api.accounts()
    upload_image(page, "staged.jpg", jpeg())
    soon = datetime.now(ZoneInfo(TZ)) + timedelta(hours=2)
    r = api.http.post(
        f"{SCHED}/posts",
        json={
            "instagramAccountId": account["id"],
            "scheduledFor": soon.isoformat(),
            "caption": "rejected ahead",
            "mediaIds": [media_id(api, "staged.jpg")],
            "mediaType": "IMAGE",
        },
    )
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]

    async def rejected_by_meta() -> None:  # what the staging job writes (tests/publishing)
        url = plain_database_url(live_server.settings.require_database_url())
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "UPDATE instagram_scheduled_posts SET staging_status = 'failed',"
                " staging_error = $2 WHERE id = $1",
                post_id,
                REJECTED,
            )
        finally:
            await conn.close()

    run(rejected_by_meta())
    page.goto(f"/#/calendar/{soon.date().isoformat()}/month")
    page.locator(f'[data-post-id="{post_id}"]').click()
    shown = page.locator("#post-staging .notice-error")
    expect(shown).to_contain_text("Instagram rejected this post's media ahead of its time")
    expect(shown).to_contain_text(REJECTED)
    expect(page.locator("#post-edit")).to_be_visible()
    assert api.http.delete(f"{SCHED}/posts/{post_id}").status_code == 200
    assert session.errors == []
