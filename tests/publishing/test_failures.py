"""Retries with growing delays, permanent errors, uncertain publishes, quota, revoked tokens."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.publishing.conftest import Publishing


async def test_transient_failures_then_success_publishes_once(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    await publishing.fault(
        account.ig_user_id,
        "media_publish",
        count=2,
        error={"code": 2, "subcode": None, "message": "Service temporarily unavailable"},
    )
    post_id = await publishing.post(user, account, "IMAGE", [image])
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published", post.last_publish_error
    assert post.publish_attempts == 3
    media = await publishing.media(account.ig_user_id)
    assert [m["id"] for m in media] == [post.instagram_media_id]
    # The container made on the first attempt was reused (FINISHED → publish).
    assert media[0]["containerId"] == post.container_id
    attempts = (post.meta or {})["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert [a.get("error") for a in attempts] == ["2", "2", None]
    starts = [datetime.fromisoformat(a["startedAt"]) for a in attempts]
    ends = [datetime.fromisoformat(a["endedAt"]) for a in attempts]
    first_wait = starts[1] - ends[0]
    second_wait = starts[2] - ends[1]
    base = timedelta(seconds=publishing.settings.publish_retry_base_seconds)
    assert first_wait >= base * 0.95  # base × 2^0
    assert second_wait >= base * 2 * 0.95  # base × 2^1
    assert second_wait > first_wait


async def test_transient_errors_use_up_three_attempts_then_fail(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    await publishing.fault(
        account.ig_user_id,
        "media",
        count=3,
        error={"code": 1, "subcode": None, "message": "An unknown error occurred"},
    )
    post_id = await publishing.post(user, account, "IMAGE", [image])
    post = await publishing.wait(post_id, "failed", timeout=30)
    assert post.publish_attempts == 3
    assert post.last_error_code == "1"
    assert post.last_publish_error is not None
    assert "after 3 attempts" in post.last_publish_error
    assert "temporary problem" in post.last_publish_error
    assert post.failed_at is not None
    assert await publishing.media(account.ig_user_id) == []


async def test_permanent_error_fails_after_one_attempt(publishing: Publishing, worker: Any) -> None:
    user, account = await publishing.user_account()
    wide = await publishing.image(user, 2000, 800)  # 2.5:1, outside 0.8..1.91
    post_id = await publishing.post(user, account, "IMAGE", [wide])
    post = await publishing.wait(post_id, "failed")
    assert post.publish_attempts == 1
    assert post.last_error_code == "36003/2207009"
    message = post.last_publish_error or ""
    assert "aspect ratio" in message and "4:5" in message
    assert await publishing.media(account.ig_user_id) == []


async def test_timeout_after_publish_took_effect_is_not_repeated(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    await publishing.fault(account.ig_user_id, "media_publish", timeoutAfterEffect=True)
    post_id = await publishing.post(user, account, "IMAGE", [image], caption="Only once")
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published", post.last_publish_error
    media = await publishing.media(account.ig_user_id)
    assert len(media) == 1
    assert post.instagram_media_id == media[0]["id"]
    assert post.permalink == media[0]["permalink"]
    assert (post.meta or {}).get("uncertainPublishResolved") == "transport"


async def test_quota_reached_reschedules_without_using_an_attempt(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    r = await publishing.http.put(
        "/sandbox/_control/quota", json={"igUserId": account.ig_user_id, "quotaTotal": 1}
    )
    assert r.status_code == 200, r.text
    image = await publishing.image(user)
    first = await publishing.post(user, account, "IMAGE", [image])
    published = await publishing.wait(first, "published", "failed")
    assert published.status == "published"
    second = await publishing.post(user, account, "IMAGE", [image])
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while True:
        post = await publishing.get(second)
        if post.last_error_code or datetime.now(UTC) > deadline:
            break
        await asyncio.sleep(0.1)
    assert post.status == "scheduled"
    assert post.last_error_code == "9/2207042"
    assert post.publish_attempts == 0
    assert post.next_attempt_at is not None and published.published_at is not None
    # The window frees 24 h after the publication that fills it.
    expected = published.published_at + timedelta(hours=24)
    assert abs((post.next_attempt_at - expected).total_seconds()) < 2
    assert "publishing limit" in (post.last_publish_error or "")
    assert len(await publishing.media(account.ig_user_id)) == 1
    # The limit read then is what later placements of the account's posts are checked against.
    row = await publishing.account_row(account.id)
    assert row.publishing_quota == 1 and row.publishing_quota_read_at is not None
    # The same job waits in the delayed set (moved there right after the row was written).
    for _ in range(50):
        state = await publishing.queue.job_state(second)
        if state == "delayed":
            break
        await asyncio.sleep(0.1)
    assert state == "delayed"


async def test_quota_error_from_meta_reschedules(publishing: Publishing, worker: Any) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    await publishing.fault(
        account.ig_user_id,
        "media_publish",
        error={"code": 9, "subcode": 2207042, "message": "Application request limit reached"},
    )
    post_id = await publishing.post(user, account, "IMAGE", [image])
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while True:
        post = await publishing.get(post_id)
        if post.last_error_code or datetime.now(UTC) > deadline:
            break
        await asyncio.sleep(0.1)
    assert post.status == "scheduled" and post.publish_attempts == 0
    assert post.next_attempt_at is not None
    # Meta says usage < total (the sandbox window is empty): soon; else 24 h after ours.
    assert post.next_attempt_at > datetime.now(UTC) - timedelta(seconds=5)


async def test_quota_error_while_the_limit_has_room_waits_doubling_delays(
    publishing: Publishing, worker: Any
) -> None:
    """Meta answers 9/2207042 but its limit says there is room: each wait doubles (from
    PUBLISH_RETRY_BASE_SECONDS, 0.2 s here), no attempt is used, and the waits are counted."""
    from instasched.observability.metrics import REGISTRY

    def waits_counted() -> float:
        labels = {"reason": "limit_has_room"}
        return REGISTRY.get_sample_value("instasched_publish_quota_waits_total", labels) or 0.0

    before = waits_counted()
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    await publishing.fault(
        account.ig_user_id,
        "media_publish",
        count=4,
        error={"code": 9, "subcode": 2207042, "message": "Application request limit reached"},
    )
    post_id = await publishing.post(user, account, "IMAGE", [image])
    post = await publishing.wait(post_id, "published", "failed", timeout=30)
    assert post.status == "published", post.last_publish_error
    assert post.publish_attempts == 1
    meta = post.meta or {}
    assert meta["quotaWaits"] == 4
    notes = meta["attempts"]
    assert [n.get("error") for n in notes] == ["9/2207042"] * 4 + [None]
    gaps = [
        (
            datetime.fromisoformat(b["startedAt"]) - datetime.fromisoformat(a["endedAt"])
        ).total_seconds()
        for a, b in itertools.pairwise(notes)
    ]
    # 0.2, 0.4, 0.8, 1.6 s (plus the job's start); before, every wait was 1 s.
    assert gaps[0] < 0.7 and gaps[-1] >= 1.5, gaps
    assert all(later > earlier for earlier, later in itertools.pairwise(gaps)), gaps
    assert (await publishing.calls(account.ig_user_id))["media_publish"] == 5
    assert len(await publishing.media(account.ig_user_id)) == 1
    assert waits_counted() == before + 4


async def test_revoked_token_marks_account_and_fails_due_posts(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    r = await publishing.http.post(f"/sandbox/_control/users/{account.ig_user_id}/revoke")
    assert r.status_code == 200, r.text
    now = datetime.now(UTC)
    # Two posts due at once (one not enqueued) and a later one. The worker's reconciler may
    # enqueue the second before the first is taken, so either may be the one that gets the 190;
    # the other is failed by that 190 without an attempt of its own (or, taken concurrently by
    # the other worker process, gets its own 190).
    second = await publishing.post(user, account, "IMAGE", [image], due=now, enqueue=False)
    later = await publishing.post(
        user, account, "IMAGE", [image], due=now + timedelta(days=1), enqueue=False
    )
    first = await publishing.post(user, account, "IMAGE", [image], due=now)
    posts = [await publishing.wait(first, "failed"), await publishing.wait(second, "failed")]
    for post in posts:
        assert post.last_error_code == "190"
        assert "Reconnect" in (post.last_publish_error or "")
        assert f"@{account.username}" in (post.last_publish_error or "")
    assert sorted(p.publish_attempts for p in posts) in ([0, 1], [1, 1])
    assert (await publishing.get(later)).status == "scheduled"
    row = await publishing.account_row(account.id)
    assert row.needs_reauth is True
    r = await publishing.http.get(f"/api/instagram/accounts/{account.id}", headers=user.headers)
    if r.status_code == 200:
        assert r.json().get("needsReauth") is True


async def test_first_comment_failure_does_not_unpublish(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    await publishing.fault(
        account.ig_user_id,
        "comments",
        error={"code": 100, "subcode": None, "message": "Comments are turned off"},
    )
    post_id = await publishing.post(user, account, "IMAGE", [image], first_comment="hello")
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published"
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while "firstCommentError" not in (post.meta or {}) and datetime.now(UTC) < deadline:
        await asyncio.sleep(0.1)
        post = await publishing.get(post_id)
    assert "Comments are turned off" in (post.meta or {})["firstCommentError"]
    assert post.first_comment_id is None
    assert len(await publishing.media(account.ig_user_id)) == 1


async def test_deleted_media_fails_with_a_clear_message(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    post_id = await publishing.post(user, account, "IMAGE", [image])
    await publishing.wait(post_id, "published", "failed")
    from instasched.models import MediaAsset

    async with publishing.sessions() as session:
        row = await session.get(MediaAsset, image.id)
        await session.delete(row)
        await session.commit()
    post_id = await publishing.post(user, account, "IMAGE", [image])
    post = await publishing.wait(post_id, "failed")
    assert post.publish_attempts == 1
    assert f"Media file {image.id} of this post no longer exists" in (post.last_publish_error or "")


async def test_container_in_error_is_replaced_by_a_new_one(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    video = await publishing.video(user)
    await publishing.fault(
        account.ig_user_id, "media", containerError="Video processing failed (sandbox)"
    )
    post_id = await publishing.post(user, account, "REELS", [video])
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published", post.last_publish_error
    assert post.publish_attempts == 2
    attempts = (post.meta or {})["attempts"]
    assert [a.get("error") for a in attempts] == ["container_error", None]
    media = await publishing.media(account.ig_user_id)
    assert [m["containerId"] for m in media] == [post.container_id]
