"""Reel options in the browser: a trial reel with the AI label, from the composer to the post."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.media.files import mp4_bytes
from tests.web.helpers import ApiClient, connect_sandbox_account, jpeg, sign_up, upload_image

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


def test_convert_a_video_from_the_media_view(page: Page, live_server: LiveServer) -> None:
    """A 15 fps video does not fit (Instagram needs 23-60 fps): the card says why and offers
    "Convert for Instagram"; after it, every placement but the feed fits."""
    session = sign_up(page)
    connect_sandbox_account(page)
    upload_image(page, "slow.mp4", mp4_bytes(seconds=3, width=360, height=640, fps=15), "video/mp4")
    card = page.locator(".media-card", has_text="slow.mp4")
    card.locator("summary", has_text="Why it does not fit").click()
    expect(card.locator(".reasons")).to_contain_text("15 fps")
    card.get_by_role("button", name="Convert slow.mp4 for Instagram").click()
    expect(page.locator(".toast", has_text="converted")).to_be_visible(timeout=30_000)
    card = page.locator(".media-card", has_text="slow.mp4")
    expect(card.get_by_role("button", name="Convert slow.mp4 for Instagram")).to_have_count(0)
    expect(card.locator('.badge[data-use="reel"]')).to_have_class("badge compat compat-ok")
    api = ApiClient(live_server.url, session)
    r = api.http.get("/api/instagram/scheduling/media")
    [asset] = r.json()["items"]
    assert asset["metadata"]["fps"] == 30 and asset["conversionOffered"] is None
    api.close()
    assert session.errors == []


def test_two_stories_as_one_post(page: Page, live_server: LiveServer) -> None:
    session = sign_up(page)
    connect_sandbox_account(page)
    upload_image(page, "morning.jpg", jpeg(1080, 1920, (250, 200, 60)))
    upload_image(page, "evening.jpg", jpeg(1080, 1920, (40, 40, 120)))
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]

    page.get_by_role("link", name="Compose").click()
    page.locator("#composer-type").select_option("STORIES")
    page.locator("#media-picker label", has_text="morning.jpg").click()
    page.locator("#media-picker label", has_text="evening.jpg").click()
    expect(page.locator("#selected-media li")).to_have_count(2)
    page.locator("#composer-when").fill(f"{_day(2)}T07:15")
    page.locator("#composer-submit").click()
    chip = page.locator(f'.day[data-day="{_day(2)}"] .post-scheduled')
    expect(chip).to_be_visible()
    chip.click()
    expect(page.locator("#post-story-items li")).to_have_text(
        ["Story 1: not published yet", "Story 2: not published yet"]
    )
    [post] = api.posts(account["id"])
    assert post["mediaType"] == "STORIES" and len(post["mediaIds"]) == 2
    assert [s["status"] for s in post["storyItems"]] == ["pending", "pending"]
    api.close()
    assert session.errors == []
