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


def test_web_routes_do_not_shadow_the_api(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        index = client.get("/")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in index.headers["content-security-policy"]
        assert '<meta name="instasched-sandbox" content="true">' in index.text
        script = client.get("/static/js/app.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
        assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
        assert client.get("/static/nope.js").status_code == 404
        assert client.get("/static/../__init__.py").status_code == 404
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/openapi.json").json()["info"]["title"] == "instasched"
        assert client.get("/docs").status_code == 200
        me = client.get("/api/auth/me")
        assert me.status_code == 401 and me.json()["error"] == "unauthorized"
        assert client.get("/metrics").status_code in (200, 401, 403)
        sandbox_user = client.post("/sandbox/_control/users", json={"username": "smoke_web"})
        assert sandbox_user.status_code == 201
        paths = client.get("/openapi.json").json()["paths"]
        assert "/" not in paths and not any(p.startswith("/static") for p in paths)
