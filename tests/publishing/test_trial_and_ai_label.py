"""Trial reels (`trialParams`) and the AI label (`isAiGenerated`): validated by the API,
stored, sent on the right container only, and enforced by the sandbox as Meta does
(docs/instagram-fields.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from instasched.integrations.instagram import GraphClient, GraphPermanentError
from instasched.integrations.instagram.media import ContainerSpec
from instasched.integrations.instagram.versions import DEFAULT_VERSION as GRAPH_VERSION
from tests.factories import jpeg_bytes
from tests.publishing.conftest import Publishing, mp4_bytes
from tests.publishing.test_rules_agree import BASE, create, image, publishes, refused, video


@pytest.fixture(scope="session")
async def graph(live_server: Any) -> AsyncIterator[GraphClient]:
    client = GraphClient(base_url=f"{live_server.url}/sandbox", version=GRAPH_VERSION)
    client.poll_initial_seconds = 0.1
    yield client
    await client.close()


async def test_trial_reel_with_ai_label_publishes_with_both_on_the_reel(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    clip = await video(publishing, user, account, 3.0)
    body = {
        "mediaType": "REELS",
        "mediaIds": [clip["id"]],
        "caption": "trial",
        "trialParams": {"graduationStrategy": "SS_PERFORMANCE"},
        "isAiGenerated": True,
    }
    r = await create(publishing, user, account, **body)
    assert r.status_code == 201, r.text
    stored = r.json()
    assert stored["trialParams"] == {"graduationStrategy": "SS_PERFORMANCE"}
    assert stored["isAiGenerated"] is True
    r = await publishing.http.get(f"{BASE}/posts/{account.id}/{stored['id']}", headers=user.headers)
    assert r.json()["trialParams"] == {"graduationStrategy": "SS_PERFORMANCE"}, r.text
    media = await publishes(publishing, user, account, **body)
    assert media["mediaType"] == "REELS"
    assert media["params"]["trial_params"] == {"graduation_strategy": "SS_PERFORMANCE"}
    assert media["params"]["is_ai_generated"] is True
    assert "share_to_feed" not in media["params"]


async def test_an_ordinary_post_sends_neither_field(publishing: Publishing, worker: Any) -> None:
    user, account = await publishing.user_account()
    photo = await image(publishing, user, account)
    media = await publishes(publishing, user, account, mediaType="IMAGE", mediaIds=[photo])
    assert "trial_params" not in media["params"] and "is_ai_generated" not in media["params"]


async def test_ai_label_goes_on_the_carousel_not_its_items(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    one, two = await image(publishing, user, account), await image(publishing, user, account)
    media = await publishes(
        publishing, user, account, mediaType="CAROUSEL", mediaIds=[one, two], isAiGenerated=True
    )
    assert media["params"]["is_ai_generated"] is True
    assert all("is_ai_generated" not in c["params"] for c in media["children"])
    photo = await image(publishing, user, account)
    story = await publishes(
        publishing, user, account, mediaType="STORIES", mediaIds=[photo], isAiGenerated=True
    )
    assert story["params"]["is_ai_generated"] is True


async def test_trial_params_are_refused_where_instagram_refuses_them(
    publishing: Publishing, worker: Any
) -> None:
    user, account = await publishing.user_account()
    photo = await image(publishing, user, account)
    clip = await video(publishing, user, account, 3.0)
    trial = {"graduationStrategy": "MANUAL"}
    for media_type, ids in (("IMAGE", [photo]), ("STORIES", [clip["id"]])):
        message = refused(
            await create(
                publishing, user, account, mediaType=media_type, mediaIds=ids, trialParams=trial
            ),
            "trialParams",
        )
        assert "only reels" in message
    reel = {"mediaType": "REELS", "mediaIds": [clip["id"]]}
    message = refused(
        await create(publishing, user, account, **reel, trialParams=trial, shareToFeed=True),
        "trialParams",
    )
    assert "shareToFeed" in message
    r = await create(
        publishing, user, account, **reel, trialParams={"graduationStrategy": "AUTOMATIC"}
    )
    assert r.status_code == 422 and "graduationStrategy" in r.text, r.text
    r = await create(publishing, user, account, **reel, isAiGenerated="maybe")
    assert r.status_code == 422 and "isAiGenerated" in r.text, r.text

    # Edits: the fields change, clear, and are checked against the post's type.
    r = await create(publishing, user, account, **reel, trialParams=trial)
    assert r.status_code == 201, r.text
    url = f"{BASE}/posts/{r.json()['id']}"
    r = await publishing.http.put(url, json={"mediaType": "STORIES"}, headers=user.headers)
    refused(r, "trialParams")
    r = await publishing.http.put(
        url,
        json={"trialParams": {"graduationStrategy": "SS_PERFORMANCE"}, "isAiGenerated": True},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["trialParams"] == {"graduationStrategy": "SS_PERFORMANCE"}
    assert r.json()["isAiGenerated"] is True
    r = await publishing.http.put(
        url, json={"trialParams": None, "isAiGenerated": None}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["trialParams"] is None and r.json()["isAiGenerated"] is False


async def test_sandbox_refuses_trial_params_and_ai_label_where_meta_does(
    publishing: Publishing, graph: GraphClient
) -> None:
    sb = await publishing.api.sandbox_user()
    ig, token = sb["igUserId"], sb["accessToken"]
    key = "test-sandbox/trial.jpg"
    await publishing.storage.put_bytes(key, jpeg_bytes(1080, 1080), "image/jpeg")
    photo = await publishing.storage.presign_get(key, 3600)
    key = "test-sandbox/trial.mp4"
    await publishing.storage.put_bytes(key, mp4_bytes(3.5), "video/mp4")
    clip = await publishing.storage.presign_get(key, 3600)
    manual = {"graduation_strategy": "MANUAL"}
    refusals = (
        (ContainerSpec(image_url=photo, trial_params=manual), "only reels"),
        (ContainerSpec(media_type="STORIES", image_url=photo, trial_params=manual), "only reels"),
        (
            ContainerSpec(
                media_type="REELS", video_url=clip, trial_params={"graduation_strategy": "X"}
            ),
            "not one of",
        ),
        (
            ContainerSpec(
                media_type="REELS", video_url=clip, trial_params=manual, share_to_feed=True
            ),
            "feed",
        ),
        (ContainerSpec(image_url=photo, is_carousel_item=True, is_ai_generated=True), "items"),
    )
    for spec, words in refusals:
        with pytest.raises(GraphPermanentError) as exc:
            await graph.create_container(ig, token, spec)
        assert exc.value.code == 100 and words in exc.value.message, exc.value.message
    spec = ContainerSpec(
        media_type="REELS", video_url=clip, trial_params=manual, is_ai_generated=True
    )
    assert await graph.create_container(ig, token, spec)
