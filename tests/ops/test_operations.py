from __future__ import annotations

import asyncio
import io
import json
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.logs import JsonFormatter
from instasched.models import ScheduledPost
from instasched.observability.alerts import AlertSender
from instasched.observability.events import Events
from instasched.observability.metrics import REGISTRY
from instasched.observability.redact import RedactingFilter, redact
from tests.factories import Api, jpeg_bytes
from tests.ops.webhook import WebhookReceiver


def sample(text: str, name: str, labels: dict[str, str] | None = None) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in (labels or {}).items()):
                return float(s.value)
    return None


def registry_value(name: str, labels: dict[str, str] | None = None) -> float:
    value = REGISTRY.get_sample_value(name, labels or {})
    return float(value or 0.0)


async def test_metrics_http_latency_and_gauges(api: Api, http: httpx.AsyncClient) -> None:
    user = await api.user()
    before = registry_value(
        "instasched_http_request_duration_seconds_count",
        {"route": "/api/auth/me", "method": "GET", "status": "200"},
    )
    r = await http.get("/api/auth/me", headers=user.headers)
    assert r.status_code == 200
    assert r.headers["x-request-id"]
    r = await http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    after = sample(
        r.text,
        "instasched_http_request_duration_seconds_count",
        {"route": "/api/auth/me", "method": "GET", "status": "200"},
    )
    assert after == before + 1
    # Gauges read at scrape time from Redis and PostgreSQL are present.
    assert sample(r.text, "instasched_queue_jobs", {"state": "delayed"}) is not None
    assert sample(r.text, "instasched_posts", {"status": "scheduled"}) is not None
    assert sample(r.text, "instasched_storage_bytes", {"user_id": "all"}) is not None


async def test_request_id_is_echoed(http: httpx.AsyncClient) -> None:
    r = await http.get("/health", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"


async def test_the_mounted_sandbox_is_not_measured_as_the_api(http: httpx.AsyncClient) -> None:
    """The sandbox stands in for Meta's servers: its calls (3 per published image) get no API
    latency sample, request id or log line."""

    def sandbox_samples() -> float:
        return sum(
            s.value
            for family in REGISTRY.collect()
            for s in family.samples
            if s.name == "instasched_http_request_duration_seconds_count"
            and s.labels.get("route", "").startswith("/sandbox")
        )

    before = sandbox_samples()
    r = await http.post("/sandbox/_control/users", json={"username": f"m{uuid.uuid4().hex[:8]}"})
    assert r.status_code == 201, r.text
    r = await http.get("/sandbox/me", params={"access_token": r.json()["accessToken"]})
    assert r.status_code == 200, r.text
    assert "x-request-id" not in r.headers
    assert sandbox_samples() == before
    # An API request right after is still measured.
    r = await http.get("/health")
    assert r.headers["x-request-id"]


async def test_queue_stats_user_and_admin(
    api: Api, http: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await api.user()
    account = await api.account(user)
    due = datetime.now(UTC) + timedelta(days=3)
    await db.execute(
        insert(ScheduledPost).values(
            id=uuid.uuid4(),
            instagram_account_id=account.id,
            workspace_id=user.id,
            scheduled_for=due,
            caption="hello",
            media_type="IMAGE",
            status="scheduled",
        )
    )
    await db.execute(
        insert(ScheduledPost).values(
            id=uuid.uuid4(),
            instagram_account_id=account.id,
            workspace_id=user.id,
            scheduled_for=due,
            caption="gone",
            media_type="IMAGE",
            status="cancelled",
        )
    )
    await db.commit()
    r = await http.get("/api/instagram/scheduling/queue/stats", headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["counts"]["scheduled"] == 1 and body["counts"]["cancelled"] == 1
    assert [p["instagramAccountId"] for p in body["nextDue"]] == [str(account.id)]
    # Not an admin: the global view does not exist for this user.
    r = await http.get(
        "/api/instagram/scheduling/queue/stats", params={"scope": "global"}, headers=user.headers
    )
    assert r.status_code == 404
    admin = await api.user(email="ops-admin@example.com")
    r = await http.get(
        "/api/instagram/scheduling/queue/stats", params={"scope": "global"}, headers=admin.headers
    )
    assert r.status_code == 200
    body = r.json()
    assert body["scope"] == "global" and body["counts"]["scheduled"] >= 1
    assert set(body["queue"]) >= {"delayed", "waiting", "active", "failed", "completed"}


async def test_alert_webhook_receives_events_with_retry() -> None:
    with WebhookReceiver(fail_first=2) as hook:
        sender = AlertSender(hook.url, attempts=4, base_delay=0.05)
        sender.start()
        events = Events(sender)
        before = registry_value(
            "instasched_alerts_total", {"event": "post.failed", "result": "sent"}
        )
        events.failed(
            post_id="p1",
            account_id="a1",
            media_type="IMAGE",
            attempt=3,
            code="2207009",
            message="aspect ratio",
        )
        events.needs_reauth(account_id="a1", username="shop")
        events.publishing_alert("stuck_posts", count=5, threshold=1, lateSeconds=120)
        deadline = time.monotonic() + 10
        while len(hook.events) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await sender.stop()
    kinds = [e["event"] for e in hook.events]
    assert kinds == ["post.failed", "account.needs_reauth", "publishing.stuck_posts"]
    assert hook.events[0]["postId"] == "p1" and hook.events[0]["errorCode"] == "2207009"
    assert hook.events[2]["count"] == 5 and hook.events[2]["threshold"] == 1
    assert hook.attempts == 5  # two refused deliveries were retried
    after = registry_value("instasched_alerts_total", {"event": "post.failed", "result": "sent"})
    assert after == before + 1


async def test_alert_undeliverable_is_counted_not_raised() -> None:
    with WebhookReceiver(fail_first=100) as hook:
        sender = AlertSender(hook.url, attempts=2, base_delay=0.01)
        sender.start()
        before = registry_value(
            "instasched_alerts_total", {"event": "post.failed", "result": "failed"}
        )
        Events(sender).failed(
            post_id="p", account_id="a", media_type="IMAGE", attempt=1, code="100", message="x"
        )
        deadline = time.monotonic() + 5
        while hook.attempts < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await sender.stop()
    after = registry_value("instasched_alerts_total", {"event": "post.failed", "result": "failed"})
    assert after == before + 1


def test_events_move_their_metrics() -> None:
    events = Events()

    def reschedule() -> None:
        events.rescheduled(
            post_id="p",
            account_id="a",
            media_type="IMAGE",
            code="9/2207042",
            until="later",
            reason="limit_has_room",
            waits=2,
        )

    checks = [
        (
            lambda: events.publish_started(post_id="p", lateness_seconds=0.3),
            "instasched_publish_lateness_seconds_count",
            {},
        ),
        (
            lambda: events.published(
                post_id="p", account_id="a", media_type="REELS", attempt=1, media_id="m"
            ),
            "instasched_publish_outcomes_total",
            {"media_type": "REELS", "result": "published"},
        ),
        (
            lambda: events.retry(
                post_id="p",
                account_id="a",
                media_type="IMAGE",
                attempt=1,
                code="2",
                message="x",
                delay_seconds=1.0,
            ),
            "instasched_publish_retries_total",
            {},
        ),
        (
            reschedule,
            "instasched_publish_outcomes_total",
            {"media_type": "IMAGE", "result": "rescheduled"},
        ),
        (reschedule, "instasched_publish_quota_waits_total", {"reason": "limit_has_room"}),
        (lambda: events.graph_error("190"), "instasched_graph_api_errors_total", {"code": "190"}),
        (
            lambda: events.recovered(post_id="p", kind="expired_lease"),
            "instasched_publish_recoveries_total",
            {"kind": "expired_lease"},
        ),
        (
            lambda: events.token_refresh("refreshed"),
            "instasched_token_refreshes_total",
            {"result": "refreshed"},
        ),
    ]
    for action, name, labels in checks:
        before = registry_value(name, labels)
        action()
        assert registry_value(name, labels) == before + 1, name


def test_redaction_of_known_secret_shapes() -> None:
    line = (
        "GET https://graph.example/v21.0/me?fields=id&access_token=IGSLabcdefghijklmnopqrstuvwx"
        " Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"
        ' {"password": "hunter2hunter2"}'
    )
    out = redact(line)
    assert "IGSLabcdef" not in out and "eyJhbGci" not in out and "hunter2" not in out
    assert out.count("[redacted]") >= 3


async def test_logs_carry_no_tokens(api: Api, http: httpx.AsyncClient) -> None:
    """Capture every log line while tokens flow (login, Graph calls) and look for them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    httpx_logger = logging.getLogger("httpx")
    old_root, old_httpx = root.level, httpx_logger.level
    # Another library's logging.config call in this process may have disabled existing loggers.
    for name in ("instasched", "instasched.http", "httpx"):
        logging.getLogger(name).disabled = False
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    httpx_logger.setLevel(logging.INFO)  # httpx logs full URLs, access_token included
    try:
        user = await api.user()
        account = await api.account(user)
        r = await http.post(
            "/api/instagram/accounts",
            json={"accessToken": "IGSLnot-a-valid-token-0123456789abcdef"},
            headers=user.headers,
        )
        assert r.status_code == 422
        await http.get("/api/auth/me", headers=user.headers)
        # The server thread writes its request line just after the response went out.
        deadline = time.monotonic() + 10
        while '"route": "/api/auth/me"' not in stream.getvalue() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_root)
        httpx_logger.setLevel(old_httpx)
    output = stream.getvalue()
    assert output, "nothing was logged"
    assert account.access_token not in output
    assert user.token not in output
    assert user.password not in output
    assert "IGSLnot-a-valid-token" not in output
    request_lines = [json.loads(x) for x in output.splitlines() if '"event": "request"' in x]
    me_lines = [x for x in request_lines if x.get("route") == "/api/auth/me"]
    assert me_lines and me_lines[-1]["user_id"] == str(user.id)
    assert me_lines[-1]["status"] == 200 and "duration_ms" in me_lines[-1]


async def test_metrics_name_no_user(api: Api, http: httpx.AsyncClient) -> None:
    """/metrics is unauthenticated: storage is reported in total only, never per user id
    (issue 24: it listed user ids with their storage bytes)."""
    user = await api.user()
    r = await http.post(
        "/api/instagram/scheduling/media/upload",
        files={"file": ("a.jpg", jpeg_bytes(), "image/jpeg")},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    r = await http.get("/metrics")
    assert r.status_code == 200
    assert str(user.id) not in r.text
    labels = {
        s.labels.get("user_id")
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if s.name in ("instasched_storage_bytes", "instasched_storage_assets")
    }
    assert labels == {"all"}
    assert (sample(r.text, "instasched_storage_bytes", {"user_id": "all"}) or 0) > 0
