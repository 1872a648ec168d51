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
