"""Drafts and approvals on screen (issue 22 item 3): the composer's "Save as draft", the drafts
panel whose drafts are dragged onto the calendar (which sets the time and submits them), the
approval queue with approve and send back with a comment, the comment in the post dialog, the
status badges; axe on each view (0 serious or critical), screenshots."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from playwright.sync_api import Page, expect

from instasched.config import plain_database_url
from tests.conftest import LiveServer
from tests.web.a11y import run_axe
from tests.web.helpers import ApiClient, connect_sandbox_account, jpeg, sign_up, upload_image
from tests.web.test_quota_insights import SCHED, TZ, media_id, run

COMMENT = "Please use the red sweater photo"


def _editor_of(live_server: LiveServer, owner_id: str) -> dict[str, str]:
    """Another user, an editor of the owner's workspace, which now requires approval (members
    are made with SQL here: the members endpoints are built elsewhere). Its request headers."""
    email = f"editor-{secrets.token_hex(5)}@example.com"
    password = "pw-" + secrets.token_hex(12)
    r = httpx.post(
        f"{live_server.url}/api/auth/register", json={"email": email, "password": password}
    )
    assert r.status_code == 201, r.text
    editor_id = r.json()["id"]
    r = httpx.post(f"{live_server.url}/api/auth/login", json={"email": email, "password": password})
    token = r.json()["accessToken"]

    async def join() -> None:
        conn = await asyncpg.connect(
            plain_database_url(live_server.settings.require_database_url())
        )
        try:
            await conn.execute(
                "INSERT INTO workspace_members (workspace_id, user_id, role)"
                " VALUES ($1, $2, 'editor')",
                owner_id,
                editor_id,
            )
            await conn.execute(
                "UPDATE workspaces SET require_approval = true WHERE id = $1", owner_id
            )
        finally:
            await conn.close()

    run(join())
    return {"Authorization": f"Bearer {token}", "X-Workspace-Id": owner_id}


def _axe(page: Page, axe_source: str, name: str, screenshots: Path) -> None:
    page.wait_for_load_state("networkidle")
    assert run_axe(page, axe_source) == [], name
    page.screenshot(path=str(screenshots / f"approvals-{name}.png"), full_page=True)


def test_drafts_panel_drag_and_the_approval_queue(
    page: Page, live_server: LiveServer, axe_source: str, screenshots: Path
) -> None:
    session = sign_up(page)
    api = ApiClient(live_server.url, session)
    connect_sandbox_account(page, timezone=TZ)
    [account] = api.accounts()
    upload_image(page, "approve.jpg", jpeg(1080, 1080, (180, 40, 60)))
    image = media_id(api, "approve.jpg")
    owner_id = api.http.get("/api/auth/me").json()["id"]
    editor = _editor_of(live_server, owner_id)
    tomorrow = datetime.now(ZoneInfo(TZ)) + timedelta(days=1)
    day = tomorrow.date().isoformat()
    waiting: list[dict[str, Any]] = []
    for hour, caption in ((10, "Autumn launch #knit"), (11, "Behind the scenes #studio")):
        r = httpx.post(
            f"{live_server.url}{SCHED}/posts",
            headers=editor,
            json={
                "instagramAccountId": account["id"],
                "mediaType": "IMAGE",
                "mediaIds": [image],
                "caption": caption,
                "scheduledFor": tomorrow.replace(hour=hour, minute=0).isoformat(),
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "needs_approval"
        waiting.append(r.json())

    # --- composer: a draft without a time
    page.goto("/#/compose")
    page.locator("#media-picker label", has_text="approve.jpg").click()
    page.locator("#composer-caption").fill("A draft for later #idea")
    page.locator("#composer-when").fill("")
    expect(page.locator("#composer-submit")).to_have_text("Schedule post")  # the owner
    page.locator("#composer-draft").click()
    expect(page.locator("#toast")).to_contain_text("Draft saved")
    card = page.locator("#drafts-panel .draft-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("no time yet")
    [draft] = [p for p in api.posts(account["id"]) if p["status"] == "draft"]
    assert draft["scheduledFor"] is None and draft["caption"] == "A draft for later #idea"
    _axe(page, axe_source, "calendar-drafts-panel", screenshots)

    # --- drag the draft onto tomorrow: it gets that day (at 09:00) and is scheduled
    page.goto(f"/#/calendar/{day}/month")
    expect(page.locator("#drafts-panel .draft-card")).to_have_count(1)
    page.locator("#drafts-panel .draft-card").drag_to(page.locator(f'.day[data-day="{day}"]'))
    expect(page.locator("#toast")).to_contain_text("Scheduled for")
    expect(page.locator("#draft-list")).to_contain_text("No drafts")
    placed = next(p for p in api.posts(account["id"]) if p["id"] == draft["id"])
    assert placed["status"] == "scheduled"
    at = datetime.fromisoformat(placed["scheduledFor"]).astimezone(ZoneInfo(TZ))
    assert (at.date().isoformat(), at.hour, at.minute) == (day, 9, 0)
    # The editor's posts are on the calendar with their badge.
    expect(page.locator(f'.day[data-day="{day}"] .post-needs_approval')).to_have_count(2)

    # --- the approval queue
    page.get_by_role("link", name="Approvals").click()
    queue = page.locator("#approval-queue .approval-card")
    expect(queue).to_have_count(2)
    expect(queue.first).to_contain_text("Submitted by a team member")
    _axe(page, axe_source, "queue", screenshots)
    first, second = waiting
    page.locator(f"#approve-{first['id']}").click()
    expect(page.locator("#toast")).to_contain_text("Approved: scheduled for")
    # The queue is drawn again after an approval: wait for it, so that the comment typed below
    # goes into the field that is on the page then (seen under load: typed into the old one).
    expect(queue).to_have_count(1)
    page.locator(f"#reject-{second['id']}").click()  # no comment: refused on the page
    expect(page.locator("#toast")).to_contain_text("comment is required")
    page.locator(f"#reject-comment-{second['id']}").fill(COMMENT)
    page.locator(f"#reject-{second['id']}").click()
    expect(page.locator("#toast")).to_contain_text("Sent back for changes")
    expect(page.locator("#approval-queue")).to_contain_text("Nothing waits for approval")
    expect(page.locator("#approval-others")).to_contain_text(COMMENT)
    statuses = {p["id"]: p["status"] for p in api.posts(account["id"])}
    assert statuses[first["id"]] == "scheduled"
    assert statuses[second["id"]] == "changes_requested"

    # --- the post dialog shows the comment; the author can submit it again from there
    page.goto(f"/#/calendar/{day}/month")
    page.locator(f'[data-post-id="{second["id"]}"]').click()
    expect(page.locator("#post-status")).to_have_text("Changes requested")
    expect(page.locator("#post-approval-comment")).to_contain_text(COMMENT)
    expect(page.locator("#post-submit")).to_be_visible()
    _axe(page, axe_source, "dialog-changes-requested", screenshots)
    page.emulate_media(color_scheme="dark")
    _axe(page, axe_source, "dialog-changes-requested-dark", screenshots)
    page.keyboard.press("Escape")
    page.emulate_media(color_scheme="light")
    api.close()
    assert session.errors == []
