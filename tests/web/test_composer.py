"""Composer and calendar details in the browser: carousel order, limits and server errors,
edit, week-view drag, cancel."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.web.helpers import ApiClient, connect_sandbox_account, jpeg, sign_up, upload_image

TZ = "Europe/Berlin"


def _day(days: int) -> str:
    return (datetime.now(ZoneInfo(TZ)) + timedelta(days=days)).date().isoformat()


def test_carousel_order_limits_and_server_errors(page: Page, live_server: LiveServer) -> None:
    session = sign_up(page)
    connect_sandbox_account(page, login="facebook")  # collaborators need Facebook Login
    upload_image(page, "first.jpg", jpeg(1080, 1080, (10, 120, 200)))
    upload_image(page, "second.jpg", jpeg(1080, 1080, (200, 120, 10)))
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]

    page.get_by_role("link", name="Compose").click()
    page.locator("#composer-type").select_option("STORIES")
    expect(page.locator("#composer-collaborators")).to_be_hidden()  # stories take none
    page.locator("#composer-type").select_option("CAROUSEL")
    expect(page.get_by_text("Collaborators (up to 5)")).to_be_visible()
    page.locator("#media-picker label", has_text="first.jpg").click()
    page.locator("#media-picker label", has_text="second.jpg").click()
    selected = page.locator("#selected-media li")
    expect(selected).to_have_text(["1. first.jpg↑↓×", "2. second.jpg↑↓×"])
    page.get_by_role("button", name="Move first.jpg later").click()
    expect(selected).to_have_text(["1. second.jpg↑↓×", "2. first.jpg↑↓×"])
    expect(page.locator(".ig-count")).to_have_text("1/2")

    # 6 hashtags, one over Instagram's cap (MAX_HASHTAGS, 5 since December 2025): the counter
    # turns red, the cap is spelled out, and the server's 422 is shown, naming the field.
    expect(page.locator("#hashtag-limit")).to_contain_text("at most 5 hashtags")
    page.locator("#composer-caption").fill(" ".join(f"#tag{i}" for i in range(6)))
    expect(page.locator('[data-counter="hashtags"]')).to_have_class("counter over")
    expect(page.locator('[data-counter="hashtags"]')).to_have_text("6 / 5 hashtags")
    page.locator("#composer-when").fill(f"{_day(3)}T11:45")
    page.locator("#composer-submit").click()
    error = page.locator("#composer-status .notice-error")
    expect(error).to_contain_text("caption")
    expect(error).to_contain_text("at most 5")
    assert api.posts(account["id"]) == []

    page.locator("#composer-caption").fill("Two slides @friend #ok")
    expect(page.locator('[data-counter="mentions"]')).to_have_text("1 / 20 mentions")
    page.locator("#composer-first-comment").fill("More in bio")
    page.locator("#composer-collaborators").fill("@partner_one, partner_two")
    page.locator("#composer-submit").click()
    expect(page.locator(f'.day[data-day="{_day(3)}"] .post-scheduled')).to_be_visible()
    [post] = api.posts(account["id"])
    ids = {m["originalFilename"]: m["id"] for m in _media(api, account["id"])}
    assert post["mediaType"] == "CAROUSEL"
    assert post["mediaIds"] == [ids["second.jpg"], ids["first.jpg"]]
    assert post["firstComment"] == "More in bio"
    assert post["collaborators"] == ["partner_one", "partner_two"]
    api.close()
    assert session.errors == []


def _media(api: ApiClient, account_id: str) -> list[dict[str, str]]:
    r = api.http.get("/api/instagram/scheduling/media", params={"accountId": account_id})
    r.raise_for_status()
    items: list[dict[str, str]] = r.json()["items"]
    return items


def test_edit_week_drag_and_cancel(page: Page, live_server: LiveServer) -> None:
    session = sign_up(page)
    connect_sandbox_account(page)
    upload_image(page, "edit.jpg", jpeg(1080, 1080))
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]

    page.get_by_role("link", name="Compose").click()
    page.locator("#media-picker label", has_text="edit.jpg").click()
    page.locator("#composer-caption").fill("Before the edit")
    page.locator("#composer-when").fill(f"{_day(2)}T09:20")
    page.locator("#composer-submit").click()
    chip = page.locator(f'.day[data-day="{_day(2)}"] .post-scheduled')
    expect(chip).to_contain_text("Before the edit")

    # Edit from the post's dialog.
    chip.click()
    page.locator("#post-edit").click()
    expect(page.get_by_role("heading", name="Edit post")).to_be_visible()
    expect(page.locator("#composer-caption")).to_have_value("Before the edit")
    page.locator("#composer-caption").fill("After the edit")
    page.locator("#composer-submit").click()
    expect(chip).to_contain_text("After the edit")
    [post] = api.posts(account["id"])
    assert post["caption"] == "After the edit"

    # Week view: drag to 15:00 of the next day keeps the minutes.
    page.locator("#view-week").click()
    expect(page.locator("#calendar .week")).to_be_visible()
    target = page.locator(f'.slot[data-day="{_day(3)}"][data-hour="15"]')
    if target.count() == 0:  # the next day is in the following week
        page.locator("#cal-next").click()
    # Centre the target: near the edge of the scrolling grid Chromium auto-scrolls mid-drag.
    target.evaluate("el => el.scrollIntoView({block: 'center'})")
    page.locator(f'[data-post-id="{post["id"]}"]').drag_to(target)
    expect(target.locator(f'[data-post-id="{post["id"]}"]')).to_be_visible()
    [post] = api.posts(account["id"])
    when = datetime.fromisoformat(post["scheduledFor"]).astimezone(ZoneInfo(TZ))
    assert (when.date().isoformat(), when.hour, when.minute) == (_day(3), 15, 20)

    # Cancel (confirmed): it leaves the calendar and the API says cancelled.
    page.once("dialog", lambda d: d.accept())
    page.locator(f'[data-post-id="{post["id"]}"]').click()
    page.locator("#post-cancel").click()
    expect(page.locator(f'[data-post-id="{post["id"]}"]')).to_have_count(0)
    [post] = api.posts(account["id"])
    assert post["status"] == "cancelled"
    api.close()
    assert session.errors == []


def test_story_with_a_person_tagged(page: Page, live_server: LiveServer) -> None:
    """Instagram takes user tags on stories (since July 2025): the composer offers them for a
    story and the post keeps them."""
    session = sign_up(page)
    connect_sandbox_account(page)
    upload_image(page, "story.jpg", jpeg(1080, 1920))
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]

    page.get_by_role("link", name="Compose").click()
    page.locator("#composer-type").select_option("STORIES")
    page.locator("#media-picker label", has_text="story.jpg").click()
    tags = page.locator("#user-tags")
    expect(tags).to_be_visible()
    tags.get_by_role("button", name="Add a person").click()
    page.get_by_label("Tag 1 username").fill("@best.friend")
    page.get_by_label("Tag 1 x (0-1)").fill("0.25")
    page.locator("#composer-when").fill(f"{_day(2)}T18:10")
    page.locator("#composer-submit").click()
    expect(page.locator(f'.day[data-day="{_day(2)}"] .post-scheduled')).to_be_visible()
    [post] = api.posts(account["id"])
    assert post["mediaType"] == "STORIES"
    assert post["userTags"] == [{"username": "best.friend", "x": 0.25, "y": 0.5}]
    api.close()
    assert session.errors == []
