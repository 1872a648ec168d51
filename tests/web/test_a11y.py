"""Issue 22, accessibility: axe-core finds no serious or critical violation on any view, in
light and dark mode (prefers-color-scheme); a keyboard-only journey composes, schedules and
reschedules a post; at phone width every action stays reachable."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.web.a11y import run_axe
from tests.web.helpers import (
    ApiClient,
    Session,
    connect_sandbox_account,
    jpeg,
    sign_up,
    upload_image,
)

TZ = "Europe/Berlin"
SCHED = "/api/instagram/scheduling"


def _at(days: int, hour: int, minute: int = 0) -> str:
    d = (datetime.now(ZoneInfo(TZ)) + timedelta(days=days)).date()
    return f"{d.isoformat()}T{hour:02d}:{minute:02d}:00"


def _seed(
    page: Page, live_server: LiveServer, session: Session
) -> tuple[ApiClient, dict[str, Any]]:
    """An account with a posting schedule, an uploaded image and two scheduled posts."""
    connect_sandbox_account(page, timezone=TZ)
    upload_image(page, "a11y.jpg", jpeg(1080, 1350, (30, 140, 90)))
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]
    media = api.http.get(f"{SCHED}/media", params={"accountId": account["id"]}).json()["items"]
    for day in range(7):
        r = api.http.post(
            f"{SCHED}/schedules/{account['id']}",
            json={"dayOfWeek": day, "timeSlots": ["10:00", "18:00"]},
        )
        assert r.status_code == 201, r.text
    for days, hour in ((1, 9), (2, 13)):
        r = api.http.post(
            f"{SCHED}/posts",
            json={
                "instagramAccountId": account["id"],
                "mediaType": "IMAGE",
                "mediaIds": [media[0]["id"]],
                "caption": "Seeded ☀️ #a11y",
                "scheduledFor": _at(days, hour),
            },
        )
        assert r.status_code == 201, r.text
    return api, account


VIEWS = [
    ("calendar-month", "/#/calendar", "#calendar .post"),
    ("calendar-week", "/#/calendar/{day}/week", "#calendar .free-slot"),
    ("calendar-day", "/#/calendar/{day}/day", "#calendar .wk-row"),
    ("compose", "/#/compose", "#media-picker label"),
    ("grid", "/#/grid", "#ig-grid li"),
    ("media", "/#/media", ".media-card"),
    ("best-times", "/#/best-times", "#heatmap"),
    ("templates", "/#/templates", "main h1"),
    ("accounts", "/#/accounts", ".account-card"),
    ("workspace", "/#/workspace", "#ws-members tr"),
]


def _check_views(page: Page, axe_source: str, scheme: str, screenshots: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    day = (datetime.now(ZoneInfo(TZ)) + timedelta(days=1)).date().isoformat()
    for name, url, ready in VIEWS:
        page.goto(url.format(day=day))
        expect(page.locator(ready).first).to_be_visible()
        page.wait_for_load_state("networkidle")
        violations = run_axe(page, axe_source)
        if violations:
            found[f"{name} ({scheme})"] = violations
        page.screenshot(path=str(screenshots / f"a11y-{scheme}-{name}.png"), full_page=True)
    # The post dialog, open over the calendar.
    page.goto("/#/calendar")
    page.locator("#calendar .post").first.click()
    expect(page.locator(".dialog")).to_be_visible()
    violations = run_axe(page, axe_source)
    if violations:
        found[f"post dialog ({scheme})"] = violations
    page.keyboard.press("Escape")
    return found


def test_axe_every_view_light_and_dark(
    page: Page, live_server: LiveServer, axe_source: str, screenshots: Path
) -> None:
    page.emulate_media(color_scheme="light")
    page.goto("/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert run_axe(page, axe_source) == []
    page.emulate_media(color_scheme="dark")
    assert run_axe(page, axe_source) == []
    page.screenshot(path=str(screenshots / "a11y-dark-login.png"))
    page.emulate_media(color_scheme="light")
    session = sign_up(page)
    api, _ = _seed(page, live_server, session)
    found = _check_views(page, axe_source, "light", screenshots)
    page.emulate_media(color_scheme="dark")
    # Dark mode follows the system: the page's own colours change.
    background = page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor")
    assert background == "rgb(18, 17, 24)"  # --bg of the dark palette
    found.update(_check_views(page, axe_source, "dark", screenshots))
    assert found == {}, json.dumps(found, indent=1)
    api.close()
    assert session.errors == []


def _tab_to(page: Page, test: str, limit: int = 250) -> None:
    """Press Tab until `test` (a JS expression on `el`, the focused element) holds."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const el = document.activeElement; return Boolean({test}); }}"):
            return
    raise AssertionError(f"Tab never reached an element where {test}")


def test_keyboard_only_compose_schedule_reschedule(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    session = sign_up(page)
    connect_sandbox_account(page, timezone=TZ)
    upload_image(page, "keys.jpg", jpeg(1080, 1080, (120, 40, 160)))
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]
    for day in range(7):
        r = api.http.post(
            f"{SCHED}/schedules/{account['id']}", json={"dayOfWeek": day, "timeSlots": ["10:00"]}
        )
        assert r.status_code == 201, r.text
    page.goto("/#/calendar")
    expect(page.locator("#calendar")).to_be_visible()
    page.locator("body").focus()

    # Compose: the navigation link, the media, a caption, the next free slot, schedule.
    _tab_to(page, "el.textContent === 'Compose' && el.tagName === 'A'")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Compose a post")).to_be_visible()
    expect(page.locator("#media-picker input")).to_have_count(1)
    _tab_to(page, "el.name === 'composer-media'")
    page.keyboard.press("Space")
    expect(page.locator("#selected-media li")).to_have_count(1)
    _tab_to(page, "el.id === 'composer-caption'")
    page.keyboard.type("Typed with the keyboard ⌨️ #a11y")
    _tab_to(page, "el.id === 'add-to-queue'")
    page.keyboard.press("Enter")
    expect(page.locator("#add-to-queue")).to_have_attribute("aria-pressed", "true")
    _tab_to(page, "el.id === 'composer-submit'")
    page.keyboard.press("Enter")
    chip = page.locator("#calendar .post-scheduled")
    expect(chip).to_have_count(1)
    [post] = api.posts(account["id"])
    assert post["caption"] == "Typed with the keyboard ⌨️ #a11y"
    first = datetime.fromisoformat(post["scheduledFor"])
    assert first.astimezone(ZoneInfo(TZ)).strftime("%H:%M") == "10:00"

    # Reschedule: focus the entry, open it, move the hour up by one, save.
    page.locator("body").focus()
    _tab_to(page, "el.dataset && el.dataset.postId")
    page.keyboard.press("Enter")
    expect(page.locator(".dialog")).to_be_visible()
    _tab_to(page, "el.type === 'datetime-local'")
    for _ in range(3):  # day, month, year, then the hour field
        page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowUp")
    _tab_to(page, "el.textContent === 'Reschedule'")
    page.screenshot(path=str(screenshots / "keyboard-reschedule.png"))
    page.keyboard.press("Enter")
    expect(page.locator("#toast")).to_contain_text("Rescheduled")
    [post] = api.posts(account["id"])
    assert datetime.fromisoformat(post["scheduledFor"]) - first == timedelta(hours=1)
    api.close()
    assert session.errors == []


# (view, control that must be reachable and usable at phone width)
PHONE_ACTIONS = [
    ("/#/calendar", "#view-week"),
    ("/#/calendar", "#view-day"),
    ("/#/calendar", "a.button.primary"),
    ("/#/calendar/{day}/week", ".free-slot"),
    ("/#/compose", "#composer-submit"),
    ("/#/compose", "#composer-publish-now"),
    ("/#/compose", "#add-to-queue"),
    ("/#/grid", '[data-crop="1 / 1"]'),
    ("/#/media", "#bulk-posts"),
    ("/#/best-times", "#apply-optimal"),
    ("/#/accounts", "#create-sandbox-account"),
]


def test_phone_width_keeps_every_action_reachable(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    session = sign_up(page)
    api, _ = _seed(page, live_server, session)
    page.set_viewport_size({"width": 390, "height": 844})
    day = (datetime.now(ZoneInfo(TZ)) + timedelta(days=1)).date().isoformat()
    for url, selector in PHONE_ACTIONS:
        page.goto(url.format(day=day))
        control = page.locator(selector).first
        expect(control).to_be_visible()
        control.scroll_into_view_if_needed()
        expect(control).to_be_in_viewport()
        box = control.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (
            url,
            selector,
            box,
        )
        # Nothing covers it: the element at its centre is the control (or inside it). A toast
        # (shown for 6 s, e.g. the upload's) passes over the toolbar: cleared first, as it goes.
        page.evaluate("() => document.getElementById('toast')?.replaceChildren()")
        covered = page.evaluate(
            """([sel, x, y]) => { const el = document.elementFromPoint(x, y);
                 const target = document.querySelector(sel);
                 return !(el && (el === target || target.contains(el))); }""",
            [selector, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
        )
        assert not covered, (url, selector)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{url} scrolls sideways by {overflow}px at phone width"
    page.goto("/#/grid")
    expect(page.locator("#ig-grid li").first).to_be_visible()
    page.screenshot(path=str(screenshots / "phone-grid.png"), full_page=True)
    page.goto(f"/#/calendar/{day}/day")
    expect(page.locator("#calendar .day-view")).to_be_visible()
    page.screenshot(path=str(screenshots / "phone-calendar-day.png"), full_page=True)
    api.close()
    assert session.errors == []
