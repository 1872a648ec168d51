"""Helpers for the browser tests: sign up through the UI, read state through the public API."""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image
from playwright.sync_api import Page, expect


@dataclass
class Session:
    email: str
    password: str
    errors: list[str] = field(default_factory=list)


def watch_errors(page: Page) -> list[str]:
    """Collect uncaught page errors and console errors (except failed resource loads)."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))

    def on_console(msg: Any) -> None:
        if msg.type == "error" and "Failed to load resource" not in msg.text:
            errors.append(f"console: {msg.text}")

    page.on("console", on_console)
    return errors


def sign_up(page: Page) -> Session:
    session = Session(
        email=f"web-{secrets.token_hex(5)}@example.com", password="pw-" + secrets.token_hex(12)
    )
    session.errors = watch_errors(page)
    page.goto("/")
    page.get_by_role("button", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label("Email").fill(session.email)
    page.get_by_label("Password").fill(session.password)
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("#logout")).to_be_visible()
    return session


def connect_sandbox_account(
    page: Page,
    username: str | None = None,
    timezone: str = "Europe/Berlin",
    login: str = "instagram",
) -> str:
    """A sandbox account made in the Accounts view; `login="facebook"`: connected with
    Facebook Login (a Page's token), which collaborators and product tags need."""
    username = username or f"web_{secrets.token_hex(4)}"
    page.goto("/#/accounts")
    page.locator("#sandbox-username").fill(username)
    page.locator("#sandbox-timezone").select_option(timezone)
    page.locator("#sandbox-login").select_option(login)
    page.locator("#create-sandbox-account").click()
    expect(page.locator(".account-card", has_text=f"@{username}")).to_be_visible()
    expect(page.locator("#account-picker")).to_contain_text(f"@{username}")
    return username


def jpeg(
    width: int = 1080, height: int = 1080, color: tuple[int, int, int] = (200, 80, 140)
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def upload_image(page: Page, name: str, data: bytes, mime: str = "image/jpeg") -> None:
    """Upload a file through the media view (an image by default; give `mime` for a video)."""
    page.goto("/#/media")
    page.locator("#media-file-input").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )
    expect(page.locator(".media-card", has_text=name)).to_be_visible(timeout=20_000)


class ApiClient:
    """The public API as the same user, to check what the UI did (a second login)."""

    def __init__(self, base_url: str, session: Session) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        r = self.http.post(
            "/api/auth/login", json={"email": session.email, "password": session.password}
        )
        r.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {r.json()['accessToken']}"

    def accounts(self) -> list[dict[str, Any]]:
        r = self.http.get("/api/instagram/accounts")
        r.raise_for_status()
        data: list[dict[str, Any]] = r.json()
        return data

    def posts(self, account_id: str) -> list[dict[str, Any]]:
        r = self.http.get(f"/api/instagram/scheduling/posts/{account_id}", params={"limit": 100})
        r.raise_for_status()
        data: list[dict[str, Any]] = r.json()["posts"]
        return data

    def close(self) -> None:
        self.http.close()
