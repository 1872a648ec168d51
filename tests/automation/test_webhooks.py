"""User webhooks (issue 21): subscriptions, events written with the change (triggers), signed
deliveries to a real local HTTP server, retries with backoff, the delivery log, a test event,
the SSRF guard, and publishing that never waits for a target."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from instasched.config import Settings
from instasched.exceptions import Invalid
from instasched.kit.ssrf import check_public_url, is_public_address
from instasched.models import WebhookDelivery
from tests.automation.conftest import HOOKS, deliveries, new_webhook, wait_deliveries
from tests.factories import Api
from tests.foundation.conftest import client_of, second_app
from tests.ops.webhook import WebhookReceiver
from tests.publishing.conftest import Publishing


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """The verification snippet of docs/webhooks.md, as a receiver would run it."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


# --- SSRF ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
    ],
)
async def test_private_loopback_and_link_local_targets_are_refused(url: str) -> None:
    with pytest.raises(Invalid) as refused:
        await check_public_url(url, False)
    assert "private, loopback or link-local" in refused.value.message
    assert await check_public_url(url, True)  # allowed when configured (tests, a LAN)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "http:///nohost", "http://u:p@8.8.8.8/"]
)
async def test_only_plain_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(Invalid):
        await check_public_url(url, True)


def test_public_addresses() -> None:
    assert is_public_address(ipaddress.ip_address("8.8.8.8"))
    assert is_public_address(ipaddress.ip_address("2606:4700::1111"))
    assert not is_public_address(ipaddress.ip_address("::ffff:127.0.0.1"))


async def test_the_api_refuses_private_targets_unless_configured(
    api: Api, app_settings: Settings
) -> None:
    user = await api.user()
    settings = app_settings.model_copy(update={"webhook_allow_private_targets": False})
    async with second_app(settings) as app, client_of(app) as client:
        for url in ("http://127.0.0.1:9/hook", "http://169.254.169.254/", "gopher://x.org/"):
            r = await client.post(
                HOOKS, json={"url": url, "events": ["post.failed"]}, headers=user.headers
            )
            assert r.status_code == 422, r.text
            assert r.json()["detail"][0]["field"] == "url"
        assert (await client.get(HOOKS, headers=user.headers)).json() == []


# --- subscriptions ---------------------------------------------------------------------------
async def test_subscriptions_are_the_users_own(api: Api, http: httpx.AsyncClient) -> None:
    user, stranger = await api.user(), await api.user()
    created = await new_webhook(http, user, "http://127.0.0.1:9/hook", ["post.failed"])
    assert created["secret"].startswith("whsec_") and created["active"] is True
    listed = (await http.get(HOOKS, headers=user.headers)).json()
    assert [w["id"] for w in listed] == [created["id"]] and "secret" not in listed[0]
    one = f"{HOOKS}/{created['id']}"
    for method in ("GET", "PATCH", "DELETE"):
        body = {"active": False} if method == "PATCH" else None
        r = await http.request(method, one, json=body, headers=stranger.headers)
        assert r.status_code == 404, (method, r.text)
    r = await http.post(f"{one}/test", headers=stranger.headers)
    assert r.status_code == 404
    r = await http.patch(
        one,
        json={"events": ["post.published", "post.published"], "active": False},
        headers=user.headers,
    )
    assert r.status_code == 200 and r.json()["events"] == ["post.published"]
    assert r.json()["active"] is False
    r = await http.patch(one, json={"events": ["post.deleted"]}, headers=user.headers)
    assert r.status_code == 422
    assert (await http.delete(one, headers=user.headers)).status_code == 204
    assert (await http.get(one, headers=user.headers)).status_code == 404


async def test_a_test_event_is_signed_and_logged(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    with WebhookReceiver() as hook:
        created = await new_webhook(http, user, hook.url, ["post.published"])
        r = await http.post(f"{HOOKS}/{created['id']}/test", headers=user.headers)
        assert r.status_code == 200, r.text
        sent = r.json()
        assert sent["status"] == "delivered" and sent["responseCode"] == 204
        assert sent["event"] == "webhook.test" and sent["latencyMs"] >= 0
        [(headers, body)] = hook.requests
    assert verify(created["secret"], headers["x-instasched-signature"], body)
    assert not verify("whsec_wrong", headers["x-instasched-signature"], body)
    assert not verify(created["secret"], headers["x-instasched-signature"], body + b" ")
    assert headers["x-instasched-event"] == "webhook.test"
    assert headers["x-instasched-delivery"] == sent["id"] == json.loads(body)["id"]
    assert json.loads(body) == sent["body"]
    assert json.loads(body)["data"]["webhookId"] == created["id"]
    [logged] = await deliveries(http, user, created["id"])
    assert logged["id"] == sent["id"] and logged["log"][0]["responseCode"] == 204

    # A target that is down: the test answers the failure (not a 5xx of ours) and logs it.
    r = await http.post(f"{HOOKS}/{created['id']}/test", headers=user.headers)
    assert r.status_code == 200 and r.json()["status"] == "failed"
    assert r.json()["responseCode"] is None and r.json()["error"]


# --- events from publishing ------------------------------------------------------------------
async def test_scheduled_and_published_events_with_permalink(
    api: Api, http: httpx.AsyncClient, publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    with WebhookReceiver() as hook:
        created = await new_webhook(
            http, user, hook.url, ["post.scheduled", "post.published", "post.failed"]
        )
        # Another user's subscription gets none of this user's events.
        other = await api.user()
        await new_webhook(http, other, hook.url, ["post.scheduled", "post.published"])
        post_id = await publishing.post(user, account, "IMAGE", [image])
        post = await publishing.wait(post_id, "published")
        log = await wait_deliveries(
            http,
            user,
            created["id"],
            lambda found: sum(d["status"] == "delivered" for d in found) == 2,
        )
    by_event = {d["event"]: d for d in log}
    assert set(by_event) == {"post.scheduled", "post.published"}
    published = by_event["post.published"]["body"]["data"]
    assert published["postId"] == str(post_id) and published["status"] == "published"
    assert published["permalink"] == post.permalink and post.permalink
    assert published["instagramMediaId"] == post.instagram_media_id
    assert by_event["post.scheduled"]["body"]["data"]["status"] == "scheduled"
    for delivery in log:
        assert delivery["attempts"] == 1 and delivery["responseCode"] == 204
        assert delivery["latencyMs"] is not None and delivery["deliveredAt"] is not None
    assert sorted(e["type"] for e in hook.events) == ["post.published", "post.scheduled"]
    for headers, body in hook.requests:
        assert verify(created["secret"], headers["x-instasched-signature"], body)


async def test_a_retry_is_no_new_scheduling_and_failures_carry_the_reason(
    http: httpx.AsyncClient, publishing: Publishing, worker: Any
) -> None:
    """A transient error puts the post back to `scheduled` (a retry): no post.scheduled event.
    The final failure's event carries the message the user sees."""
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    with WebhookReceiver() as hook:
        created = await new_webhook(http, user, hook.url, ["post.scheduled", "post.failed"])
        await publishing.fault(
            account.ig_user_id,
            "media",
            count=3,
            error={"code": 1, "subcode": None, "message": "An unknown error occurred"},
        )
        post_id = await publishing.post(user, account, "IMAGE", [image])
        post = await publishing.wait(post_id, "failed", timeout=30)
        log = await wait_deliveries(
            http,
            user,
            created["id"],
            lambda found: any(d["event"] == "post.failed" and d["status"] == "delivered"
                              for d in found),
        )  # fmt: skip
    assert post.publish_attempts == 3
    assert sorted(d["event"] for d in log) == ["post.failed", "post.scheduled"]
    failed = next(d for d in log if d["event"] == "post.failed")["body"]["data"]
    assert failed["reason"] == post.last_publish_error and "after 3 attempts" in failed["reason"]
    assert failed["errorCode"] == "1"


async def test_account_needs_reauth_event(
    http: httpx.AsyncClient, publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    with WebhookReceiver() as hook:
        created = await new_webhook(http, user, hook.url, ["account.needs_reauth"])
        r = await http.post(f"/sandbox/_control/users/{account.ig_user_id}/revoke")
        assert r.status_code == 200, r.text
        post_id = await publishing.post(user, account, "IMAGE", [image])
        await publishing.wait(post_id, "failed")
        [sent] = await wait_deliveries(
            # the attempt is counted when the worker takes the delivery, its status written after
            http,
            user,
            created["id"],
            lambda found: bool(found) and found[0]["status"] != "pending",
        )
    assert sent["event"] == "account.needs_reauth" and sent["status"] == "delivered"
    data = sent["body"]["data"]
    assert data["accountId"] == str(account.id) and data["username"] == account.username


async def test_failed_deliveries_are_retried_with_backoff(
    http: httpx.AsyncClient, publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    with WebhookReceiver(fail_first=2) as hook:
        created = await new_webhook(http, user, hook.url, ["post.published"])
        post_id = await publishing.post(user, account, "IMAGE", [image])
        await publishing.wait(post_id, "published")
        [sent] = await wait_deliveries(
            http,
            user,
            created["id"],
            lambda found: found[:1] != [] and found[0]["status"] == "delivered",
        )
    assert sent["attempts"] == 3
    assert [a["responseCode"] for a in sent["log"]] == [503, 503, 204]
    assert sent["log"][0]["error"] == "HTTP 503 (Service Unavailable)"
    first, second, third = (datetime.fromisoformat(a["at"]) for a in sent["log"])
    base = publishing.settings.webhook_retry_base_seconds
    assert (second - first).total_seconds() >= base * 0.95  # base x 4^0
    assert (third - second).total_seconds() >= base * 4 * 0.95  # base x 4^1
    assert len(hook.events) == 1 and hook.events[0]["id"] == sent["id"]


async def test_a_delivery_gives_up_after_the_last_attempt(
    http: httpx.AsyncClient, publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    with WebhookReceiver(fail_first=1000) as hook:
        created = await new_webhook(http, user, hook.url, ["post.scheduled"])
        # Held back until its attempts are nearly used up, so the test need not wait them out.
        async with publishing.sessions() as session:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.subscription_id == uuid.UUID(created["id"]))
                .values(next_attempt_at=datetime.now(UTC) + timedelta(days=1))
            )
            await session.commit()
        await publishing.post(
            user, account, "IMAGE", [image], due=datetime.now(UTC) + timedelta(days=1),
            enqueue=False,
        )  # fmt: skip
        max_attempts = publishing.settings.webhook_max_attempts
        async with publishing.sessions() as session:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.subscription_id == uuid.UUID(created["id"]))
                .values(attempts=max_attempts - 1, next_attempt_at=datetime.now(UTC))
            )
            await session.commit()
        [sent] = await wait_deliveries(
            http,
            user,
            created["id"],
            lambda found: found[:1] != [] and found[0]["status"] == "failed",
        )
    assert sent["attempts"] == max_attempts and sent["responseCode"] == 503
    assert sent["nextAttemptAt"] is None and sent["deliveredAt"] is None
    # The last attempt was made, and no more: the worker may also have tried once between the
    # post's commit and the update that used the attempts up.
    assert hook.attempts in (1, 2)
    assert [d["id"] for d in await deliveries(http, user, created["id"], status="failed")] == [
        sent["id"]
    ]


async def test_publishing_never_waits_for_a_hanging_target(
    http: httpx.AsyncClient, publishing: Publishing, worker: Any
) -> None:
    """While the target holds every delivery without answering, posts still publish."""
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    with WebhookReceiver(hold=True) as hook:
        created = await new_webhook(http, user, hook.url, ["post.published"])
        first = await publishing.post(user, account, "IMAGE", [image])
        await publishing.wait(first, "published")
        deadline = time.monotonic() + 30
        while hook.attempts == 0 and time.monotonic() < deadline:
            await _sleep()
        assert hook.attempts == 1  # the first event's delivery is in flight, unanswered
        second = await publishing.post(user, account, "IMAGE", [image])
        await publishing.wait(second, "published")
        # Both events wait on the target (in flight or due), unanswered.
        log = await deliveries(http, user, created["id"])
        assert [d["status"] for d in log] == ["pending", "pending"]
        assert not hook.release.is_set()
        hook.release.set()


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.05)


async def test_paused_webhooks_get_no_events(
    http: httpx.AsyncClient, publishing: Publishing
) -> None:
    user, account = await publishing.user_account()
    image = await publishing.image(user)
    created = await new_webhook(
        http, user, f"http://127.0.0.1:9/{secrets.token_hex(4)}", ["post.scheduled"]
    )
    r = await http.patch(f"{HOOKS}/{created['id']}", json={"active": False}, headers=user.headers)
    assert r.status_code == 200
    await publishing.post(
        user, account, "IMAGE", [image], due=datetime.now(UTC) + timedelta(days=1), enqueue=False
    )
    assert await deliveries(http, user, created["id"]) == []


async def test_a_webhook_deleted_during_its_test_event_answers_404(
    api: Api, http: httpx.AsyncClient
) -> None:
    import asyncio

    user = await api.user()
    with WebhookReceiver(hold=True) as hook:
        created = await new_webhook(http, user, hook.url, ["post.failed"])
        sending = asyncio.create_task(
            http.post(f"{HOOKS}/{created['id']}/test", headers=user.headers)
        )
        deadline = time.monotonic() + 30
        while hook.attempts == 0 and time.monotonic() < deadline:
            await _sleep()
        r = await http.delete(f"{HOOKS}/{created['id']}", headers=user.headers)
        assert r.status_code == 204
        hook.release.set()
        r = await sending
    assert r.status_code == 404, r.text
    assert r.json()["message"] == "Webhook not found"
