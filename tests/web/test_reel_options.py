"""Reel options in the browser: a trial reel with the AI label, from the composer to the post."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.media.files import mp4_bytes
from tests.web.helpers import ApiClient, connect_sandbox_account, sign_up, upload_image

TZ = "Europe/Berlin"


def _day(days: int) -> str:
    return (datetime.now(ZoneInfo(TZ)) + timedelta(days=days)).date().isoformat()


def test_trial_reel_with_the_ai_label(page: Page, live_server: LiveServer) -> None:
    session = sign_up(page)
    connect_sandbox_account(page)
    upload_image(page, "clip.mp4", mp4_bytes(seconds=3, width=360, height=640), "video/mp4")
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]

    page.get_by_role("link", name="Compose").click()
    page.locator("#composer-type").select_option("REELS")
    page.locator("#media-picker label", has_text="clip.mp4").click()
    expect(page.locator("#composer-share")).to_be_visible()
    page.locator("#composer-trial").select_option("SS_PERFORMANCE")
    expect(page.locator("#composer-share")).to_be_hidden()  # a trial reel is not in the feed
    page.get_by_label("Label as made with AI").check()
    page.locator("#composer-caption").fill("Testing a hook")
    page.locator("#composer-when").fill(f"{_day(2)}T09:30")
    page.locator("#composer-submit").click()
    expect(page.locator(f'.day[data-day="{_day(2)}"] .post-scheduled')).to_be_visible()
    [post] = api.posts(account["id"])
    assert post["mediaType"] == "REELS"
    assert post["trialParams"] == {"graduationStrategy": "SS_PERFORMANCE"}
    assert post["isAiGenerated"] is True
    assert post["shareToFeed"] is None
    api.close()
    assert session.errors == []
