"""Workspaces in the browser (issue 20): create one, invite by link, join it from the link,
switch workspaces (every API call then names the workspace), and what a viewer is offered."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.conftest import LiveServer
from tests.web.a11y import run_axe
from tests.web.helpers import ApiClient, Session, connect_sandbox_account, sign_up, watch_errors


def _register(base_url: str) -> Session:
    session = Session(
        email=f"invited-{secrets.token_hex(5)}@example.com", password="pw-" + secrets.token_hex(12)
    )
    r = httpx.post(
        f"{base_url}/api/auth/register",
        json={"email": session.email, "password": session.password},
    )
    assert r.status_code == 201, r.text
    return session


def test_invite_join_switch_and_roles(
    page: Page,
    browser: Browser,
    browser_context_args: dict[str, Any],
    live_server: LiveServer,
    axe_source: str,
    screenshots: Path,
) -> None:
    owner = sign_up(page)
    connect_sandbox_account(page)  # in the personal workspace
    page.goto("/#/workspace")
    expect(page.get_by_role("heading", name="Personal workspace")).to_be_visible()
    page.locator("#new-ws-name").fill("Brand team")
    page.locator("#new-ws-create").click()
    expect(page.get_by_role("heading", name="Brand team")).to_be_visible()
    expect(page.locator("#workspace-picker option:checked")).to_have_text("Brand team (owner)")
    api = ApiClient(live_server.url, owner)
    team = next(w for w in api.http.get("/api/workspaces").json() if not w["personal"])

    # Every API call now names the workspace: the team has no account yet.
    sent: list[str | None] = []
    page.on(
        "request",
        lambda r: (
            sent.append(r.headers.get("x-workspace-id"))
            if r.url.endswith("/api/instagram/accounts")
            else None
        ),
    )
    page.goto("/#/accounts")
    expect(page.locator(".account-card")).to_have_count(0)
    assert sent and set(sent) == {team["id"]}

    # Require approval, then invite a viewer.
    page.goto("/#/workspace")
    page.locator("#ws-require-approval").check()
    page.locator("#ws-save").click()
    expect(page.locator("#toast")).to_contain_text("saved")
    assert api.http.get(f"/api/workspaces/{team['id']}").json()["requireApproval"] is True
    invited = _register(live_server.url)
    page.locator("#invite-email").fill(invited.email)
    page.locator("#invite-role").select_option("viewer")
    page.locator("#invite-send").click()
    link = page.locator("#invite-link")
    expect(link).to_have_value(
        re.compile(re.escape(f"{live_server.url}/#invitation=") + r"[\w-]{40,}$")
    )
    url = link.input_value()
    expect(page.locator("#ws-invitations")).to_contain_text(invited.email)
    expect(page.locator("#ws-invitations")).to_contain_text("pending")
    page.wait_for_load_state("networkidle")
    assert run_axe(page, axe_source) == []
    page.screenshot(path=str(screenshots / "workspace-owner.png"), full_page=True)

    # The invited person opens the link in their own browser, logs in and joins.
    context = browser.new_context(**{**browser_context_args, "base_url": live_server.url})
    guest = context.new_page()
    errors = watch_errors(guest)
    guest.goto(url)
    expect(guest.get_by_role("heading", name="Log in")).to_be_visible()
    expect(guest.locator(".auth-status")).to_contain_text("invited to a workspace")
    assert "invitation=" not in guest.url
    guest.get_by_label("Email").fill(invited.email)
    guest.get_by_label("Password").fill(invited.password)
    guest.get_by_role("button", name="Log in").click()
    expect(guest.get_by_role("heading", name="Join a workspace")).to_be_visible()
    guest.wait_for_load_state("networkidle")
    assert run_axe(guest, axe_source) == []
    guest.screenshot(path=str(screenshots / "workspace-accept.png"), full_page=True)
    guest.locator("#accept-invitation").click()
    expect(guest.locator("#toast")).to_contain_text("You joined Brand team as viewer")
    expect(guest.locator("#workspace-picker option:checked")).to_have_text("Brand team (viewer)")
    # A viewer is not offered writing: no Compose in the navigation, no connect or disconnect.
    expect(guest.get_by_role("navigation", name="Main")).not_to_contain_text("Compose")
    guest.goto("/#/accounts")
    expect(guest.locator(".notice")).to_contain_text("Only the workspace's owners")
    expect(guest.get_by_role("button", name="Connect with Instagram")).to_have_count(0)
    guest.goto("/#/compose")
    expect(guest.locator("main .notice")).to_contain_text("viewer")
    guest.goto("/#/workspace")
    expect(guest.locator("#ws-role")).to_have_text("Your role: viewer")
    expect(guest.locator("#ws-require-approval")).to_be_disabled()
    expect(guest.locator("#ws-invitations")).to_have_count(0)
    expect(guest.locator("#ws-members")).to_contain_text(owner.email)
    guest.wait_for_load_state("networkidle")
    assert run_axe(guest, axe_source) == []
    guest.screenshot(path=str(screenshots / "workspace-viewer.png"), full_page=True)
    assert errors == []

    # The owner sees the new member, makes them an editor; back in the personal workspace
    # the account connected there is listed again.
    page.goto("/#/calendar")
    page.goto("/#/workspace")
    row = page.locator("#ws-members tr", has_text=invited.email)
    expect(row).to_contain_text(invited.email)
    row.locator("select").select_option("editor")
    expect(page.locator("#toast")).to_contain_text("is now editor")
    members = api.http.get(f"/api/workspaces/{team['id']}/members").json()
    assert {m["email"]: m["role"] for m in members}[invited.email] == "editor"
    personal = page.locator("#workspace-picker option", has_text="Personal").get_attribute("value")
    page.locator("#workspace-picker").select_option(personal)
    page.goto("/#/accounts")
    expect(page.locator(".account-card")).to_have_count(1)
    # The choice is remembered: after a reload and a new login, the personal one is open.
    page.locator("#workspace-picker").select_option(team["id"])
    page.reload()
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(owner.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#workspace-picker option:checked")).to_have_text("Brand team (owner)")
    api.close()
    context.close()
    assert owner.errors == []
