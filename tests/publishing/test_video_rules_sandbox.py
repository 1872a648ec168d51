"""The sandbox refuses a video that breaks Meta's format rules (352 / 2207026), with the same
rules as the upload report (`publish_rules.video_problems`)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from instasched.integrations.instagram import GraphClient, GraphPermanentError
from instasched.integrations.instagram.media import ContainerSpec
from instasched.integrations.instagram.versions import DEFAULT_VERSION as GRAPH_VERSION
from tests.media.files import mp4_bytes
from tests.publishing.conftest import Publishing

OPEN_GOP = "open-gop=1:keyint=15:min-keyint=15:bframes=3:scenecut=0"
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("moov at the end", {"faststart": False}, "moov"),
    ("interlaced", {"x264_params": "interlaced=1"}, "progressive"),
    ("open GOP", {"x264_params": OPEN_GOP}, "closed GOP"),
    ("4:2:2", {"pix_fmt": "yuv422p"}, "4:2:0"),
    ("5.1 audio", {"audio_layout": "5.1"}, "mono or stereo"),
    ("15 fps", {"fps": 15}, "15 fps"),
]


@pytest.fixture(scope="session")
async def graph(live_server: Any) -> AsyncIterator[GraphClient]:
    client = GraphClient(base_url=f"{live_server.url}/sandbox", version=GRAPH_VERSION)
    yield client
    await client.close()


async def _url(publishing: Publishing, data: bytes) -> str:
    key = f"test-sandbox/{secrets.token_hex(8)}.mp4"
    await publishing.storage.put_bytes(key, data, "video/mp4")
    return await publishing.storage.presign_get(key, 3600)


async def test_sandbox_refuses_each_broken_video_rule(
    publishing: Publishing, graph: GraphClient
) -> None:
    sb = await publishing.api.sandbox_user()
    ig, token = sb["igUserId"], sb["accessToken"]
    for name, kw, words in CASES:
        data = await asyncio.to_thread(mp4_bytes, 3.0, 64, 112, **kw)
        url = await _url(publishing, data)
        for spec in (
            ContainerSpec(media_type="REELS", video_url=url),
            ContainerSpec(media_type="STORIES", video_url=url),
        ):
            with pytest.raises(GraphPermanentError) as exc:
                await graph.create_container(ig, token, spec)
            assert (exc.value.code, exc.value.subcode) == (352, 2207026), name
            assert words in exc.value.message, (name, exc.value.message)
    good = await _url(publishing, await asyncio.to_thread(mp4_bytes, 3.0, 64, 112))
    assert await graph.create_container(
        ig, token, ContainerSpec(media_type="REELS", video_url=good)
    )
