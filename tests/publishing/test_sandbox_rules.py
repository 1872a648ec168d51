"""The sandbox enforces Meta's rules over HTTP; the Graph client classifies what it answers."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from instasched.integrations.instagram import (
    GraphAuthError,
    GraphClient,
    GraphMediaNotReady,
    GraphPermanentError,
    GraphRetryableError,
)
from instasched.integrations.instagram.media import ContainerSpec
from instasched.integrations.instagram.versions import DEFAULT_VERSION as GRAPH_VERSION
from tests.factories import Api, jpeg_bytes, png_bytes
from tests.publishing.conftest import Publishing, mp4_bytes


@pytest.fixture(scope="session")
async def graph(live_server: Any) -> AsyncIterator[GraphClient]:
    client = GraphClient(base_url=f"{live_server.url}/sandbox", version=GRAPH_VERSION)
    client.poll_initial_seconds = 0.1
    yield client
    await client.close()


@pytest.fixture(scope="session")
async def fb_graph(live_server: Any) -> AsyncIterator[GraphClient]:
    """The sandbox's graph.facebook.com (Facebook Login)."""
    client = GraphClient(
        base_url=f"{live_server.url}/sandbox/facebook", version=GRAPH_VERSION, login_kind="facebook"
    )
    client.poll_initial_seconds = 0.1
    yield client
    await client.close()


async def _fb(api: Api) -> tuple[str, str]:
    """An Instagram account linked to a Facebook Page: its id and the Page's token."""
    fb = await api.facebook_user([{"name": "Page", "igUsername": f"ig_{secrets.token_hex(4)}"}])
    page = fb["pages"][0]
    return page["igUserId"], page["accessToken"]


async def _url(publishing: Publishing, data: bytes, ext: str, mime: str) -> str:
    key = f"test-sandbox/{abs(hash(data))}.{ext}"
    await publishing.storage.put_bytes(key, data, mime)
    return await publishing.storage.presign_get(key, 3600)


async def _sb(api: Api) -> tuple[str, str]:
    sb = await api.sandbox_user()
    return sb["igUserId"], sb["accessToken"]


async def test_image_flow_and_media_fields(
    publishing: Publishing, api: Api, graph: GraphClient
) -> None:
    ig, token = await _sb(api)
    url = await _url(publishing, jpeg_bytes(1080, 1080), "jpg", "image/jpeg")
    container = await graph.create_container(ig, token, ContainerSpec(image_url=url, caption="hi"))
    status = await graph.container_status(container, token)
    assert status.status_code == "FINISHED"
    media_id = await graph.publish_container(ig, container, token)
    assert (await graph.container_status(container, token)).status_code == "PUBLISHED"
    info = await graph.get_media(media_id, token)
    assert info.permalink and info.permalink.startswith("https://www.instagram.com/p/")
    assert info.like_count is not None and info.comments_count is not None
    insights = await graph.media_insights(media_id, token)
    assert set(insights) == {
        "views", "reach", "likes", "comments", "shares", "saved", "total_interactions"
    }  # fmt: skip
    recent = await graph.recent_media(ig, token)
    assert [m.id for m in recent] == [media_id] and recent[0].caption == "hi"
    assert recent[0].timestamp is not None
    comment = await graph.post_comment(media_id, "first!", token)
    assert comment
    limit = await graph.publishing_limit(ig, token)
    assert limit.quota_usage == 1 and limit.quota_total == publishing.settings.sandbox_publish_quota
    # Publishing the same container again is refused: one container, one post.
    with pytest.raises(GraphPermanentError):
        await graph.publish_container(ig, container, token)
    # Deprecated metric names are rejected, as on Meta since 2025-04.
    with pytest.raises(GraphPermanentError) as exc:
        await graph.media_insights(media_id, token, metrics=("impressions",))
    assert exc.value.code == 100


async def test_media_fields_with_expanded_insights(
    publishing: Publishing, api: Api, graph: GraphClient
) -> None:
    ig, token = await _sb(api)
    url = await _url(publishing, jpeg_bytes(1080, 1080), "jpg", "image/jpeg")
    container = await graph.create_container(ig, token, ContainerSpec(image_url=url, caption="x"))
    media_id = await graph.publish_container(ig, container, token)
    # One call: the media's fields and the insights edge nested under "insights", as Meta does.
    r = await publishing.http.get(
        f"/sandbox/{GRAPH_VERSION}/{media_id}",
        params={"fields": "id,permalink,insights.metric(reach,likes)", "access_token": token},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"id", "permalink", "insights"}
    separate = await graph.media_insights(media_id, token, metrics=("reach", "likes"))
    nested = body["insights"]["data"]
    assert [item["name"] for item in nested] == ["reach", "likes"]
    assert {item["name"]: item["values"][0]["value"] for item in nested} == separate
    assert nested[0]["id"] == f"{media_id}/insights/reach/lifetime"
    assert nested[0]["period"] == "lifetime"
    info, insights = await graph.get_media_with_insights(media_id, token, metrics=("reach",))
    assert info.permalink == body["permalink"] and insights == {"reach": separate["reach"]}
    # The edge needs its metric, and an error of the edge fails the whole request.
    for fields, message in (
        ("id,permalink,insights", "The parameter metric is required"),
        ("id,permalink,insights.metric(impressions)", "metric[0] must be one of"),
    ):
        r = await publishing.http.get(
            f"/sandbox/{GRAPH_VERSION}/{media_id}", params={"fields": fields, "access_token": token}
        )
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == 100
        assert error["message"].startswith("(#100) For field 'insights': ")
        assert message in error["message"]
    # A container has no insights edge.
    other = await graph.create_container(ig, token, ContainerSpec(image_url=url))
    with pytest.raises(GraphPermanentError) as exc:
        await graph.get_media_with_insights(other, token, metrics=("reach",))
    assert "nonexisting field (insights)" in exc.value.message
    # An insights fault fails the expanded request too.
    await publishing.fault(ig, "insights", error={"code": 10, "message": "No permission"})
    with pytest.raises(GraphPermanentError) as exc:
        await graph.get_media_with_insights(media_id, token, metrics=("reach",))
    assert exc.value.code == 10
    calls = await publishing.calls(ig)
    assert calls["media"] == 2 and calls["media_publish"] == 1 and calls["insights"] == 1
    assert calls["media_fields"] == 5 and calls["container_status"] == 1


async def test_bad_presigned_url_is_a_fetch_failure(
    publishing: Publishing, api: Api, graph: GraphClient
) -> None:
    ig, token = await _sb(api)
    url = await _url(publishing, jpeg_bytes(), "jpg", "image/jpeg")
    broken = url.replace("X-Amz-Signature=", "X-Amz-Signature=00")
    with pytest.raises(GraphRetryableError) as exc:
        await graph.create_container(ig, token, ContainerSpec(image_url=broken))
    assert (exc.value.code, exc.value.subcode) == (9004, 2207052)
    assert "could not download" in exc.value.human()


@pytest.mark.parametrize(
    ("make", "subcode", "words"),
    [
        (lambda: png_bytes(1080, 1080), 2207005, "JPEG"),
        (lambda: jpeg_bytes(1080, 1500), 2207009, "aspect ratio"),  # 0.72 < 0.8
        (lambda: jpeg_bytes(2000, 1000), 2207009, "aspect ratio"),  # 2.0 > 1.91
    ],
)
async def test_feed_image_rules(
    publishing: Publishing, api: Api, graph: GraphClient, make: Any, subcode: int, words: str
) -> None:
    ig, token = await _sb(api)
    url = await _url(publishing, make(), "jpg", "image/jpeg")
    with pytest.raises(GraphPermanentError) as exc:
        await graph.create_container(ig, token, ContainerSpec(image_url=url))
    assert exc.value.subcode == subcode
    assert words in exc.value.message


async def test_caption_limits(publishing: Publishing, api: Api, graph: GraphClient) -> None:
    ig, token = await _sb(api)
    url = await _url(publishing, jpeg_bytes(), "jpg", "image/jpeg")
    for caption in (
        "x" * 2201,
        " ".join(f"#tag{i}" for i in range(6)),  # Instagram's cap: 5 since December 2025
        " ".join(f"@user{i}" for i in range(21)),
    ):
        with pytest.raises(GraphPermanentError) as exc:
            await graph.create_container(ig, token, ContainerSpec(image_url=url, caption=caption))
        assert exc.value.subcode == 2207010
    ok = " ".join(f"#tag{i}" for i in range(5))
    assert await graph.create_container(ig, token, ContainerSpec(image_url=url, caption=ok))


async def test_tag_coordinates_are_numbers_from_0_to_1(
    publishing: Publishing, api: Api, graph: GraphClient
) -> None:
    ig, token = await _sb(api)
    url = await _url(publishing, jpeg_bytes(), "jpg", "image/jpeg")
    for x in ('"0.5"', "1.5", "-0.1", "true", "null"):
        r = await publishing.http.post(
            f"/sandbox/{GRAPH_VERSION}/{ig}/media",
            data={
                "image_url": url,
                "user_tags": f'[{{"username": "friend", "x": {x}, "y": 0.5}}]',
                "access_token": token,
            },
        )
        assert r.status_code == 400, (x, r.text)
        assert r.json()["error"]["message"] == "(#100) user_tags x must be between 0 and 1"
    tags = [{"username": "friend", "x": 0, "y": 1}]
    assert await graph.create_container(ig, token, ContainerSpec(image_url=url, user_tags=tags))


async def test_video_rules_and_processing_state(
    publishing: Publishing, api: Api, graph: GraphClient
) -> None:
    ig, token = await _sb(api)
    short = await _url(publishing, await asyncio.to_thread(mp4_bytes, 2.0), "mp4", "video/mp4")
    with pytest.raises(GraphPermanentError) as exc:
        await graph.create_container(ig, token, ContainerSpec(media_type="REELS", video_url=short))
    assert exc.value.subcode == 2207026 and "3 to 900" in exc.value.message
    not_video = await _url(publishing, jpeg_bytes(), "jpg", "image/jpeg")
    with pytest.raises(GraphPermanentError) as exc:
        await graph.create_container(
            ig, token, ContainerSpec(media_type="REELS", video_url=not_video)
        )
    assert exc.value.subcode == 2207026
    good = await _url(publishing, await asyncio.to_thread(mp4_bytes, 3.5), "mp4", "video/mp4")
    container = await graph.create_container(
        ig, token, ContainerSpec(media_type="REELS", video_url=good)
    )
    assert (await graph.container_status(container, token)).status_code == "IN_PROGRESS"
    with pytest.raises(GraphMediaNotReady):
        await graph.publish_container(ig, container, token)
    status = await graph.wait_for_container(container, token, max_seconds=10)
    assert status.status_code == "FINISHED"
    assert await graph.publish_container(ig, container, token)


async def test_carousel_rules(publishing: Publishing, api: Api, graph: GraphClient) -> None:
    ig, token = await _sb(api)
    url = await _url(publishing, jpeg_bytes(), "jpg", "image/jpeg")
    child = await graph.create_container(
        ig, token, ContainerSpec(image_url=url, is_carousel_item=True)
    )
    with pytest.raises(GraphPermanentError) as exc:
        await graph.create_container(
            ig, token, ContainerSpec(media_type="CAROUSEL", children=[child])
        )
    assert "2 to 10" in exc.value.message
    single = await graph.create_container(ig, token, ContainerSpec(image_url=url))
    with pytest.raises(GraphPermanentError):  # a feed container is not a carousel item
        await graph.create_container(
            ig, token, ContainerSpec(media_type="CAROUSEL", children=[child, single])
        )
    other_ig, other_token = await _sb(api)
    foreign = await graph.create_container(
        other_ig, other_token, ContainerSpec(image_url=url, is_carousel_item=True)
    )
    with pytest.raises(GraphPermanentError):  # children must belong to the account
        await graph.create_container(
            ig, token, ContainerSpec(media_type="CAROUSEL", children=[child, foreign])
        )
    with pytest.raises(GraphPermanentError):  # a carousel item cannot be published alone
        await graph.publish_container(ig, child, token)


async def test_tokens_and_ownership(publishing: Publishing, api: Api, graph: GraphClient) -> None:
    ig, token = await _sb(api)
    other_ig, other_token = await _sb(api)
    url = await _url(publishing, jpeg_bytes(), "jpg", "image/jpeg")
    with pytest.raises(GraphAuthError) as exc:
        await graph.create_container(ig, "IGSLnot-a-token", ContainerSpec(image_url=url))
    assert exc.value.code == 190
    with pytest.raises(GraphPermanentError) as exc:  # another account's token
        await graph.create_container(ig, other_token, ContainerSpec(image_url=url))
    assert (exc.value.code, exc.value.subcode) == (100, 33)
    container = await graph.create_container(ig, token, ContainerSpec(image_url=url))
    with pytest.raises(GraphPermanentError):
        await graph.container_status(container, other_token)
    with pytest.raises(GraphPermanentError):
        await graph.publish_container(other_ig, container, other_token)


async def test_quota_per_account(publishing: Publishing, api: Api, graph: GraphClient) -> None:
    ig, token = await _sb(api)
    r = await publishing.http.put("/sandbox/_control/quota", json={"igUserId": ig, "quotaTotal": 2})
    assert r.status_code == 200
    url = await _url(publishing, jpeg_bytes(), "jpg", "image/jpeg")
    for _ in range(2):
        c = await graph.create_container(ig, token, ContainerSpec(image_url=url))
        await graph.publish_container(ig, c, token)
    c = await graph.create_container(ig, token, ContainerSpec(image_url=url))
    from instasched.integrations.instagram import GraphQuotaError

    with pytest.raises(GraphQuotaError) as exc:
        await graph.publish_container(ig, c, token)
    assert (exc.value.code, exc.value.subcode) == (9, 2207042)
    limit = await graph.publishing_limit(ig, token)
    assert (limit.quota_usage, limit.quota_total, limit.quota_duration) == (2, 2, 86400)


async def test_faults_control(publishing: Publishing, api: Api, graph: GraphClient) -> None:
    ig, token = await _sb(api)
    url = await _url(publishing, jpeg_bytes(), "jpg", "image/jpeg")
    await publishing.fault(
        ig, "media", count=1, error={"code": 2, "subcode": None, "message": "Try later"}
    )
    with pytest.raises(GraphRetryableError) as exc:
        await graph.create_container(ig, token, ContainerSpec(image_url=url))
    assert exc.value.message == "Try later"
    await publishing.fault(ig, "container_status", count=1, timeoutAfterEffect=True)
    container = await graph.create_container(ig, token, ContainerSpec(image_url=url))
    with pytest.raises(GraphRetryableError) as exc:
        await graph.container_status(container, token)
    assert exc.value.code is None  # a transport error: the connection was dropped
    await publishing.fault(ig, "media_publish", count=5, latencyMs=10)
    r = await publishing.http.delete("/sandbox/_control/faults", params={"igUserId": ig})
    assert r.json() == {"cleared": 1}
    bad = await publishing.http.post(
        "/sandbox/_control/faults", json={"igUserId": ig, "endpoint": "media_publish"}
    )
    assert bad.status_code == 422
    bad = await publishing.http.post(
        "/sandbox/_control/faults",
        json={"igUserId": ig, "endpoint": "nope", "latencyMs": 5},
    )
    assert bad.status_code == 422
    r = await publishing.http.get("/sandbox/_control/media", params={"igUserId": ig})
    assert r.json() == {"media": []}
    assert isinstance(r, httpx.Response)


async def test_collaborators_where_meta_takes_them(
    publishing: Publishing, api: Api, fb_graph: GraphClient
) -> None:
    """Up to 5 on feed images, reels and carousels; on the carousel's container, never on its
    items (Postiz #1547 sent them on the items); none on stories. Facebook Login only."""
    graph = fb_graph
    ig, token = await _fb(api)
    url = await _url(publishing, jpeg_bytes(1080, 1080), "jpg", "image/jpeg")
    five = ["one", "two", "three", "four", "five"]
    assert await graph.create_container(ig, token, ContainerSpec(image_url=url, collaborators=five))
    refused = (
        (ContainerSpec(image_url=url, collaborators=[*five, "six"]), "at most 5"),
        (ContainerSpec(image_url=url, is_carousel_item=True, collaborators=["one"]), "items"),
        (ContainerSpec(media_type="STORIES", image_url=url, collaborators=["one"]), "STORIES"),
    )
    for spec, words in refused:
        with pytest.raises(GraphPermanentError) as exc:
            await graph.create_container(ig, token, spec)
        assert exc.value.code == 100 and "collaborators" in exc.value.message
        assert words in exc.value.message
    items = [
        await graph.create_container(ig, token, ContainerSpec(image_url=url, is_carousel_item=True))
        for _ in range(2)
    ]
    parent = ContainerSpec(media_type="CAROUSEL", children=items, collaborators=five)
    container = await graph.create_container(ig, token, parent)
    media_id = await graph.publish_container(ig, container, token)
    [media] = [m for m in await publishing.media(ig) if m["id"] == media_id]
    assert media["params"]["collaborators"] == five


async def test_facebook_login_features_are_refused_on_graph_instagram_com(
    publishing: Publishing, api: Api, graph: GraphClient, fb_graph: GraphClient
) -> None:
    """Collaborators and product tags exist only with Facebook Login: graph.instagram.com
    refuses them (code 100), and our client does not even send them there."""
    ig, token = await _sb(api)
    url = await _url(publishing, jpeg_bytes(1080, 1080), "jpg", "image/jpeg")
    for param, value in (
        ("collaborators", '["partner"]'),
        ("product_tags", '[{"product_id": "1", "x": 0.5, "y": 0.5}]'),
    ):
        r = await publishing.http.post(
            f"/sandbox/{GRAPH_VERSION}/{ig}/media",
            data={"image_url": url, param: value, "access_token": token},
        )
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == 100 and f"Param {param} is not supported" in error["message"]
    calls = await publishing.http.get("/sandbox/_control/calls", params={"igUserId": ig})
    sent = calls.json()
    with pytest.raises(GraphPermanentError) as exc:
        await graph.create_container(ig, token, ContainerSpec(image_url=url, collaborators=["p"]))
    assert "connect this account with Facebook Login to use collaborators" in exc.value.human()
    assert (
        await publishing.http.get("/sandbox/_control/calls", params={"igUserId": ig})
    ).json() == sent
    # The same on graph.facebook.com with the Page token is accepted.
    fb_ig, page_token = await _fb(api)
    spec = ContainerSpec(
        image_url=url,
        collaborators=["partner"],
        product_tags=[{"product_id": "1", "x": 0.5, "y": 0.5}],
    )
    assert await fb_graph.create_container(fb_ig, page_token, spec)


async def test_tokens_work_only_on_the_host_that_issued_them(
    api: Api, graph: GraphClient, fb_graph: GraphClient
) -> None:
    ig, token = await _sb(api)
    fb_ig, page_token = await _fb(api)
    assert (await fb_graph.get_ig_user(fb_ig, page_token)).user_id == fb_ig
    assert (await graph.get_ig_user(ig, token)).user_id == ig
    with pytest.raises(GraphAuthError):
        await fb_graph.get_ig_user(ig, token)
    with pytest.raises(GraphAuthError):
        await graph.publishing_limit(fb_ig, page_token)
    # graph.instagram.com's token paths are not on graph.facebook.com.
    with pytest.raises(GraphPermanentError) as exc:
        await fb_graph.refresh_long_lived(page_token)
    assert exc.value.code == 2500


async def test_pages_paging_and_page_token_lifetimes(
    api: Api, publishing: Publishing, fb_graph: GraphClient
) -> None:
    """`/me/accounts` pages through cursors; a Page token from a short-lived user token ends
    with it, one from a long-lived user token has no expiry."""
    pages = [{"name": f"P{i}", "igUsername": f"pg_{secrets.token_hex(3)}"} for i in range(3)]
    pages.append({"name": "No IG"})
    fb = await api.facebook_user(pages)
    fb_graph_pages = await fb_graph.facebook_pages(fb["accessToken"])
    assert [p.name for p in fb_graph_pages] == ["P0", "P1", "P2", "No IG"]
    assert fb_graph_pages[3].ig_user_id is None
    r = await publishing.http.get(
        f"/sandbox/facebook/{GRAPH_VERSION}/me/accounts",
        params={"access_token": fb["accessToken"], "limit": 2, "fields": "id,name"},
    )
    body = r.json()
    assert [p["name"] for p in body["data"]] == ["P0", "P1"] and "next" in body["paging"]
    assert "access_token" not in body["data"][0]
    # The Page tokens a long-lived user token gives do not expire.
    aged = await publishing.http.post(
        "/sandbox/_control/tokens/age",
        json={"accessToken": fb_graph_pages[0].access_token, "seconds": 61 * 86400},
    )
    assert aged.json()["expiresIn"] > 365 * 86400
    # A Page token is not a user token: it cannot list Pages nor be exchanged.
    with pytest.raises(GraphPermanentError):
        await fb_graph.facebook_pages(fb_graph_pages[0].access_token)
    with pytest.raises(GraphPermanentError):
        await fb_graph.facebook_long_lived(fb_graph_pages[0].access_token)
