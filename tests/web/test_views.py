"""The other views in the browser: media library refusals, best times and the queue, session
handling, escaping, phone width and labels."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.web.helpers import ApiClient, connect_sandbox_account, jpeg, sign_up, upload_image

UNLABELLED_CONTROLS = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter((el) => el.offsetParent !== null || el.type === 'file')
  .filter((el) => {
    if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
    if (el.labels && el.labels.length) return false;
    if (el.tagName === 'BUTTON' && el.textContent.trim()) return false;
    return true;
  })
  .map((el) => el.outerHTML.slice(0, 120))"""


DROP_A_JPEG = """async (name) => {
  const canvas = document.createElement('canvas');
  canvas.width = 1080;
  canvas.height = 1080;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#2a7';
  ctx.fillRect(0, 0, 1080, 1080);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9));
  const data = new DataTransfer();
  data.items.add(new File([blob], name, { type: 'image/jpeg' }));
  const zone = document.getElementById('dropzone');
  for (const type of ['dragenter', 'dragover', 'drop']) {
    const init = { dataTransfer: data, bubbles: true, cancelable: true };
    zone.dispatchEvent(new DragEvent(type, init));
  }
}"""


def test_media_library_uploads_refusals_and_in_use(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    session = sign_up(page)
    connect_sandbox_account(page)
    page.goto("/#/media")
    # Several files at once (one is HTML named .jpg): each gets its own progress row.
    page.locator("#media-file-input").set_input_files(
        files=[
            {"name": "wide.jpg", "mimeType": "image/jpeg", "buffer": jpeg(1600, 400)},
            {"name": "square.jpg", "mimeType": "image/jpeg", "buffer": jpeg(1080, 1080)},
            {
                "name": "<img src=x onerror=alert(1)>.jpg",
                "mimeType": "image/jpeg",
                "buffer": b"<html><script>alert(1)</script></html>",
            },
        ]
    )
    expect(page.locator(".upload")).to_have_count(3)
    refused = page.locator(".upload.failed")
    expect(refused).to_contain_text("<img src=x onerror=alert(1)>.jpg")
    expect(refused.locator(".notice-error")).not_to_be_empty()
    wide = page.locator(".media-card", has_text="wide.jpg")
    expect(wide).to_be_visible(timeout=20_000)
    expect(page.locator(".media-card", has_text="square.jpg")).to_be_visible()
    # A 4:1 image fits no feed post: the badge says so and the reason is one click away.
    expect(wide.locator('[data-use="feed"]')).to_have_class("badge compat compat-no")
    wide.locator("summary").click()
    expect(wide.locator(".reasons li").first).to_contain_text("Feed:")
    page.screenshot(path=str(screenshots / "media-library.png"), full_page=True)

    # A real drop on the drop zone (a DragEvent carrying a JPEG drawn on a canvas).
    page.evaluate(DROP_A_JPEG, "dropped.jpg")
    expect(page.locator(".media-card", has_text="dropped.jpg")).to_be_visible(timeout=20_000)

    # Tags: saved through the media API, then the tag filter asks the server.
    wide.get_by_role("textbox", name="Tags of wide.jpg").fill("banner, #summer")
    wide.get_by_role("button", name="Save tags of wide.jpg").click()
    expect(page.locator("#toast")).to_contain_text("Tags of wide.jpg saved")
    page.locator("#filter-tag").fill("banner")
    expect(page.locator(".media-card")).to_have_count(1)
    expect(page.locator(".media-card")).to_contain_text("wide.jpg")
    page.locator("#filter-tag").fill("")
    expect(page.locator(".media-card")).to_have_count(3)

    # Filter "fits feed" hides the wide image.
    page.locator("#filter-fit").select_option("feed")
    expect(page.locator(".media-card", has_text="wide.jpg")).to_have_count(0)
    page.locator("#filter-fit").select_option("")

    # A scheduled post uses the square image: deleting it is refused with the reason shown.
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]
    square = page.locator(".media-card", has_text="square.jpg")
    asset_id = square.get_attribute("data-media-id")
    r = api.http.post(
        "/api/instagram/scheduling/posts",
        json={
            "instagramAccountId": account["id"],
            "mediaType": "IMAGE",
            "mediaIds": [asset_id],
            "caption": "uses the square",
            "scheduledFor": _in_days(3),
        },
    )
    assert r.status_code == 201, r.text
    square.get_by_role("button", name="Delete square.jpg").click()
    expect(square.locator(".notice-error")).to_contain_text("In use")
    expect(square.locator(".notice-error")).to_contain_text("scheduled or publishing post")
    # The wide one is not used: it goes.
    wide.get_by_role("button", name="Delete wide.jpg").click()
    expect(page.locator(".media-card", has_text="wide.jpg")).to_have_count(0)
    assert page.evaluate("typeof window.alert_called") == "undefined"
    api.close()
    assert session.errors == []


def _in_days(days: int) -> str:
    from datetime import timedelta

    return (datetime.now(ZoneInfo("UTC")) + timedelta(days=days)).strftime("%Y-%m-%dT%H:00:00Z")


def test_best_times_schedule_and_add_to_queue(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    session = sign_up(page)
    connect_sandbox_account(page)
    upload_image(page, "queue.jpg", jpeg(1080, 1080))

    page.get_by_role("link", name="Best times").click()
    heatmap = page.locator("#heatmap")
    expect(heatmap).to_be_visible()
    expect(heatmap.locator("tbody tr")).to_have_count(7)
    expect(heatmap.locator("tbody tr").first.locator("td")).to_have_count(24)
    expect(heatmap.locator("td.top")).to_have_count(5)
    expect(page.locator("#recommendations li")).to_have_count(5)
    expect(page.locator("main")).not_to_contain_text("null")
    expect(heatmap.locator("td.heat-0")).to_have_count(0)  # the fallback basis fills every hour

    # Posting schedule: Monday and Thursday slots, saved through the schedules API.
    page.locator("#slots-1").fill("09:00, 18:30")
    page.locator("#save-1").click()
    expect(
        page.locator('#schedule-editor tr[data-day="1"]').get_by_role(
            "button", name="Remove Monday"
        )
    ).to_be_visible()
    page.locator("#slots-4").fill("12:15")
    page.locator("#save-4").click()
    expect(
        page.locator('#schedule-editor tr[data-day="4"]').get_by_role(
            "button", name="Remove Thursday"
        )
    ).to_be_visible()
    page.screenshot(path=str(screenshots / "best-times.png"), full_page=True)

    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]
    schedules = api.http.get(f"/api/instagram/scheduling/schedules/{account['id']}").json()
    assert sorted((s["dayOfWeek"], tuple(s["timeSlots"])) for s in schedules) == [
        (1, ("09:00", "18:30")),
        (4, ("12:15",)),
    ]
    slot = api.http.get(f"/api/instagram/scheduling/schedules/{account['id']}/next-slot").json()

    # Composer: a best-time chip fills the time; "add to queue" takes the next free slot.
    page.get_by_role("link", name="Compose").click()
    page.locator("#media-picker label", has_text="queue.jpg").click()
    page.locator("#composer-caption").fill("Queued #queue")
    chips = page.locator("#best-time-suggestions button")
    expect(chips).to_have_count(5)
    before = page.locator("#composer-when").input_value()
    chips.first.click()
    assert page.locator("#composer-when").input_value() != before or before
    page.locator("#add-to-queue").click()
    expect(page.locator("#add-to-queue")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#when-info")).to_contain_text("Next free slot")
    page.locator("#composer-submit").click()
    expect(page.locator("#calendar .post-scheduled")).to_have_count(1)
    posts = api.posts(account["id"])
    assert len(posts) == 1
    assert datetime.fromisoformat(posts[0]["scheduledFor"]) == datetime.fromisoformat(
        slot["scheduledFor"]
    )
    api.close()
    assert session.errors == []


def test_token_lives_in_memory_only_and_logout(page: Page) -> None:
    session = sign_up(page)
    storage = page.evaluate(
        "() => [Object.keys(localStorage), sessionStorage.length, document.cookie,"
        " Object.values(localStorage)]"
    )
    # Only the workspace chosen is remembered (an id, not a secret: docs/workspaces.md).
    keys, session_items, cookie, values = storage
    assert keys == ["instasched.workspace"] and session_items == 0 and cookie == ""
    assert [str(uuid.UUID(v)) for v in values] == values
    # A reload forgets the token: log in again.
    page.reload()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Email").fill(session.email)
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".auth-status .notice-error")).to_be_visible()
    page.get_by_label("Password").fill(session.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#logout")).to_be_visible()
    page.locator("#logout").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator(".auth-status")).to_contain_text("logged out")
    assert session.errors == []


def test_user_text_is_shown_as_text(page: Page) -> None:
    session = sign_up(page)
    page.goto("/#/templates")
    page.locator("#new-template").click()
    evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    page.locator("#tpl-name").fill(evil)
    page.locator("#tpl-caption").fill(f"Hi {{{{name}}}} {evil}")
    page.locator("#tpl-save").click()
    card = page.locator(".template-card").first
    expect(card.locator("h3")).to_have_text(evil)
    expect(card.locator("img")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None
    assert session.errors == []


def test_phone_width_keyboard_and_labels(page: Page, screenshots: Path) -> None:
    session = sign_up(page)
    connect_sandbox_account(page)
    upload_image(page, "phone.jpg", jpeg(1080, 1080))
    page.set_viewport_size({"width": 390, "height": 844})
    for view in ("calendar", "compose", "grid", "media", "best-times", "templates", "accounts"):
        page.goto(f"/#/{view}")
        expect(page.locator("main h1")).to_be_visible()
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{view} scrolls sideways by {overflow}px at phone width"
        assert page.evaluate(UNLABELLED_CONTROLS) == [], view
    page.goto("/#/calendar")
    page.screenshot(path=str(screenshots / "phone-calendar.png"), full_page=True)
    page.goto("/#/compose")
    expect(page.locator("#media-picker label", has_text="phone.jpg")).to_be_visible()
    page.screenshot(path=str(screenshots / "phone-composer.png"))

    # Keyboard: the skip link comes first, then the navigation; a focused link shows a ring.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/#/calendar")
    page.locator("body").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => [document.activeElement.textContent,"
        " getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["Calendar", "solid"]
    page.keyboard.press("Enter")
    expect(page.locator("#calendar")).to_be_visible()
    assert session.errors == []
