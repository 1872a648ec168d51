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
    # Measured since issue 19 (None on older assets: the rule is skipped).
    pix_fmt: str | None = None
    interlaced: bool | None = None
    closed_gop: bool | None = None
    video_bitrate: int | None = None
    audio_channels: int | None = None
    audio_bitrate: int | None = None

    def video_facts(self) -> meta.VideoFacts:
        return meta.VideoFacts(
            container=self.container,
            video_codec=self.video_codec,
            pix_fmt=self.pix_fmt,
            interlaced=self.interlaced,
            closed_gop=self.closed_gop,
            fps=self.fps,
            width=self.width,
            video_bitrate=self.video_bitrate,
            audio_codec=self.audio_codec,
            audio_sample_rate=self.audio_sample_rate,
            audio_channels=self.audio_channels,
            faststart=self.faststart,
        )


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
        pix_fmt=meta.get("pix_fmt"),
        interlaced=meta.get("interlaced"),
        closed_gop=meta.get("closed_gop"),
        video_bitrate=meta.get("video_bitrate"),
        audio_channels=meta.get("audio_channels"),
        audio_bitrate=meta.get("audio_bitrate"),
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
    """Meta's format rules (the sandbox runs the same function), each with its way out."""
    return [
        p.message + (" (Convert fixes it)" if p.fix == "remux" else " (Convert re-encodes it)")
        for p in meta.video_problems(f.video_facts())
    ]


def conversion_offered(f: AssetFacts) -> meta.Fix | None:
    """What POST .../convert would do for this video: "remux" (copy the streams with the moov
    atom first), "transcode" (re-encode), or None when it fits Meta's format rules."""
    if f.media_type != "video":
        return None
    fixes = {p.fix for p in meta.video_problems(f.video_facts())}
    if not fixes:
        return None
    return "transcode" if "transcode" in fixes else "remux"


def _audio_note(f: AssetFacts) -> list[str]:
    if f.audio_bitrate and f.audio_bitrate > meta.AUDIO_ADVISED_BITRATE * 1.1:
        return [
            f"the audio bitrate is {f.audio_bitrate // 1000} kbps; Instagram advises "
            f"{meta.AUDIO_ADVISED_BITRATE // 1000} kbps"
        ]
    return []


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
    if f.fps is None:
        reel.append("the frame rate is unknown; reels need 23–60 fps: export at 30 fps")
    reel_notes: list[str] = _audio_note(f)
    if f.width and f.height and abs(f.width / f.height - 9 / 16) > 0.02:
        reel_notes.append(
            f"reels look best at 9:16 (1080×1920); this video is {f.width}×{f.height}"
        )
    short = base + _duration_rule(f, reel=False, placement="carousel")
    story = base + _duration_rule(f, reel=False, placement="story")
    return {
        "feed": _result(["a video is published as a reel, not a feed image; choose the reel type"]),
        "carousel": _result(short, _audio_note(f)),
        "reel": _result(reel, reel_notes),
        "story": _result(story, _audio_note(f)),
    }
