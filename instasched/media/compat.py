"""Instagram compatibility report: which placements an asset fits, and why not.

Shape (the posts API reads it): `{"feed": {"ok": bool, "reasons": [str]}, "carousel": ...,
"reel": ..., "story": ...}`. When `ok` is false, `reasons` says what breaks the rule and what to
do. When `ok` is true, `reasons` may hold advisory notes (e.g. Meta will scale a wide image).
Rules: /work/shared/instagram-graph-api.md ("Limits and media rules"); the limits the sandbox
also enforces (bytes, aspect ratio, durations) come from
`instasched.integrations.instagram.publish_rules`, the same code the sandbox runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from instasched.integrations.instagram import publish_rules as meta

PLACEMENTS = ("feed", "carousel", "reel", "story")

IMAGE_MIN_WIDTH = 320
IMAGE_MAX_WIDTH = 1440
REEL_MIN_FPS = 23.0
REEL_MAX_FPS = 60.0
REEL_MAX_WIDTH = 1920
VIDEO_CODECS = {"h264": "H.264", "hevc": "HEVC"}
AUDIO_MAX_RATE = 48_000


@dataclass(frozen=True)
class AssetFacts:
    """What the rules look at; built from the stored asset (or a fresh upload)."""

    media_type: str  # image | video
    width: int | None
    height: int | None
    publish_bytes: int
    duration_ms: int | None = None
    container: str | None = None  # mp4 | mov
    video_codec: str | None = None
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    fps: float | None = None
    faststart: bool = True


def facts_from(
    media_type: str, width: int | None, height: int | None, meta: dict[str, Any], file_size: int
) -> AssetFacts:
    fps = meta.get("fps")
    faststart = bool(meta.get("faststart", True)) or bool(meta.get("faststart_remuxed"))
    return AssetFacts(
        media_type=media_type,
        width=width,
        height=height,
        publish_bytes=int(meta.get("publish_bytes") or file_size),
        duration_ms=meta.get("duration_ms"),
        container=meta.get("container"),
        video_codec=meta.get("video_codec"),
        audio_codec=meta.get("audio_codec"),
        audio_sample_rate=meta.get("audio_sample_rate"),
        fps=float(fps) if fps is not None else None,
        faststart=faststart,
    )


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _result(fails: list[str], notes: list[str] | None = None) -> dict[str, Any]:
    if fails:
        return {"ok": False, "reasons": fails}
    return {"ok": True, "reasons": list(notes or [])}


def _image_rules(f: AssetFacts, placement: str) -> tuple[list[str], list[str]]:
    fails: list[str] = []
    notes: list[str] = []
    if f.publish_bytes > meta.IMAGE_MAX_BYTES:
        fails.append(
            f"the image is {_mb(f.publish_bytes)}, over Instagram's 8 MB for images; "
            "export it smaller"
        )
    if f.width and f.height:
        if not meta.aspect_ratio_ok(f.width, f.height):
            fails.append(
                f"aspect ratio {f.width / f.height:.2f} is outside Instagram's 0.8–1.91 for "
                f"{placement} images; crop to 4:5, 1:1 or 1.91:1"
            )
        if f.width < IMAGE_MIN_WIDTH:
            fails.append(
                f"the image is {f.width} px wide, under Instagram's minimum of 320 px; "
                "use a larger image"
            )
        elif f.width > IMAGE_MAX_WIDTH:
            notes.append(f"the image is {f.width} px wide; Instagram scales it down to 1440 px")
    return fails, notes


def _video_format_rules(f: AssetFacts) -> list[str]:
    fails: list[str] = []
    if f.container not in ("mp4", "mov"):
        fails.append("the video must be MP4 or MOV; export it as MP4")
    if f.video_codec not in VIDEO_CODECS:
        fails.append(
            f"the video codec is {f.video_codec or 'unknown'}; Instagram needs H.264 or HEVC: "
            "export with H.264"
        )
    if f.audio_codec is not None and f.audio_codec != "aac":
        fails.append(
            f"the audio codec is {f.audio_codec}; Instagram needs AAC: export the audio as AAC"
        )
    if f.audio_sample_rate and f.audio_sample_rate > AUDIO_MAX_RATE:
        fails.append(
            f"the audio sample rate is {f.audio_sample_rate / 1000:g} kHz, over Instagram's "
            "48 kHz; export the audio at 48 kHz or 44.1 kHz"
        )
    if not f.faststart:
        fails.append(
            "the video's index (moov atom) is at the end of the file; export it with "
            "'fast start' / 'optimize for web'"
        )
    return fails


def _video_size_rule(f: AssetFacts) -> list[str]:
    if f.publish_bytes > meta.VIDEO_MAX_BYTES:
        return [
            f"the video is {_mb(f.publish_bytes)}, over Instagram's 300 MB for videos; "
            "export it at a lower bitrate"
        ]
    return []


def _duration_rule(f: AssetFacts, *, reel: bool, placement: str) -> list[str]:
    low, high = meta.duration_limits_ms(reel=reel)
    if f.duration_ms is None:
        return [
            f"the video's duration is unknown; {placement} videos must last "
            f"{meta.seconds_text(low)} to {meta.seconds_text(high)}"
        ]
    if meta.duration_ok(f.duration_ms, reel=reel):
        return []
    if f.duration_ms < low:
        return [
            f"the video lasts {meta.seconds_text(f.duration_ms)}; {placement} videos must last "
            f"at least {meta.seconds_text(low)}"
        ]
    return [
        f"the video lasts {meta.seconds_text(f.duration_ms)}; {placement} videos may last at "
        f"most {meta.seconds_text(high)}: trim it"
    ]


def report(f: AssetFacts) -> dict[str, dict[str, Any]]:
    """The compatibility report for every placement."""
    if f.media_type == "image":
        feed_fails, feed_notes = _image_rules(f, "feed")
        car_fails, car_notes = _image_rules(f, "carousel")
        story_fails = [r for r in feed_fails if "8 MB" in r]  # stories: any shape, <= 8 MB
        story_notes: list[str] = []
        if f.width and f.height and abs(f.width / f.height - 9 / 16) > 0.02:
            story_notes.append("stories are shown 9:16; other shapes get bars or are cropped")
        return {
            "feed": _result(feed_fails, feed_notes),
            "carousel": _result(car_fails, car_notes),
            "reel": _result(["reels are videos; upload an MP4 or MOV video for a reel"]),
            "story": _result(story_fails, story_notes),
        }

    base = _video_format_rules(f) + _video_size_rule(f)
    reel = base + _duration_rule(f, reel=True, placement="reel")
    if f.fps is None or not REEL_MIN_FPS <= f.fps <= REEL_MAX_FPS:
        fps = f"{f.fps:g}" if f.fps is not None else "unknown"
        reel.append(f"the frame rate is {fps} fps; reels need 23–60 fps: export at 30 fps")
    if f.width and f.width > REEL_MAX_WIDTH:
        reel.append(
            f"the video is {f.width} px wide, over Instagram's 1920 px; export at 1080×1920"
        )
    reel_notes: list[str] = []
    if f.width and f.height and abs(f.width / f.height - 9 / 16) > 0.02:
        reel_notes.append(
            f"reels look best at 9:16 (1080×1920); this video is {f.width}×{f.height}"
        )
    short = base + _duration_rule(f, reel=False, placement="carousel")
    story = base + _duration_rule(f, reel=False, placement="story")
    return {
        "feed": _result(["a video is published as a reel, not a feed image; choose the reel type"]),
        "carousel": _result(short),
        "reel": _result(reel, reel_notes),
        "story": _result(story),
    }
