"""Issue 22 in the browser: the calendar shows the content (thumbnail, type, account,
status; week and day views with an hour axis in the entries' format; free schedule slots to
compose into; best-time hours), the composer's placement previews, quota and problems, live
failure notifications, the grid planner and bulk actions from the media library."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.conftest import BackgroundWorker, LiveServer
from tests.web.helpers import (
    ApiClient,
    connect_sandbox_account,
    jpeg,
    sign_up,
    upload_image,
    watch_errors,
)

TZ = "Europe/Berlin"
SCHED = "/api/instagram/scheduling"


def _day(days: int) -> str:
    return (datetime.now(ZoneInfo(TZ)) + timedelta(days=days)).date().isoformat()


def _media(api: ApiClient, account_id: str) -> dict[str, dict[str, Any]]:
    r = api.http.get(f"{SCHED}/media", params={"accountId": account_id, "limit": 100})
    r.raise_for_status()
    return {m["originalFilename"]: m for m in r.json()["items"]}


def _create(api: ApiClient, account: dict[str, Any], **body: Any) -> dict[str, Any]:
    r = api.http.post(f"{SCHED}/posts", json={"instagramAccountId": account["id"], **body})
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def _path(url: str) -> str:
    return url.split("?", 1)[0]


def test_calendar_shows_content_slots_and_best_times(
    page: Page, browser: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    session = sign_up(page)
    username = connect_sandbox_account(page, timezone=TZ)
    upload_image(page, "red.jpg", jpeg(1080, 1350, (200, 30, 30)))
    upload_image(page, "blue.jpg", jpeg(1080, 1080, (30, 30, 200)))
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]
    media = _media(api, account["id"])
    r = api.http.post(
        f"{SCHED}/schedules/{account['id']}",
        json={
            "dayOfWeek": datetime.fromisoformat(_day(2)).isoweekday() % 7,
            "timeSlots": ["10:00"],
        },
    )
    assert r.status_code == 201, r.text
    image = _create(
        api,
        account,
        mediaType="IMAGE",
        mediaIds=[media["red.jpg"]["id"]],
        caption="Red ☀️",
        scheduledFor=f"{_day(1)}T09:05:00",
    )
    carousel = _create(
        api,
        account,
        mediaType="CAROUSEL",
        mediaIds=[media["blue.jpg"]["id"], media["red.jpg"]["id"]],
        caption="Blue first",
        scheduledFor=f"{_day(1)}T11:30:00",
    )
    for minute in (0, 10, 20):
        _create(
            api,
            account,
            mediaType="IMAGE",
            mediaIds=[media["blue.jpg"]["id"]],
            caption=f"Afternoon {minute}",
            scheduledFor=f"{_day(1)}T15:{minute:02d}:00",
        )

    page.goto(f"/#/calendar/{_day(1)}/month")
    entry = page.locator(f'[data-post-id="{carousel["id"]}"]')
    # The carousel's first item is its thumbnail; the entry names type, account and status.
    expect(entry.locator("img.post-thumb")).to_have_attribute(
        "src", re.compile(re.escape(_path(media["blue.jpg"]["previewUrl"])))
    )
    expect(entry).to_contain_text("Carousel")
    expect(entry).to_contain_text(f"@{username}")
    expect(entry).to_contain_text("Scheduled")
    expect(entry).to_contain_text("11:30")
    single = page.locator(f'[data-post-id="{image["id"]}"]')
    expect(single.locator("img.post-thumb")).to_have_attribute(
        "src", re.compile(re.escape(_path(media["red.jpg"]["previewUrl"])))
    )
    expect(single).to_contain_text("Image")
    # A busy day shows its first 3 entries and "+2 more", which opens the day.
    cell = page.locator(f'.day[data-day="{_day(1)}"]')
    expect(cell.locator(".post")).to_have_count(3)
    expect(cell.locator(".more-posts")).to_have_text(f"+2 more on {_day(1)}")
    page.screenshot(path=str(screenshots / "calendar-content-month.png"), full_page=True)

    # Week view: the hour axis reads like the entries (24 h here, en-GB), opened on the
    # working day, the free schedule slot drawn, best-time hours shaded.
    page.locator("#view-week").click()
    week = page.locator("#calendar .week")
    expect(week.locator('.wk-row:not(.head) [role="rowheader"]').nth(9)).to_have_text("09:00")
    expect(week.locator(f'[data-post-id="{image["id"]}"] .post-time')).to_have_text("09:05")
    assert week.evaluate("el => el.scrollTop") > 0
    seven = week.locator('[data-hour="7"]').first
    expect(seven).to_be_in_viewport()
    expect(week.locator(".slot.best").first).to_be_attached()
    best = week.locator(".slot.best").count()
    assert 1 <= best <= 7 * 24
    afternoon = week.locator(f'.slot[data-day="{_day(1)}"][data-hour="15"]')
    expect(afternoon.locator(".post")).to_have_count(2)
    expect(afternoon.locator(".more-posts")).to_contain_text("+1 more")
    free = week.locator(f'.free-slot[data-slot="{_day(2)}T10:00"]')
    expect(free).to_be_visible()
    page.screenshot(path=str(screenshots / "calendar-content-week.png"), full_page=True)

    # Day view ("+1 more" opens it): one column, every post of that day.
    afternoon.locator(".more-posts").click()
    expect(page.locator("#calendar .day-view")).to_be_visible()
    expect(page.locator("#calendar .day-view .post")).to_have_count(5)
    page.screenshot(path=str(screenshots / "calendar-content-day.png"), full_page=True)

    # A free slot opens the composer at that time.
    page.goto(f"/#/calendar/{_day(2)}/week")
    page.locator(f'.free-slot[data-slot="{_day(2)}T10:00"]').click()
    expect(page.get_by_role("heading", name="Compose a post")).to_be_visible()
    expect(page.locator("#composer-when")).to_have_value(f"{_day(2)}T10:00")

    # Which picture stands for a post: a reel's cover when it has one, else its first item.
    picked = page.evaluate(
        """async () => {
          const { postThumbUrl } = await import('/static/js/thumbs.js');
          const index = new Map([
            ['v', { id: 'v', previewUrl: null, thumbnailUrl: 'https://s3/frame.jpg' }],
            ['c', { id: 'c', previewUrl: 'https://s3/cover.jpg' }],
            ['s3://cover', { id: 'c', previewUrl: 'https://s3/cover.jpg' }],
          ]);
          return [
            postThumbUrl({ mediaType: 'REELS', mediaIds: ['v'], coverUrl: 's3://cover' }, index),
            postThumbUrl({ mediaType: 'REELS', mediaIds: ['v'], coverUrl: null }, index),
            postThumbUrl({ mediaType: 'CAROUSEL', mediaIds: ['c', 'v'] }, index),
            postThumbUrl({ mediaType: 'IMAGE', mediaIds: ['gone'] }, index),
          ];
        }"""
    )
    assert picked == [
        "https://s3/cover.jpg",
        "https://s3/frame.jpg",
        "https://s3/cover.jpg",
        None,
    ]

    # In a 12-hour locale the axis and the entries both read "AM"/"PM".
    context = browser.new_context(
        base_url=live_server.url,
        locale="en-US",
        timezone_id="America/New_York",
        viewport={"width": 1280, "height": 900},
    )
    us = context.new_page()
    errors = watch_errors(us)
    us.goto("/")
    us.get_by_label("Email").fill(session.email)
    us.get_by_label("Password").fill(session.password)
    us.get_by_role("button", name="Log in").click()
    expect(us.locator("#logout")).to_be_visible()
    us.goto(f"/#/calendar/{_day(1)}/week")
    axis = us.locator('#calendar .wk-row:not(.head) [role="rowheader"]')
    expect(axis.nth(9)).to_have_text("09:00 AM")
    expect(axis.nth(13)).to_have_text("01:00 PM")
    expect(us.locator(f'[data-post-id="{carousel["id"]}"] .post-time')).to_have_text("11:30 AM")
    context.close()
    assert errors == []
    api.close()
    assert session.errors == []


def _coloured_pixels(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for px in image.get_flattened_data() if max(px) - min(px) > 60)


def test_composer_previews_quota_problems_and_emoji(
    page: Page, live_server: LiveServer, screenshots: Path, emoji_font: None
) -> None:
    session = sign_up(page)
    connect_sandbox_account(page, timezone=TZ)
    upload_image(page, "one.jpg", jpeg(1080, 1350, (200, 60, 60)))
    upload_image(page, "two.jpg", jpeg(1080, 1350, (60, 60, 200)))
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]
    media = _media(api, account["id"])
    _create(
        api,
        account,
        mediaType="IMAGE",
        mediaIds=[media["one.jpg"]["id"]],
        caption="already planned",
        scheduledFor=f"{_day(3)}T12:00:00",
    )

    page.goto("/#/compose")
    page.locator("#composer-type").select_option("CAROUSEL")
    page.locator("#media-picker label", has_text="one.jpg").click()
    # One item is not a carousel: the problem is shown before submitting.
    expect(page.locator("#media-problems")).to_contain_text("A carousel takes 2 to 10 items")
    page.locator("#media-picker label", has_text="two.jpg").click()
    expect(page.locator("#media-problems")).to_be_empty()
    preview = page.locator("#composer-preview")
    expect(preview.locator(".ig-slide")).to_have_count(2)
    expect(preview.locator(".ig-count")).to_have_text("1/2")
    preview.get_by_role("button", name="Next slide").click()
    expect(preview.locator(".ig-count")).to_have_text("2/2")
    page.locator("#composer-caption").fill("Sunny 😀🎉 day @friend #summer")
    expect(preview.locator(".ig-caption")).to_contain_text("😀🎉")
    expect(page.locator('[data-counter="hashtags"]')).to_have_text("1 / 5 hashtags")
    expect(page.locator('[data-counter="mentions"]')).to_have_text("1 / 20 mentions")
    # Emoji render in colour (a colour emoji font in the stack), not as empty boxes.
    assert "Noto Color Emoji" in page.evaluate(
        "() => getComputedStyle(document.getElementById('composer-caption')).fontFamily"
    )
    caption_box = preview.locator(".ig-caption")
    assert _coloured_pixels(caption_box.screenshot()) > 50
    page.screenshot(path=str(screenshots / "composer-carousel.png"), full_page=True)

    # The quota left in the 24 h window around the chosen time (one post already there).
    page.locator("#composer-when").fill(f"{_day(3)}T15:00")
    expect(page.locator("#quota-info")).to_contain_text("99 of 100 posts left")
    expect(page.locator("#quota-info")).to_have_attribute("data-remaining", "99")

    # A reel: 9:16, and an image is flagged as the wrong media.
    page.locator("#composer-type").select_option("REELS")
    expect(preview.locator(".ig-reel")).to_have_attribute("style", re.compile("9 / 16"))
    expect(page.locator("#media-problems")).to_contain_text("A reel needs a video")
    page.screenshot(path=str(screenshots / "composer-reel.png"), full_page=True)
    # A story: full screen, no caption below.
    page.locator("#composer-type").select_option("STORIES")
    expect(preview.locator(".ig-story")).to_be_visible()
    expect(preview.locator(".ig-caption")).to_have_count(0)
    page.screenshot(path=str(screenshots / "composer-story.png"), full_page=True)
    # Feed: the chosen crop.
    page.locator("#composer-type").select_option("IMAGE")
    page.locator("#composer-aspect").select_option("4 / 5")
    expect(preview.locator(".ig-frame")).to_have_attribute("style", re.compile("4 / 5"))
    expect(preview).to_have_attribute("data-placement", "IMAGE")
    api.close()
    assert session.errors == []


def test_failure_is_notified_live_with_its_action(
    page: Page, live_server: LiveServer, worker: BackgroundWorker, screenshots: Path
) -> None:
    session = sign_up(page)
    connect_sandbox_account(page, timezone=TZ)
    upload_image(page, "live.jpg", jpeg(1080, 1080))
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]
    media = _media(api, account["id"])
    post = _create(
        api,
        account,
        mediaType="IMAGE",
        mediaIds=[media["live.jpg"]["id"]],
        caption="will fail",
        scheduledFor=f"{_day(2)}T10:00:00",
    )
    page.goto(f"/#/calendar/{_day(2)}/week")
    entry = page.locator(f'#calendar [data-post-id="{post["id"]}"]')
    expect(entry).to_have_attribute("data-status", "scheduled")
    assert not page.title().startswith("(")
    fault = httpx.post(
        f"{live_server.url}/sandbox/_control/faults",
        json={
            "igUserId": account["igUserId"],
            "endpoint": "media",
            "error": {
                "code": 36003,
                "subcode": 2207009,
                "message": "The submitted image with aspect ratio ('1:3') cannot be published.",
            },
        },
    )
    assert fault.status_code == 201, fault.text
    r = api.http.post(f"{SCHED}/posts/{post['id']}/publish-now", params={"waitSeconds": 30})
    assert r.status_code == 200 and r.json()["status"] == "failed", r.text

    # Without a reload: the entry turns failed (the calendar's poll of the changes, well
    # before its full re-read each minute), a notification with the reason and the action,
    # a count in the title.
    expect(entry).to_have_attribute("data-status", "failed", timeout=20_000)
    expect(entry).to_contain_text("Failed")
    alert = page.locator(f'.alert[data-post-id="{post["id"]}"]')
    expect(alert).to_be_visible(timeout=20_000)
    expect(alert).to_have_attribute("role", "alert")
    expect(alert.locator(".alert-reason")).to_contain_text("aspect ratio")
    action = alert.locator('[data-action="fix-media"]')
    expect(action).to_have_text("Fix the media")
    expect(action).to_have_attribute("href", f"#/compose/{post['id']}/copy")
    expect(page).to_have_title(re.compile(r"^\(1\) Calendar"))
    expect(page.locator('link[rel="icon"]')).to_have_attribute("data-count", "1")
    assert page.locator('link[rel="icon"]').get_attribute("href").startswith("data:image/svg+xml")
    page.screenshot(path=str(screenshots / "live-failure-alert.png"))
    # The title keeps its count from view to view; the notification needs no calendar.
    page.get_by_role("link", name="Media library").click()
    expect(page).to_have_title(re.compile(r"^\(1\) Media library"))
    # The action for a reason: reconnect, fix media, or retry.
    kinds = page.evaluate(
        """async () => {
          const { actionFor } = await import('/static/js/live.js');
          return [
            actionFor({ id: 'x', lastPublishError: 'The connection has expired' }, {}).kind,
            actionFor({ id: 'x', lastPublishError: 'Video duration too long' }, {}).kind,
            actionFor({ id: 'x', lastPublishError: 'Instagram had an internal error' }, {}).kind,
            actionFor({ id: 'x', lastPublishError: 'x' }, { needsReauth: true }).kind,
          ];
        }"""
    )
    assert kinds == ["reconnect", "fix-media", "retry", "reconnect"]
    alert.get_by_role("button", name=re.compile("^Dismiss")).click()
    expect(alert).to_have_count(0)
    expect(page).to_have_title("Media library · instasched")
    expect(page.locator('link[rel="icon"]')).to_have_attribute("href", "/static/favicon.svg")

    # A refusal that is neither the connection nor the media: "Retry now" retries the post in
    # place (same id, a new attempt) and publishes it.
    other = _create(
        api,
        account,
        mediaType="IMAGE",
        mediaIds=[media["live.jpg"]["id"]],
        caption="retry me",
        scheduledFor=f"{_day(3)}T10:00:00",
    )
    fault = httpx.post(
        f"{live_server.url}/sandbox/_control/faults",
        json={
            "igUserId": account["igUserId"],
            "endpoint": "media",
            "error": {"code": 100, "message": "Unsupported request"},
        },
    )
    assert fault.status_code == 201, fault.text
    r = api.http.post(f"{SCHED}/posts/{other['id']}/publish-now", params={"waitSeconds": 30})
    assert r.status_code == 200 and r.json()["status"] == "failed", r.text
    alert = page.locator(f'.alert[data-post-id="{other["id"]}"]')
    expect(alert).to_be_visible(timeout=20_000)
    alert.locator('[data-action="retry"]').click()
    expect(page.locator("#toast")).to_contain_text("Published", timeout=30_000)
    expect(alert).to_have_count(0)
    statuses = sorted((p["caption"], p["status"]) for p in api.posts(account["id"]))
    assert statuses == [("retry me", "published"), ("will fail", "failed")]
    history = api.http.get(f"{SCHED}/posts/{other['id']}/history")
    assert history.status_code == 200, history.text
    assert "retried" in [e["kind"] for e in history.json()["events"]]
    api.close()
    assert session.errors == []


def test_grid_planner_swaps_times_and_crops(
    page: Page, live_server: LiveServer, worker: BackgroundWorker, screenshots: Path
) -> None:
    session = sign_up(page)
    connect_sandbox_account(page, timezone=TZ)
    for name, colour in (
        ("old.jpg", (90, 90, 90)),
        ("a.jpg", (220, 40, 40)),
        ("b.jpg", (40, 40, 220)),
    ):
        upload_image(page, name, jpeg(1080, 1350, colour))
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]
    media = _media(api, account["id"])
    done = _create(
        api,
        account,
        mediaType="IMAGE",
        mediaIds=[media["old.jpg"]["id"]],
        caption="published",
        scheduledFor=f"{_day(1)}T08:00:00",
    )
    r = api.http.post(f"{SCHED}/posts/{done['id']}/publish-now", params={"waitSeconds": 60})
    assert r.status_code == 200 and r.json()["status"] == "published", r.text
    a = _create(
        api,
        account,
        mediaType="IMAGE",
        mediaIds=[media["a.jpg"]["id"]],
        caption="A",
        scheduledFor=f"{_day(2)}T10:00:00",
    )
    b = _create(
        api,
        account,
        mediaType="IMAGE",
        mediaIds=[media["b.jpg"]["id"]],
        caption="B",
        scheduledFor=f"{_day(3)}T18:00:00",
    )

    page.goto("/#/grid")
    cells = page.locator("#ig-grid > li")
    expect(cells).to_have_count(3)
    # Newest first: the last planned post top left, then the other, then the published one.
    expect(cells.nth(0)).to_have_attribute("data-post-id", b["id"])
    expect(cells.nth(1)).to_have_attribute("data-post-id", a["id"])
    expect(cells.nth(2)).to_have_class("published")
    expect(cells.nth(2).locator("img")).to_have_attribute(
        "src", re.compile(re.escape(_path(media["old.jpg"]["previewUrl"])))
    )
    page.screenshot(path=str(screenshots / "grid-planner.png"), full_page=True)

    # Drag B onto A: they swap times.
    cells.nth(0).drag_to(cells.nth(1))
    expect(page.locator("#toast")).to_contain_text("Swapped")
    expect(cells.nth(0)).to_have_attribute("data-post-id", a["id"])
    by_id = {p["id"]: p for p in api.posts(account["id"])}
    assert by_id[a["id"]]["scheduledFor"] == b["scheduledFor"]
    assert by_id[b["id"]]["scheduledFor"] == a["scheduledFor"]
    # The arrows do the same from the keyboard.
    cells.nth(0).get_by_role("button", name=re.compile("right")).press("Enter")
    expect(cells.nth(0)).to_have_attribute("data-post-id", b["id"])
    by_id = {p["id"]: p for p in api.posts(account["id"])}
    assert by_id[a["id"]]["scheduledFor"] == a["scheduledFor"]

    # Crop preview: 4:5 (Instagram's grid) or 1:1.
    assert (
        cells.nth(0).evaluate(
            "el => el.getBoundingClientRect().height / el.getBoundingClientRect().width"
        )
        > 1.2
    )
    page.get_by_role("button", name="1:1 (square)").click()
    ratio = cells.nth(0).evaluate(
        "el => el.getBoundingClientRect().height / el.getBoundingClientRect().width"
    )
    assert abs(ratio - 1) < 0.02
    page.screenshot(path=str(screenshots / "grid-planner-square.png"), full_page=True)
    api.close()
    assert session.errors == []


def test_bulk_carousel_and_posts_from_a_selection(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    session = sign_up(page)
    connect_sandbox_account(page, timezone=TZ)
    page.goto("/#/media")
    page.locator("#media-file-input").set_input_files(
        files=[
            {
                "name": f"bulk{i}.jpg",
                "mimeType": "image/jpeg",
                "buffer": jpeg(1080, 1080, (40 * i, 90, 120)),
            }
            for i in range(1, 4)
        ]
    )
    expect(page.locator(".media-card")).to_have_count(3, timeout=30_000)
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]
    media = _media(api, account["id"])

    page.get_by_label("Select bulk1.jpg").check()
    expect(page.locator("#bulk-carousel")).to_be_disabled()
    page.get_by_label("Select bulk2.jpg").check()
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    page.screenshot(path=str(screenshots / "media-bulk.png"), full_page=True)
    page.locator("#bulk-carousel").click()
    expect(page.get_by_role("heading", name="Compose a post")).to_be_visible()
    expect(page.locator("#composer-type")).to_have_value("CAROUSEL")
    expect(page.locator("#selected-media li")).to_have_count(2)
    expect(page.locator("#composer-preview .ig-slide")).to_have_count(2)

    page.goto("/#/media")
    for i in range(1, 4):
        page.get_by_label(f"Select bulk{i}.jpg").check()
    page.locator("#bulk-posts").click()
    page.locator("#bulk-start").fill(f"{_day(5)}T09:00")
    page.locator("#bulk-spacing").select_option("24")
    page.locator("#bulk-caption").fill("One of three")
    page.locator("#bulk-create").click()
    expect(page.locator("#toast")).to_contain_text("3 posts scheduled")
    posts = sorted(api.posts(account["id"]), key=lambda p: p["scheduledFor"])
    assert [p["caption"] for p in posts] == ["One of three"] * 3
    times = [datetime.fromisoformat(p["scheduledFor"]) for p in posts]
    assert [t - times[0] for t in times] == [timedelta(0), timedelta(days=1), timedelta(days=2)]
    assert times[0].astimezone(ZoneInfo(TZ)).strftime("%H:%M") == "09:00"
    assert {p["mediaIds"][0] for p in posts} == {m["id"] for m in media.values()}
    api.close()
    assert session.errors == []
