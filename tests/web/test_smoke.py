"""The browser starts, the app shell loads with no console error, and the routes stay intact."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.conftest import LiveServer


def test_browser_version(browser: Browser) -> None:
    version = browser.version
    print(f"chromium {version}")
    assert version.split(".")[0].isdigit()


def test_login_page_loads_without_errors(page: Page) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto("/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_label("Email")).to_be_focused()
    assert errors == []
