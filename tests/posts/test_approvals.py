"""Drafts and approvals (issue 20 item 2): every transition, who and when, the roles that may
act, the expiry sweep and its alert, the post.needs_approval webhook event, quotas that ignore
drafts, and that a post not approved is never queued nor published."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.observability.alerts import AlertSender
from instasched.observability.events import Events
from instasched.posts import approvals
from instasched.worker.queue import PublishQueue, job_id_for
from tests.automation.conftest import new_webhook, wait_deliveries
from tests.factories import Api, User
from tests.ops.webhook import WebhookReceiver
from tests.posts.conftest import BASE, Poster, iso, later


@dataclass
class Team:
    """The owner's workspace (the poster's personal one) with an editor, an approver and a
    viewer, made with SQL as the members endpoints are built elsewhere."""

    owner: Poster
    editor: User
    approver: User
    viewer: User

    @property
    def workspace_id(self) -> str:
        return str(self.owner.user.id)

    def headers(self, user: User) -> dict[str, str]:
        return {**user.headers, "X-Workspace-Id": self.workspace_id}

    async def call(self, user: User, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.owner.http.request(method, BASE + path, headers=self.headers(user), **kw)

    async def create(self, user: User, expect: int = 201, **overrides: Any) -> dict[str, Any]:
        r = await self.call(user, "POST", "/posts", json=await self.owner.body(**overrides))
        assert r.status_code == expect, r.text
        data: dict[str, Any] = r.json()
        return data

    async def history(self, post_id: str) -> list[dict[str, Any]]:
        r = await self.call(self.owner.user, "GET", f"/posts/{post_id}/history")
        assert r.status_code == 200, r.text
        events: list[dict[str, Any]] = r.json()["events"]
        return events


async def _require_approval(db: AsyncSession, workspace_id: uuid.UUID, value: bool) -> None:
    await db.execute(
        text("UPDATE workspaces SET require_approval = :v WHERE id = :id"),
        {"v": value, "id": workspace_id},
    )
    await db.commit()


@pytest.fixture
async def team(poster: Poster, api: Api, db: AsyncSession) -> Team:
    members = {role: await api.user() for role in ("editor", "approver", "viewer")}
    for role, user in members.items():
        await db.execute(
            text("INSERT INTO workspace_members (workspace_id, user_id, role) VALUES (:w, :u, :r)"),
            {"w": poster.user.id, "u": user.id, "r": role},
        )
    await db.commit()
    await _require_approval(db, poster.user.id, True)
    return Team(poster, members["editor"], members["approver"], members["viewer"])


async def _row(db: AsyncSession, post_id: str) -> dict[str, Any]:
    row = (
        (
            await db.execute(
                text("SELECT * FROM instagram_scheduled_posts WHERE id = :id"), {"id": post_id}
            )
        )
        .mappings()
        .one()
    )
    await db.rollback()
    return dict(row)


async def _has_job(queue: PublishQueue, post_id: str) -> bool:
    return bool(await queue.existing([job_id_for(uuid.UUID(post_id))]))


def _soon() -> str:
    """Inside the dispatch horizon (1 h): a scheduled post gets its job at once."""
    return later(minutes=30)


# --- drafts ---------------------------------------------------------------------------------
async def test_a_draft_needs_no_time_is_never_queued_and_is_listed_as_draft(
    poster: Poster, queue: PublishQueue, db: AsyncSession
) -> None:
    draft = await poster.create(draft=True, scheduledFor=None)
    assert draft["status"] == "draft" and draft["scheduledFor"] is None
    assert draft["approval"] == {
        "required": False, "submittedBy": None, "submittedAt": None,
        "decidedBy": None, "decidedAt": None, "comment": None,
    }  # fmt: skip
    timed = await poster.create(draft=True, scheduledFor=_soon())
    assert timed["status"] == "draft" and timed["scheduledFor"] is not None
    assert not await _has_job(queue, timed["id"])

    r = await poster.get(f"/posts/{poster.account.id}", params={"status": "draft"})
    assert r.status_code == 200, r.text
    listed = r.json()
    assert {p["id"] for p in listed["posts"]} == {draft["id"], timed["id"]}
    assert listed["total"] == 2
    scheduled = await poster.get(f"/posts/{poster.account.id}", params={"status": "scheduled"})
    assert scheduled.json()["total"] == 0  # drafts are not counted among the scheduled

    # Edited as a draft (it stays one), with its history saying so.
    r = await poster.put(f"/posts/{draft['id']}", json={"caption": "Second try"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "draft" and r.json()["caption"] == "Second try"
    r = await poster.get(f"/posts/{draft['id']}/history")
    kinds = [(e["kind"], e["summary"]) for e in r.json()["events"]]
    assert kinds[0] == ("created", "Created as a draft") and kinds[1][0] == "edited"
    # A draft is not published now (that is for scheduled posts); it is discarded by a cancel.
    r = await poster.post(f"/posts/{draft['id']}/publish-now")
    assert r.status_code == 409 and r.json()["detail"]["status"] == "draft"
    r = await poster.delete(f"/posts/{draft['id']}")
    assert r.status_code == 200 and r.json()["post"]["status"] == "cancelled", r.text
    r = await poster.get(f"/posts/{poster.account.id}", params={"status": "draft"})
    assert [p["id"] for p in r.json()["posts"]] == [timed["id"]]


async def test_drafts_do_not_use_the_publishing_quota(poster: Poster, db: AsyncSession) -> None:
    await db.execute(
        text("UPDATE instagram_accounts SET publishing_quota = 1 WHERE id = :id"),
        {"id": poster.account.id},
    )
    await db.commit()
    when = later(days=2)
    await poster.create(scheduledFor=when)
    for _ in range(3):  # as many drafts at that time as one likes
        draft = await poster.create(draft=True, scheduledFor=when)
        assert draft["quotaWarning"] is None
    over = await poster.create(expect=422, scheduledFor=when)
    assert "publishes at most 1 per 24 hours" in over["message"]
    # Submitting a draft into the full window is refused as a new post would be.
    r = await poster.post(f"/posts/{draft['id']}/submit")
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["quota"] == 1


async def test_submit_needs_a_future_time(poster: Poster, queue: PublishQueue) -> None:
    draft = await poster.create(draft=True, scheduledFor=None)
    r = await poster.post(f"/posts/{draft['id']}/submit")
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == "scheduledFor"
    assert "no time yet" in r.json()["message"]
    r = await poster.post(
        f"/posts/{draft['id']}/submit", json={"scheduledFor": iso(datetime.now(UTC))}
    )
    assert r.status_code == 422 and "at least 5 minutes" in r.json()["message"]
    # The owner's own submission is scheduled at once (no approval needed here), and queued.
    when = _soon()
    r = await poster.post(f"/posts/{draft['id']}/submit", json={"scheduledFor": when})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "scheduled" and r.json()["approval"]["required"] is False
    assert await _has_job(queue, draft["id"])
    r = await poster.post(f"/posts/{draft['id']}/submit")
    assert r.status_code == 409 and r.json()["detail"]["status"] == "scheduled"


async def test_any_post_is_duplicated_into_a_draft(poster: Poster) -> None:
    source = await poster.create()
    r = await poster.post(f"/posts/{source['id']}/duplicate", json={})
    assert r.status_code == 201, r.text
    copy = r.json()
    assert copy["status"] == "draft" and copy["scheduledFor"] is None
    assert copy["caption"] == source["caption"] and copy["mediaIds"] == source["mediaIds"]


# --- approvals ------------------------------------------------------------------------------
async def test_an_editors_post_waits_for_approval_then_is_scheduled_and_queued(
    team: Team, queue: PublishQueue
) -> None:
    post = await team.create(team.editor, scheduledFor=_soon())
    assert post["status"] == "needs_approval"
    approval = post["approval"]
    assert approval["required"] is True and approval["submittedBy"] == str(team.editor.id)
    assert approval["submittedAt"] is not None and approval["decidedBy"] is None
    assert not await _has_job(queue, post["id"])

    # Neither the editor nor a viewer may approve: 403 naming the roles that may.
    for user in (team.editor, team.viewer):
        r = await team.call(user, "POST", f"/posts/{post['id']}/approve")
        assert r.status_code == 403, r.text
        assert r.json()["detail"]["requiredRoles"] == ["owner", "approver"]
    r = await team.call(team.approver, "POST", f"/posts/{post['id']}/approve", json={})
    assert r.status_code == 200, r.text
    approved = r.json()
    assert approved["status"] == "scheduled"
    assert approved["approval"]["decidedBy"] == str(team.approver.id)
    assert approved["approval"]["decidedAt"] is not None
    assert await _has_job(queue, post["id"])
    events = await team.history(post["id"])
    assert [(e["kind"], e["actorUserId"]) for e in events[1:]] == [
        ("submitted", str(team.editor.id)),
        ("approved", str(team.approver.id)),
    ]
    r = await team.call(team.approver, "POST", f"/posts/{post['id']}/approve")
    assert r.status_code == 409 and r.json()["detail"]["status"] == "scheduled"


async def test_the_owner_and_approver_schedule_their_own_posts_directly(team: Team) -> None:
    for user in (team.owner.user, team.approver):
        # An approver may not create posts (writes are owner and editor): 403.
        r = await team.call(user, "POST", "/posts", json=await team.owner.body())
        if user is team.approver:
            assert r.status_code == 403 and "editor" in r.json()["detail"]["requiredRoles"]
        else:
            assert r.status_code == 201 and r.json()["status"] == "scheduled", r.text


async def test_sent_back_with_a_comment_then_edited_and_submitted_again(
    team: Team, db: AsyncSession
) -> None:
    post = await team.create(team.editor)
    path = f"/posts/{post['id']}"
    r = await team.call(team.approver, "POST", f"{path}/reject", json={"comment": "   "})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "comment"
    r = await team.call(team.approver, "POST", f"{path}/reject", json={})
    assert r.status_code == 422, r.text
    r = await team.call(team.editor, "POST", f"{path}/reject", json={"comment": "no"})
    assert r.status_code == 403 and r.json()["detail"]["requiredRoles"] == ["owner", "approver"]
    r = await team.call(
        team.approver, "POST", f"{path}/reject", json={"comment": "Use the red photo"}
    )
    assert r.status_code == 200, r.text
    back = r.json()
    assert back["status"] == "changes_requested"
    assert back["approval"]["comment"] == "Use the red photo"
    assert back["approval"]["decidedBy"] == str(team.approver.id)

    r = await team.call(team.editor, "PUT", path, json={"caption": "Red photo now"})
    assert r.status_code == 200 and r.json()["status"] == "changes_requested", r.text
    r = await team.call(team.editor, "POST", f"{path}/submit")
    assert r.status_code == 200, r.text
    again = r.json()
    assert again["status"] == "needs_approval"
    assert again["approval"]["comment"] is None and again["approval"]["decidedBy"] is None
    # A viewer may not submit (owner and editor).
    r = await team.call(team.viewer, "POST", f"{path}/submit")
    assert r.status_code == 403
    events = await team.history(post["id"])
    kinds = [e["kind"] for e in events]
    assert kinds == ["created", "submitted", "changes_requested", "edited", "submitted"]
    sent_back = events[2]
    assert sent_back["detail"]["comment"] == "Use the red photo"
    assert sent_back["summary"] == "Sent back for changes: Use the red photo"
    assert sent_back["actorUserId"] == str(team.approver.id)
    row = await _row(db, post["id"])
    assert row["approval_submitted_by"] == team.editor.id


async def test_an_editors_change_to_a_scheduled_post_sends_it_back(
    team: Team, queue: PublishQueue, db: AsyncSession
) -> None:
    post = await team.create(team.owner.user, scheduledFor=_soon())
    assert post["status"] == "scheduled" and await _has_job(queue, post["id"])
    r = await team.call(team.editor, "PUT", f"/posts/{post['id']}", json={"caption": "Edited"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "needs_approval"
    assert r.json()["approval"]["submittedBy"] == str(team.editor.id)
    assert not await _has_job(queue, post["id"])  # its publish job was dropped
    # Without the workspace rule an editor's change keeps it scheduled.
    other = await team.create(team.owner.user, scheduledFor=_soon())
    await _require_approval(db, team.owner.user.id, False)
    r = await team.call(team.editor, "PUT", f"/posts/{other['id']}", json={"caption": "Fine"})
    assert r.status_code == 200 and r.json()["status"] == "scheduled", r.text
    created = await team.create(team.editor)
    assert created["status"] == "scheduled"


async def test_another_workspaces_post_answers_404(team: Team, api: Api) -> None:
    post = await team.create(team.editor)
    stranger = await api.user()
    r = await team.owner.http.post(f"{BASE}/posts/{post['id']}/approve", headers=stranger.headers)
    assert r.status_code == 404, r.text


# --- expiry ---------------------------------------------------------------------------------
async def test_a_post_unapproved_at_its_time_expires_with_an_alert_and_is_never_published(
    team: Team, db: AsyncSession, no_worker: None
) -> None:
    waiting = await team.create(team.editor)
    sent_back = await team.create(team.editor)
    r = await team.call(
        team.approver, "POST", f"/posts/{sent_back['id']}/reject", json={"comment": "Fix"}
    )
    assert r.status_code == 200, r.text
    ids = [waiting["id"], sent_back["id"]]
    past = datetime.now(UTC) - timedelta(seconds=5)
    await db.execute(
        text("UPDATE instagram_scheduled_posts SET scheduled_for = :t WHERE id = ANY(:ids)"),
        {"t": past, "ids": [uuid.UUID(i) for i in ids]},
    )
    await db.commit()
    with WebhookReceiver() as hook:
        alerts = AlertSender(hook.url)
        alerts.start()
        try:
            expired = await approvals.expire_due(db, events=Events(alerts))
        finally:
            await alerts.stop()
        assert expired >= 2
        alerts_seen = [e for e in hook.events if e.get("event") == "post.approval_expired"]
    assert {e["postId"] for e in alerts_seen} >= set(ids)
    ours = next(e for e in alerts_seen if e["postId"] == waiting["id"])
    assert "not approved" in ours["message"] and ours["status"] == "needs_approval"
    for post_id in ids:
        row = await _row(db, post_id)
        assert row["status"] == "approval_expired" and row["published_at"] is None
        events = await team.history(post_id)
        assert events[-1]["kind"] == "approval_expired"
        assert events[-1]["summary"] == "Not published: it was not approved before its time"
    assert await approvals.expire_due(db, events=Events(AlertSender(None))) == 0

    # Approved later, only with a new future time; then it is scheduled.
    path = f"/posts/{waiting['id']}/approve"
    r = await team.call(team.approver, "POST", path, json={})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "scheduledFor"
    r = await team.call(team.approver, "POST", path, json={"scheduledFor": _soon()})
    assert r.status_code == 200 and r.json()["status"] == "scheduled", r.text


async def test_a_post_awaiting_approval_is_never_published_even_with_a_job(
    team: Team, db: AsyncSession, queue: PublishQueue, worker: Any
) -> None:
    post = await team.create(team.editor, scheduledFor=_soon())
    due = datetime.now(UTC) - timedelta(seconds=1)
    await db.execute(
        text("UPDATE instagram_scheduled_posts SET scheduled_for = :t WHERE id = :id"),
        {"t": due, "id": uuid.UUID(post["id"])},
    )
    await db.commit()
    # A publish job for it anyway (as a stale or hand-made one would be): the worker's claim
    # takes only scheduled posts, so it publishes nothing.
    await queue.schedule(uuid.UUID(post["id"]), due)
    deadline = time.monotonic() + 10
    while await _has_job(queue, post["id"]) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not await _has_job(queue, post["id"])  # the worker took the job and dropped it
    row = await _row(db, post["id"])
    assert row["status"] in ("needs_approval", "approval_expired")
    assert row["published_at"] is None and row["instagram_media_id"] is None
    assert row["publish_attempts"] == 0
    r = await team.owner.http.get(
        "/sandbox/_control/media", params={"igUserId": team.owner.account.ig_user_id}
    )
    assert r.status_code == 200 and r.json()["media"] == []


# --- webhooks -------------------------------------------------------------------------------
async def test_post_needs_approval_webhook_on_create_and_on_edit(team: Team) -> None:
    http = team.owner.http
    with WebhookReceiver() as hook:
        created = await new_webhook(http, team.owner.user, hook.url, ["post.needs_approval"])
        post = await team.create(team.editor)  # INSERT straight into needs_approval
        scheduled = await team.create(team.owner.user)  # scheduled: no such event
        r = await team.call(
            team.editor, "PUT", f"/posts/{scheduled['id']}", json={"caption": "Changed"}
        )
        assert r.status_code == 200 and r.json()["status"] == "needs_approval", r.text
        draft = await team.create(team.editor, draft=True)  # a draft: none
        log = await wait_deliveries(
            http, team.owner.user, created["id"], lambda found: len(found) >= 2
        )
    assert draft["status"] == "draft"
    assert sorted(d["body"]["data"]["postId"] for d in log) == sorted([post["id"], scheduled["id"]])
    for delivery in log:
        assert delivery["event"] == "post.needs_approval"
        assert delivery["body"]["data"]["status"] == "needs_approval"


def test_an_idempotency_fingerprint_of_a_non_draft_is_what_it_was_before_drafts() -> None:
    """A replay of a create sent before drafts existed must still match its stored fingerprint:
    `draft: false` (the default) is not part of it."""
    import hashlib

    import orjson

    from instasched.posts.idempotency import fingerprint
    from instasched.posts.schemas import PostCreate

    raw = {"instagramAccountId": str(uuid.uuid4()), "mediaType": "IMAGE", "caption": "x"}
    body = PostCreate.model_validate(raw)
    before = body.model_dump(mode="json")
    before.pop("draft")
    assert (
        fingerprint(body)
        == hashlib.sha256(orjson.dumps(before, option=orjson.OPT_SORT_KEYS)).hexdigest()
    )
    assert fingerprint(PostCreate.model_validate({**raw, "draft": True})) != fingerprint(body)


async def test_an_editors_csv_import_waits_for_approval_and_an_owners_is_scheduled(
    team: Team, queue: PublishQueue, db: AsyncSession
) -> None:
    """The CSV import follows the rule of POST /posts: an editor's rows wait for an approver
    (no job, `post.needs_approval`), the owner's are scheduled."""
    owner = team.owner
    image = await owner.image()
    data = (
        "account,time,caption,media\n"
        f"{owner.account.username},{_soon()},From the editor's file,{image.id}\n"
    ).encode()

    async def commit(user: User) -> dict[str, Any]:
        r = await team.call(
            user, "POST", "/import", params={"dryRun": "false"},
            files={"file": ("posts.csv", data, "text/csv")},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        report: dict[str, Any] = r.json()
        assert report["committed"] is True and report["created"] == 1, report
        return report

    row = (await commit(team.editor))["rows"][0]
    assert row["status"] == "needs_approval"
    stored = await _row(db, row["postId"])
    assert stored["status"] == "needs_approval"
    assert stored["approval_submitted_by"] == team.editor.id
    assert not await _has_job(queue, row["postId"])
    assert (await team.history(row["postId"]))[0]["kind"] == "created"

    r = await team.call(team.viewer, "POST", "/import", params={"dryRun": "false"},
                        files={"file": ("posts.csv", data, "text/csv")})  # fmt: skip
    assert r.status_code == 403 and r.json()["detail"]["requiredRoles"] == ["owner", "editor"]

    row = (await commit(owner.user))["rows"][0]
    assert row["status"] == "scheduled"
    assert (await _row(db, row["postId"]))["status"] == "scheduled"
    assert await _has_job(queue, row["postId"])
