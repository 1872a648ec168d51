"""The Instagram compatibility rules (pure functions) and the public presign endpoint."""

from __future__ import annotations

from urllib.parse import urlsplit

from instasched.integrations.storage import Storage
from instasched.media.compat import AssetFacts, report
from instasched.media.service import normalise_tags, tags_from_form
from instasched.media.sniff import MOV, MP4, sniff

MB = 1024 * 1024


def image(width: int, height: int, size: int = MB) -> AssetFacts:
    return AssetFacts(media_type="image", width=width, height=height, publish_bytes=size)


def video(**kw: object) -> AssetFacts:
    base: dict[str, object] = {
        "media_type": "video",
        "width": 1080,
        "height": 1920,
        "publish_bytes": 20 * MB,
        "duration_ms": 15_000,
        "container": "mp4",
        "video_codec": "h264",
        "audio_codec": "aac",
        "audio_sample_rate": 48_000,
        "fps": 30.0,
        "faststart": True,
    }
    base.update(kw)
    return AssetFacts(**base)  # type: ignore[arg-type]


def test_report_shape() -> None:
    for facts in (image(1080, 1080), video()):
        result = report(facts)
        assert set(result) == {"feed", "carousel", "reel", "story"}
        for entry in result.values():
            assert set(entry) == {"ok", "reasons"}
            assert isinstance(entry["ok"], bool)
            assert all(isinstance(r, str) and r for r in entry["reasons"])


def test_feed_image_rules() -> None:
    assert report(image(1080, 1350))["feed"] == {"ok": True, "reasons": []}
    assert report(image(1080, 566))["feed"]["ok"] is True  # 1.91:1
    tall = report(image(1080, 1920))["feed"]
    assert tall["ok"] is False
    assert tall["reasons"] == [
        "aspect ratio 0.56 is outside Instagram's 0.8–1.91 for feed images; "
        "crop to 4:5, 1:1 or 1.91:1"
    ]
    assert report(image(1080, 1920))["story"]["ok"] is True
    wide = report(image(2000, 500))["carousel"]
    assert wide["ok"] is False and "aspect ratio 4.00" in wide["reasons"][0]
    small = report(image(300, 300))["feed"]
    assert small["ok"] is False and "320 px" in small["reasons"][0]
    big = report(image(3000, 3000))["feed"]
    assert big["ok"] is True and "scales it down to 1440" in big["reasons"][0]
    heavy = report(image(1080, 1080, size=9 * MB))
    assert heavy["feed"]["ok"] is False and "8 MB" in heavy["feed"]["reasons"][0]
    assert heavy["story"]["ok"] is False
    assert report(image(1080, 1080))["reel"]["ok"] is False


def test_reel_rules() -> None:
    good = report(video())
    assert good["reel"] == {"ok": True, "reasons": []}
    assert good["story"]["ok"] and good["carousel"]["ok"] and not good["feed"]["ok"]
    cases = [
        (video(video_codec="mpeg4"), "H.264 or HEVC"),
        (video(audio_codec="mp3"), "AAC"),
        (video(audio_sample_rate=96_000), "96 kHz"),
        (video(fps=20.0), "20 fps"),
        (video(fps=120.0), "120 fps"),
        (video(width=3840, height=2160), "1920 px"),
        (video(duration_ms=2_000), "at least 3 s"),
        (video(duration_ms=16 * 60_000), "at most 15 min"),
        (video(publish_bytes=301 * MB), "300 MB"),
        (video(faststart=False), "moov"),
        (video(container="avi"), "MP4 or MOV"),
    ]
    for facts, words in cases:
        reel = report(facts)["reel"]
        assert reel["ok"] is False, words
        assert any(words in r for r in reel["reasons"]), (words, reel)
    assert report(video(video_codec="hevc", audio_codec=None))["reel"]["ok"] is True
    square = report(video(width=1080, height=1080))["reel"]
    assert square["ok"] is True and "9:16" in square["reasons"][0]


def test_story_and_carousel_video_duration() -> None:
    long = report(video(duration_ms=90_000))
    assert long["reel"]["ok"] is True
    assert long["story"]["ok"] is False and "at most 60 s" in long["story"]["reasons"][0]
    assert long["carousel"]["ok"] is False


def test_sniff_by_content() -> None:
    assert sniff(b"\0\0\0\x18ftypqt  \0\0\0\0") is MOV
    assert sniff(b"\0\0\0\x18ftypisom\0\0\0\0") is MP4
    assert sniff(b"\0\0\0\x08wide\0\0\0\0mdat") is MOV


def test_tags() -> None:
    assert normalise_tags([" #A ", "a", "", "B"]) == ["a", "b"]
    assert tags_from_form(["x, y", "z"]) == ["x", "y", "z"]
    assert tags_from_form(['["One", "two"]']) == ["one", "two"]


async def test_presigned_for_the_public_endpoint() -> None:
    s = Storage(
        endpoint="http://127.0.0.1:1",
        access_key="k",
        secret_key="s",
        bucket="b",
        public_endpoint="https://media.example.com",
    )
    await s.start()
    try:
        url = await s.presign_get("u/2026/11/x.jpg", 3600)
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc, parts.path) == (
            "https",
            "media.example.com",
            "/b/u/2026/11/x.jpg",
        )
        assert "X-Amz-Signature=" in parts.query and "X-Amz-Expires=3600" in parts.query
        assert s.object_url("u/x.jpg") == "http://127.0.0.1:1/b/u/x.jpg"
    finally:
        await s.close()


def test_api_processes_share_the_decoding_threads() -> None:
    """Each API process decodes with its share of the cores, so API_WORKERS processes hold no
    more decoded images at once than one (measured: 100 concurrent 10 MB uploads with
    API_WORKERS=2 peaked at 885 MB of API RSS with a full pool each, 625 MB shared)."""
    from instasched.media.probe import decode_threads

    assert decode_threads(2, 1) == 2
    assert decode_threads(2, 2) == 1
    assert decode_threads(8, 2) == 4
    assert decode_threads(1, 1) == 2  # at least two, as before
    assert decode_threads(2, 4) == 1  # never none
