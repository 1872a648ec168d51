"""The issue's scenario in headless Chromium on the embedded default, through the UI only.

Sign up, create a sandbox account, upload an image, write a template, compose a post from it,
see it on the calendar, drag it to another day, publish it now and see it published with a
permalink; then a post whose publishing fails shows Meta's error. Screenshots of each view go
to test-artifacts/screenshots/ (docs/screenshots/ with UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import BackgroundWorker, LiveServer
from tests.web.helpers import ApiClient, connect_sandbox_account, jpeg, sign_up, upload_image

TZ = "Europe/Berlin"  # the account's zone; the browser is in America/New_York (conftest)


def test_schedule_drag_publish_and_fail(
    page: Page, live_server: LiveServer, worker: BackgroundWorker, screenshots: Path
) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.screenshot(path=str(screenshots / "login.png"))

    session = sign_up(page)
    username = connect_sandbox_account(page)
    page.screenshot(path=str(screenshots / "accounts.png"), full_page=True)
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]
    assert account["username"] == username and account["timezone"] == TZ

    # --- media library
    upload_image(page, "summer-launch.jpg", jpeg(1080, 1350))
    card = page.locator(".media-card", has_text="summer-launch.jpg")
    expect(card.locator('[data-use="feed"]')).to_have_class("badge compat compat-ok")
    expect(card.locator("img.thumb")).to_have_attribute("src", re.compile(r"^https?://"))

    # --- a template
    page.get_by_role("link", name="Templates").click()
    page.locator("#new-template").click()
    page.locator("#tpl-name").fill("Launch")
    page.locator("#tpl-category").select_option("product_launch")
    page.locator("#tpl-caption").fill("Meet {{product}}: now {{discount}} off <b>today</b>!")
    page.locator("#tpl-hashtags").fill("launch summer")
    page.locator("#tpl-save").click()
    template_card = page.locator(".template-card", has_text="Launch")
    expect(template_card).to_contain_text("Product launch")
    expect(template_card).to_contain_text("used 0 times")
    expect(template_card.locator(".template-text")).to_have_text(
        "Meet {{product}}: now {{discount}} off <b>today</b>!"
    )

    # --- composer: from the template, at 10:00 in two days (account time)
    day = (datetime.now(ZoneInfo(TZ)) + timedelta(days=2)).date()
    page.get_by_role("link", name="Compose").click()
    page.locator("#media-picker label", has_text="summer-launch.jpg").click()
    page.locator("#composer-template").select_option(label="Launch")
    page.locator('[data-variable="product"]').fill("Sunscreen")
    page.locator('[data-variable="discount"]').fill("20%")
    expect(page.locator("#composer-caption")).to_have_value(
        "Meet Sunscreen: now 20% off <b>today</b>!\n\n#launch #summer"
    )
    expect(page.locator("#template-variables .missing-vars")).to_have_text("All variables filled.")
    expect(page.locator('[data-counter="hashtags"]')).to_have_text("2 / 5 hashtags")
    expect(page.locator(".ig-caption")).to_contain_text("<b>today</b>")
    page.locator("#composer-aspect").select_option("4 / 5")
    page.locator("#composer-when").fill(f"{day.isoformat()}T10:00")
    expect(page.locator("#when-info")).to_contain_text(f"10:00 in {TZ} (the account's time)")
    expect(page.locator("#when-info")).to_contain_text("04:00 in America/New_York (your time)")
    page.screenshot(path=str(screenshots / "composer.png"), full_page=True)
    page.locator("#composer-submit").click()

    # --- calendar: the post is on its day; drag it to another day
    cell = page.locator(f'.day[data-day="{day.isoformat()}"]')
    chip = cell.locator(".post-scheduled")
    expect(chip).to_be_visible()
    expect(chip).to_contain_text("10:00")
    posts = api.posts(account["id"])
    assert len(posts) == 1 and posts[0]["templateId"] is not None
    post_id = posts[0]["id"]
    page.screenshot(path=str(screenshots / "calendar-month.png"), full_page=True)

    target = day + timedelta(days=1)
    if page.locator(f'.day[data-day="{target.isoformat()}"]').count() == 0:
        target = day - timedelta(days=1)
    chip.drag_to(page.locator(f'.day[data-day="{target.isoformat()}"]'))
    moved = page.locator(f'.day[data-day="{target.isoformat()}"] [data-post-id="{post_id}"]')
    expect(moved).to_be_visible()
    after = next(p for p in api.posts(account["id"]) if p["id"] == post_id)
    when = datetime.fromisoformat(after["scheduledFor"]).astimezone(ZoneInfo(TZ))
    assert (when.date(), when.hour, when.minute) == (target, 10, 0)

    page.locator("#view-week").click()
    page.screenshot(path=str(screenshots / "calendar-week.png"), full_page=True)
    page.locator("#view-month").click()

    # --- publish now from the post's dialog; it turns published with a permalink
    page.locator(f'[data-post-id="{post_id}"]').click()
    page.locator("#post-publish-now").click()
    published = page.locator(f'.post-published[data-post-id="{post_id}"]')
    expect(published).to_be_visible(timeout=30_000)
    published.click()
    link = page.locator("#post-permalink")
    expect(link).to_have_attribute("href", re.compile(r"^https?://"))
    metrics = re.compile(r"\d+ likes? · \d+ comments? · ")  # "1 like" is singular
    expect(page.locator("#post-metrics")).to_contain_text(metrics)
    expect(page.locator(".dialog")).not_to_contain_text("null")
    expect(page.locator(".dialog")).not_to_contain_text("undefined")
    page.screenshot(path=str(screenshots / "post-published.png"))
    page.keyboard.press("Escape")

    # --- a post whose publishing Meta refuses shows the reason
    page.get_by_role("link", name="Compose").click()
    page.locator("#media-picker label", has_text="summer-launch.jpg").click()
    page.locator("#composer-caption").fill("<script>window.__xss = 1</script> sale #fail")
    page.locator("#composer-when").fill(f"{day.isoformat()}T15:30")
    page.locator("#composer-submit").click()
    failing = page.locator(f'.day[data-day="{day.isoformat()}"] .post-scheduled')
    expect(failing).to_contain_text("15:30")
    failing_id = next(p["id"] for p in api.posts(account["id"]) if p["id"] != post_id)
    fault = httpx.post(
        f"{live_server.url}/sandbox/_control/faults",
        json={
            "igUserId": account["igUserId"],
            "endpoint": "media",
            "count": 1,
            "error": {
                "code": 36003,
                "subcode": 2207009,
                "message": "The submitted image with aspect ratio ('1:3') cannot be published.",
            },
        },
    )
    assert fault.status_code == 201, fault.text
    failing.click()
    expect(page.locator("#post-caption")).to_have_text(
        "<script>window.__xss = 1</script> sale #fail"
    )
    page.locator("#post-publish-now").click()
    failed = page.locator(f'.post-failed[data-post-id="{failing_id}"]')
    expect(failed).to_be_visible(timeout=30_000)
    failed.click()
    error = page.locator(".dialog .notice-error")
    expect(error).to_contain_text("aspect ratio")
    expect(page.locator("#post-retry")).to_be_visible()
    # Its history says which Instagram call failed, with Meta's code and trace id.
    history = page.locator("#post-history")
    expect(history).to_have_attribute("open", "")
    refused = history.locator('li[data-kind="graph_call"].event-error').first
    expect(refused).to_contain_text("36003/2207009")
    expect(refused).to_contain_text("fbtrace_id sandbox")
    expect(history.locator('li[data-kind="failed"]')).to_contain_text("aspect ratio")
    page.screenshot(path=str(screenshots / "post-failed.png"))
    assert page.evaluate("window.__xss") is None
    page.keyboard.press("Escape")
    page.screenshot(path=str(screenshots / "calendar-statuses.png"), full_page=True)

    # "Reschedule as a new post" opens the composer with the failed post's content.
    failed.click()
    page.locator("#post-copy").click()
    expect(page.get_by_role("heading", name="Compose a post")).to_be_visible()
    expect(page.locator("#composer-caption")).to_have_value(
        "<script>window.__xss = 1</script> sale #fail"
    )
    expect(page.locator("#selected-media li")).to_have_count(1)
    page.go_back()

    # Retry in place: the same post gets a new attempt and is published (the fault was used up).
    failed.click()
    page.locator("#post-retry").click()
    retried = page.locator(f'.post-published[data-post-id="{failing_id}"]')
    expect(retried).to_be_visible(timeout=30_000)
    statuses = sorted(p["status"] for p in api.posts(account["id"]))
    assert statuses == ["published", "published"]
    retried.click()
    page.locator("#post-history summary").click()
    kinds = page.locator("#post-history li").evaluate_all("els => els.map(e => e.dataset.kind)")
    assert kinds.index("failed") < kinds.index("retried") < kinds.index("published")
    page.screenshot(path=str(screenshots / "post-history.png"))
    page.keyboard.press("Escape")

    # The template counts its use (updated with the post, by the posts API).
    page.get_by_role("link", name="Templates").click()
    expect(page.locator(".template-card", has_text="Launch")).to_contain_text("used 1 time")
    page.screenshot(path=str(screenshots / "templates.png"), full_page=True)

    api.close()
    assert session.errors == []
