"""A post's history (every event, each Graph call with Meta's error code and fbtrace_id), retry
in place of a failed post, and duplicate (issue 20 items 4 and 5)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.factories import User
from tests.publishing.conftest import Publishing

BASE = "/api/instagram/scheduling"


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def history(publishing: Publishing, user: User, post_id: Any) -> dict[str, Any]:
    r = await publishing.http.get(f"{BASE}/posts/{post_id}/history", headers=user.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_failed_post_history_names_the_graph_call_code_and_fbtrace_then_retry_publishes(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    await publishing.fault(
        account.ig_user_id,
        "media_publish",
        count=1,
        error={"code": 10, "subcode": None, "message": "Application does not have permission"},
    )
    post_id = await publishing.post(user, account, "IMAGE", [image])
    failed = await publishing.wait(post_id, "failed")
    assert failed.last_error_code == "10"

    body = await history(publishing, user, post_id)
    assert body["status"] == "failed" and body["lastErrorCode"] == "10"
    kinds = [e["kind"] for e in body["events"]]
    assert kinds[0] == "attempt" and kinds[-1] == "failed"
    calls = [e for e in body["events"] if e["kind"] == "graph_call"]
    made, refused, read = calls
    assert [c["detail"]["endpoint"] for c in calls] == [
        f"{account.ig_user_id}/media",
        f"{account.ig_user_id}/media_publish",
        # A refusal of media_publish reads the container before failing (a worker that lost its
        # lease may have published it: publishing/containers.py _publish_container).
        made["detail"]["result"]["id"],
    ]
    assert read["detail"]["ok"] is True and read["detail"]["result"]["status_code"] == "FINISHED"
    assert made["detail"]["ok"] is True and made["detail"]["result"]["id"]
    assert refused["detail"]["ok"] is False
    assert refused["detail"]["errorCode"] == "10"
    assert refused["detail"]["fbtraceId"].startswith("sandbox")
    assert refused["detail"]["httpStatus"] == 400 or refused["detail"]["httpStatus"] >= 400
    assert "access_token" not in str(body)  # tokens are never recorded
    assert all(c["attempt"] == 1 for c in calls)
    last = body["events"][-1]
    assert last["detail"]["errorCode"] == "10"
    assert last["detail"]["fbtraceId"] == refused["detail"]["fbtraceId"]
    assert "permission" in last["summary"]

    # Retry in place: same id, back to scheduled, a new attempt; this time it publishes.
    r = await publishing.http.post(f"{BASE}/posts/{post_id}/retry", headers=user.headers)
    assert r.status_code == 200, r.text
    retried = r.json()
    assert retried["id"] == str(post_id) and retried["status"] == "scheduled"
    assert retried["publishAttempts"] == 0 and retried["lastPublishError"] is None
    published = await publishing.wait(post_id, "published", timeout=40)
    assert published.id == post_id and published.publish_attempts == 1
    assert len(await publishing.media(account.ig_user_id)) == 1

    body = await history(publishing, user, post_id)
    kinds = [e["kind"] for e in body["events"]]
    retry_at = kinds.index("retried")
    assert kinds[retry_at + 1] == "attempt" and kinds[-1] == "published"
    retry = body["events"][retry_at]
    assert retry["actorUserId"] == str(user.id)
    assert retry["detail"]["previousErrorCode"] == "10"
    # The second attempt reused the stored container: it read its status, then published.
    second = [
        e["detail"]["endpoint"] for e in body["events"][retry_at:] if e["kind"] == "graph_call"
    ]
    assert f"{account.ig_user_id}/media_publish" in second
    assert f"{account.ig_user_id}/media" not in second

    # Published: not retryable (409 with a clear message), but it can be duplicated.
    r = await publishing.http.post(f"{BASE}/posts/{post_id}/retry", headers=user.headers)
    assert r.status_code == 409
    assert "Only failed posts can be retried" in r.json()["message"]
    assert "duplicate" in r.json()["message"]
    when = datetime.now(UTC) + timedelta(days=3)
    r = await publishing.http.post(
        f"{BASE}/posts/{post_id}/duplicate",
        json={"scheduledFor": iso(when)},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    copy = r.json()
    # Duplicated into a draft (issue 20 item 4), at the time given; submitting schedules it.
    assert copy["id"] != str(post_id) and copy["status"] == "draft"
    assert datetime.fromisoformat(copy["scheduledFor"]) == when
    assert copy["caption"] == published.caption and copy["mediaIds"] == [str(image.id)]
    assert copy["publishAttempts"] == 0 and copy["permalink"] is None
    copy_history = await history(publishing, user, copy["id"])
    assert [e["kind"] for e in copy_history["events"]] == ["created"]
    assert copy_history["events"][0]["detail"]["duplicatedFrom"] == str(post_id)
    r = await publishing.http.post(f"{BASE}/posts/{copy['id']}/submit", headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "scheduled"


async def test_retry_refuses_a_post_whose_account_needs_reconnecting(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    await publishing.fault(
        account.ig_user_id,
        "media",
        count=1,
        error={"code": 190, "subcode": None, "message": "Error validating access token"},
    )
    # Due, but not queued: failed with the first one once the token is known to be revoked.
    other_id = await publishing.post(
        user, account, "IMAGE", [image], due=datetime.now(UTC) - timedelta(seconds=1),
        enqueue=False,
    )  # fmt: skip
    post_id = await publishing.post(user, account, "IMAGE", [image])
    await publishing.wait(post_id, "failed")
    await publishing.wait(other_id, "failed")
    other = await history(publishing, user, other_id)
    # Usually failed with the first one (no attempt of its own); when the reconciler queued it
    # first, its own attempt fails at once on the account's flag, with the same code.
    assert other["events"][-1]["kind"] == "failed"
    assert other["events"][-1]["detail"]["errorCode"] == "190"
    assert "Reconnect the account" in other["events"][-1]["summary"]
    r = await publishing.http.post(f"{BASE}/posts/{post_id}/retry", json={}, headers=user.headers)
    assert r.status_code == 409, r.text
    assert "reconnect the account" in r.json()["message"]
    assert (await publishing.get(post_id)).status == "failed"


async def test_retry_at_a_given_time_is_checked_like_an_edit(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    wide = await publishing.image(user, 2000, 800)  # refused by Meta: fails at once
    post_id = await publishing.post(user, account, "IMAGE", [wide])
    await publishing.wait(post_id, "failed")
    too_soon = iso(datetime.now(UTC) + timedelta(seconds=30))
    r = await publishing.http.post(
        f"{BASE}/posts/{post_id}/retry", json={"scheduledFor": too_soon}, headers=user.headers
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "scheduledFor"
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    r = await publishing.http.post(
        f"{BASE}/posts/{post_id}/retry", json={"scheduledFor": iso(when)}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["scheduledFor"]) == when
    assert r.json()["metadata"]["manualRetries"] == 1
    # Another user's post is a 404 for history, retry and duplicate alike.
    stranger = await publishing.api.user()
    for method, path in (
        ("GET", "history"),
        ("POST", "retry"),
        ("POST", "duplicate"),
    ):
        r = await publishing.http.request(
            method,
            f"{BASE}/posts/{post_id}/{path}",
            headers=stranger.headers,
            json={"scheduledFor": iso(when)} if method == "POST" else None,
        )
        assert r.status_code == 404, (path, r.text)
    r = await publishing.http.get(f"{BASE}/posts/{uuid.uuid4()}/history", headers=user.headers)
    assert r.status_code == 404
