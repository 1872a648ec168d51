"""The sandbox keeps its state in the data dir: a restart (or a second process) changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from instasched.config import Settings
from instasched.embedded._proc import free_port
from instasched.integrations.instagram.versions import DEFAULT_VERSION as GRAPH_VERSION
from instasched.worker.queue import PublishQueue
from tests.conftest import BackgroundWorker, LiveServer, SandboxApps
from tests.factories import Api, jpeg_bytes
from tests.publishing.conftest import Publishing


async def test_sandbox_state_survives_a_restart_and_is_shared(
    publishing: Publishing, app_settings: Settings, data_dir: Path, sandbox_apps: SandboxApps
) -> None:
    settings = app_settings.model_copy(update={"data_dir": data_dir})
    key = "test-sandbox-restart/one.jpg"
    await publishing.storage.put_bytes(key, jpeg_bytes(1080, 1080), "image/jpeg")
    image_url = await publishing.storage.presign_get(key, 3600)

    async with sandbox_apps.client(settings) as first:
        r = await first.post("/_control/users", json={"username": "restart_me", "followers": 5})
        assert r.status_code == 201, r.text
        ig, token = r.json()["igUserId"], r.json()["accessToken"]
        r = await first.post(
            f"/{GRAPH_VERSION}/{ig}/media", data={"image_url": image_url, "caption": "hi"}
        )
        assert r.status_code == 400  # no token: the Graph rules hold as before
        r = await first.post(
            f"/{GRAPH_VERSION}/{ig}/media",
            data={"image_url": image_url, "caption": "Before the restart", "access_token": token},
        )
        assert r.status_code == 200, r.text
        container = r.json()["id"]
        r = await first.put("/_control/quota", json={"igUserId": ig, "quotaTotal": 7})
        assert r.status_code == 200, r.text
        r = await first.post(
            "/_control/faults",
            json={"igUserId": ig, "endpoint": "comments", "error": {"code": 2}},
        )
        assert r.status_code == 201, r.text
        r = await first.put("/_control/usage", json={"callCount": 42})
        assert r.status_code == 200, r.text

    # A new app on the same data dir: what `instasched run` builds after Ctrl-C and a restart.
    async with sandbox_apps.client(settings) as second:
        r = await second.get("/me", params={"access_token": token, "fields": "username"})
        assert r.status_code == 200, r.text
        assert r.json()["username"] == "restart_me"
        assert r.headers["x-app-usage"].startswith('{"call_count": 42')
        r = await second.get(
            f"/{GRAPH_VERSION}/{container}", params={"fields": "status_code", "access_token": token}
        )
        assert r.json() == {"id": container, "status_code": "FINISHED"}
        r = await second.post(
            f"/{GRAPH_VERSION}/{ig}/media_publish",
            data={"creation_id": container, "access_token": token},
        )
        assert r.status_code == 200, r.text
        media_id = r.json()["id"]
        # Ids keep growing across the restart: the account's media list stays newest first.
        r = await second.post(
            f"/{GRAPH_VERSION}/{ig}/media",
            data={"image_url": image_url, "caption": "After", "access_token": token},
        )
        r = await second.post(
            f"/{GRAPH_VERSION}/{ig}/media_publish",
            data={"creation_id": r.json()["id"], "access_token": token},
        )
        newest = r.json()["id"]
        for limit, expected in ((1, [newest]), (25, [newest, media_id])):
            r = await second.get(
                f"/{GRAPH_VERSION}/{ig}/media", params={"access_token": token, "limit": limit}
            )
            assert [m["id"] for m in r.json()["data"]] == expected
        r = await second.get(
            f"/{GRAPH_VERSION}/{ig}/content_publishing_limit", params={"access_token": token}
        )
        assert r.json()["data"][0]["quota_usage"] == 2
        assert r.json()["data"][0]["config"]["quota_total"] == 7
        r = await second.post(
            f"/{GRAPH_VERSION}/{media_id}/comments",
            data={"message": "first", "access_token": token},
        )
        assert r.status_code == 500, "the fault queued before the restart is consumed after it"
        r = await second.post(
            f"/{GRAPH_VERSION}/{media_id}/comments",
            data={"message": "second", "access_token": token},
        )
        assert r.status_code == 200, r.text
        # A new user's id does not repeat one given before the restart.
        r = await second.post("/_control/users", json={"username": "after_restart"})
        assert r.json()["igUserId"] != ig

        # Two apps on the same state at once (API_WORKERS > 1, or `instasched sandbox`): what
        # one does, the other sees.
        async with sandbox_apps.client(settings) as third:
            r = await third.get("/_control/media", params={"igUserId": ig})
            media, _after = r.json()["media"]
            assert media["id"] == media_id and media["caption"] == "Before the restart"
            assert [c["text"] for c in media["comments"]] == ["second"]
            r = await third.post(
                f"/{GRAPH_VERSION}/{ig}/media_publish",
                data={"creation_id": container, "access_token": token},
            )
            assert r.status_code == 400, "published once, whichever process is asked"
            r = await third.post(f"/_control/users/{ig}/revoke")
            assert r.json() == {"revoked": 1}
        r = await second.get("/me", params={"access_token": token})
        assert r.status_code == 400 and r.json()["error"]["code"] == 190
        r = await second.get("/_control/calls", params={"igUserId": ig})
        assert r.json()["calls"] == {
            "comments": 2,
            "container_status": 1,
            "list_media": 2,
            "media": 2,
            "media_publish": 3,
            "publishing_limit": 1,
        }
    assert (data_dir / "sandbox.sqlite3").exists()


async def test_post_scheduled_before_a_restart_publishes_after_it(
    publishing: Publishing, app_settings: Settings, data_dir: Path, no_worker: None
) -> None:
    """The two-command experience: schedule, Ctrl-C the server, start it again, it publishes.

    (Before, the restarted sandbox had forgotten the account's token: the publication failed
    with error 190 and the account was marked for reconnection.)"""
    settings = app_settings.model_copy(
        update={
            "port": free_port(),
            "data_dir": data_dir,
            "queue_prefix": app_settings.queue_prefix + "restart",
        }
    )
    queue = PublishQueue(settings.require_redis_url(), prefix=settings.queue_prefix)
    first = LiveServer(settings)
    first.start()
    try:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as http:
            before = _publishing(publishing, http, queue, settings)
            user, account = await before.user_account()
            image = await before.image(user)
            post_id = await before.post(user, account, "IMAGE", [image], caption="Survives")
    finally:
        first.stop()
    second = LiveServer(settings)
    second.start()
    worker = BackgroundWorker(settings)
    worker.start()
    try:
        async with httpx.AsyncClient(base_url=second.url, timeout=30) as http:
            after = _publishing(publishing, http, queue, settings)
            post = await after.wait(post_id, "published", "failed", timeout=60)
            assert post.status == "published", post.last_publish_error
            assert not (await after.account_row(account.id)).needs_reauth
            [media] = await after.media(account.ig_user_id)
            assert media["caption"] == "Survives" and media["id"] == post.instagram_media_id
    finally:
        worker.stop()
        second.stop()
        await queue.close()


def _publishing(
    base: Publishing, http: httpx.AsyncClient, queue: PublishQueue, settings: Settings
) -> Any:
    return Publishing(
        http=http,
        api=Api(http),
        engine=base.engine,
        storage=base.storage,
        queue=queue,
        settings=settings,
    )
