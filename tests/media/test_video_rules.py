"""Meta's video format rules at upload: codec, scan, GOP, chroma, frame rate, audio channels and
sample rate, bitrate, moov position (issue 19). The same rules refuse the video in the sandbox
(tests/publishing/test_video_rules_sandbox.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from instasched.integrations.instagram import publish_rules as meta
from instasched.media import convert
from instasched.media.compat import AssetFacts, conversion_offered, report
from tests.factories import Api
from tests.media.conftest import upload
from tests.media.files import jpeg_bytes, mp4_bytes

OPEN_GOP = "open-gop=1:keyint=15:min-keyint=15:bframes=3:scenecut=0"
BAD_VIDEOS: list[tuple[str, dict[str, Any], str]] = [
    ("interlaced", {"x264_params": "interlaced=1"}, "progressive scan"),
    ("open GOP", {"x264_params": OPEN_GOP}, "closed GOPs"),
    ("4:2:2", {"pix_fmt": "yuv422p"}, "4:2:0"),
    ("5.1 audio", {"audio_layout": "5.1"}, "mono or stereo"),
    ("96 kHz audio", {"sample_rate": 96_000}, "96 kHz"),
    ("100 fps", {"fps": 100}, "100 fps"),
]


@pytest.mark.parametrize(("name", "kw", "words"), BAD_VIDEOS, ids=[b[0] for b in BAD_VIDEOS])
async def test_upload_report_names_each_broken_rule(
    api: Api, http: httpx.AsyncClient, name: str, kw: dict[str, Any], words: str
) -> None:
    user = await api.user()
    data = await asyncio.to_thread(mp4_bytes, 3.0, 360, 640, **kw)
    r = await upload(http, user, data, filename="clip.mp4", content_type="video/mp4")
    assert r.status_code == 201, r.text
    body = r.json()
    for placement in ("reel", "story", "carousel"):
        check = body["compatibility"][placement]
        assert check["ok"] is False, (name, check)
        assert any(words in reason for reason in check["reasons"]), (name, check)
    assert body["conversionOffered"] == "transcode"


async def test_a_video_that_fits_has_its_facts_and_no_conversion(
    api: Api, http: httpx.AsyncClient
) -> None:
    user = await api.user()
    data = await asyncio.to_thread(mp4_bytes, 3.0, 360, 640)
    r = await upload(http, user, data, filename="ok.mp4", content_type="video/mp4")
    body = r.json()
    assert body["compatibility"]["reel"] == {"ok": True, "reasons": []}, body
    assert body["conversionOffered"] is None
    facts = body["metadata"]
    assert facts["pix_fmt"] == "yuv420p" and facts["interlaced"] is False
    assert facts["closed_gop"] is True and facts["audio_channels"] == 1
    assert 0 < facts["video_bitrate"] < meta.VIDEO_MAX_BITRATE


def _video(**kw: Any) -> AssetFacts:
    base: dict[str, Any] = {
        "media_type": "video",
        "width": 1080,
        "height": 1920,
        "publish_bytes": 20 * 1024 * 1024,
        "duration_ms": 15_000,
        "container": "mp4",
        "video_codec": "h264",
        "audio_codec": "aac",
        "audio_sample_rate": 48_000,
        "fps": 30.0,
        "pix_fmt": "yuv420p",
        "interlaced": False,
        "closed_gop": True,
        "video_bitrate": 8_000_000,
        "audio_channels": 2,
    }
    base.update(kw)
    return AssetFacts(**base)


def test_bitrate_moov_and_the_advised_audio_bitrate() -> None:
    fast = report(_video(video_bitrate=30_000_000))["reel"]
    assert fast["ok"] is False and any("30.0 Mbps" in r for r in fast["reasons"])
    assert conversion_offered(_video(video_bitrate=30_000_000)) == "transcode"
    late = _video(faststart=False)
    assert any("moov" in r for r in report(late)["reel"]["reasons"])
    assert conversion_offered(late) == "remux"
    loud = report(_video(audio_bitrate=256_000))["reel"]
    assert loud["ok"] is True and "advises 128 kbps" in loud["reasons"][0]
    # A video probed before these rules existed: unknown facts are not held against it.
    old = _video(pix_fmt=None, interlaced=None, closed_gop=None, video_bitrate=None)
    assert report(old)["reel"] == {"ok": True, "reasons": []}
    assert conversion_offered(_video()) is None
    assert (
        conversion_offered(AssetFacts(media_type="image", width=1, height=1, publish_bytes=1))
        is None
    )


def _convert_url(asset_id: str) -> str:
    return f"/api/instagram/scheduling/media/assets/{asset_id}/convert"


async def test_convert_transcodes_and_the_converted_video_fits(
    api: Api, http: httpx.AsyncClient
) -> None:
    user = await api.user()
    data = await asyncio.to_thread(mp4_bytes, 3.0, 360, 640, x264_params=OPEN_GOP, fps=100)
    body = (await upload(http, user, data, filename="c.mp4", content_type="video/mp4")).json()
    assert body["conversionOffered"] == "transcode" and body["compatibility"]["reel"]["ok"] is False
    original_url = body["url"]
    r = await http.post(_convert_url(body["id"]), headers=user.headers)
    assert r.status_code == 200, r.text
    converted = r.json()
    assert converted["compatibility"]["reel"] == {"ok": True, "reasons": []}, converted
    assert converted["conversionOffered"] is None
    assert converted["metadata"]["conversion_applied"]["fixed"] == ["gop", "fps"]
    assert converted["metadata"]["fps"] == 30 and converted["metadata"]["closed_gop"] is True
    assert (converted["width"], converted["height"]) == (360, 640)
    # The original is kept; the publish file is the converted one.
    assert converted["url"].split("?")[0] == original_url.split("?")[0]
    assert converted["publishUrl"].split("?")[0] != original_url.split("?")[0]
    r = await http.get(f"/api/instagram/scheduling/media/assets/{body['id']}", headers=user.headers)
    assert r.json()["compatibility"]["reel"]["ok"] is True
    # Nothing left to do: 409; an image: 422; another user's asset: 404.
    r = await http.post(_convert_url(body["id"]), headers=user.headers)
    assert r.status_code == 409, r.text
    other = await api.user()
    r = await http.post(_convert_url(body["id"]), headers=other.headers)
    assert r.status_code == 404, r.text
    image = (await upload(http, user, jpeg_bytes(1080, 1080))).json()
    r = await http.post(_convert_url(image["id"]), headers=user.headers)
    assert r.status_code == 422 and "Only videos" in r.json()["message"], r.text


async def test_a_conversion_past_its_time_limit_is_a_422_and_changes_nothing(
    api: Api, http: httpx.AsyncClient, live_server: Any
) -> None:
    user = await api.user()
    data = await asyncio.to_thread(mp4_bytes, 3.0, 360, 640, pix_fmt="yuv422p")
    body = (await upload(http, user, data, filename="slow.mp4", content_type="video/mp4")).json()
    settings = live_server.state.settings
    wall = settings.media_convert_wall_seconds
    settings.media_convert_wall_seconds = 0.05
    try:
        r = await http.post(_convert_url(body["id"]), headers=user.headers)
    finally:
        settings.media_convert_wall_seconds = wall
    assert r.status_code == 422, r.text
    assert "MEDIA_CONVERT_WALL_SECONDS" in r.json()["message"]
    r = await http.get(f"/api/instagram/scheduling/media/assets/{body['id']}", headers=user.headers)
    assert r.json()["conversionOffered"] == "transcode"
    assert r.json()["publishUrl"].split("?")[0] == r.json()["url"].split("?")[0]


async def test_a_conversion_past_its_cpu_limit_is_a_422(
    api: Api, http: httpx.AsyncClient, live_server: Any
) -> None:
    """RLIMIT_CPU stops the child: re-encoding 8 s of 720p (doubled to 30 fps) needs more than
    one second of CPU whatever the machine's load (CPU time, not wall time)."""
    user = await api.user()
    data = await asyncio.to_thread(mp4_bytes, 8.0, 1280, 720, fps=15)
    body = (await upload(http, user, data, filename="big.mp4", content_type="video/mp4")).json()
    settings = live_server.state.settings
    cpu = settings.media_convert_cpu_seconds
    settings.media_convert_cpu_seconds = 1
    try:
        r = await http.post(_convert_url(body["id"]), headers=user.headers)
    finally:
        settings.media_convert_cpu_seconds = cpu
    assert r.status_code == 422, r.text
    assert "MEDIA_CONVERT_CPU_SECONDS" in r.json()["message"]


async def test_a_child_that_fails_is_a_conversion_failure(tmp_path: Path) -> None:
    with pytest.raises(convert.ConversionFailed, match="failed"):
        await convert.run(
            tmp_path / "missing.mp4",
            tmp_path / "out.mp4",
            plan="remux",
            kind="mp4",
            cpu_seconds=30,
            wall_seconds=60,
        )


async def test_transcode_fixes_every_rule_at_once(tmp_path: Path) -> None:
    """In-process (the endpoint runs the same function in a child): interlaced, too wide,
    100 fps, 5.1 audio at 96 kHz → progressive, 1920 px, 30 fps, stereo at 48 kHz; remux puts
    the moov atom first."""
    src = tmp_path / "bad.mp4"
    data = await asyncio.to_thread(
        mp4_bytes,
        1.0,
        2000,
        1128,
        fps=100,
        x264_params="interlaced=1",
        sample_rate=96_000,
        audio_layout="5.1",
    )
    src.write_bytes(data)
    before = {p.rule for p in meta.video_problems(convert.probe_facts(src, "mp4"))}
    assert before == {"scan", "fps", "width", "sample_rate", "channels"}
    out = tmp_path / "fixed.mp4"
    await asyncio.to_thread(convert.convert_file, src, out, "transcode", "mp4")
    facts = convert.probe_facts(out, "mp4")
    assert meta.video_problems(facts) == []
    assert (facts.width, facts.fps, facts.audio_channels) == (1920, 30.0, 2)
    assert facts.audio_sample_rate == 48_000 and facts.interlaced is False
    late = tmp_path / "late.mp4"
    late.write_bytes(await asyncio.to_thread(mp4_bytes, 1.0, 64, 112, faststart=False))
    assert convert.probe_facts(late, "mp4").faststart is False
    await asyncio.to_thread(convert.convert_file, late, tmp_path / "early.mp4", "remux", "mp4")
    assert convert.probe_facts(tmp_path / "early.mp4", "mp4").faststart is True
