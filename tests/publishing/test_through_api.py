"""The whole path through the public API: upload, schedule, publish now, read the result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.factories import jpeg_bytes
from tests.publishing.conftest import Publishing


async def test_upload_schedule_and_publish_now(publishing: Publishing, worker: Any) -> None:
    http = publishing.http
    user, account = await publishing.user_account()
    r = await http.post(
        "/api/instagram/scheduling/media/upload",
        params={"accountId": str(account.id)},
        files={"file": ("photo.jpg", jpeg_bytes(1080, 1350), "image/jpeg")},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    asset_id = r.json()["id"]
    when = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    r = await http.post(
        "/api/instagram/scheduling/posts",
        json={
            "instagramAccountId": str(account.id),
            "scheduledFor": when,
            "caption": "Through the API #e2e",
            "mediaIds": [asset_id],
            "mediaType": "IMAGE",
            "firstComment": "first!",
            "userTags": [{"username": "friend", "x": 0.5, "y": 0.5}],
        },
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]
    r = await http.post(
        f"/api/instagram/scheduling/posts/{post_id}/publish-now",
        params={"waitSeconds": 30},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "published", body
    assert body["permalink"] and body["instagramMediaId"]
    assert body["publishAttempts"] == 1
    media = await publishing.media(account.ig_user_id)
    assert [m["id"] for m in media] == [body["instagramMediaId"]]
    assert media[0]["caption"] == "Through the API #e2e"
    assert media[0]["params"]["user_tags"] == [{"username": "friend", "x": 0.5, "y": 0.5}]
