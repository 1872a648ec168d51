"""Meta's publishing rules, written once for both sides.

The API applies them before it accepts media or a post (`media.compat` builds an asset's
compatibility report at upload; `posts.rules` checks a post when it is created or edited), and
the sandbox applies the same functions when a container is created or a comment posted. So a
post the API accepts publishes on the sandbox (tests/publishing/test_rules_agree.py), and a
limit changed here changes both. docs/posts.md ("Publishing rules: checked when the post is made,
and again by Instagram") has a table of each rule and where it is checked.

The functions are pure and return numbers, flags or a problem in words; each side raises its
own error (a 422 naming the JSON field; a Graph error with Meta's code and sub-code).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Literal

CAPTION_MAX = 2200
COMMENT_MAX = 2200
MENTIONS_MAX = 20
# The default of the MAX_HASHTAGS setting: Instagram caps posts and reels at 5 hashtags since its
# announcement of 2025-12-19 (30 before).
HASHTAGS_MAX = 5
USER_TAGS_MAX = 20
PRODUCT_TAGS_MAX = 20
# Meta's IG Media collaborators reference: up to 5 accounts, on feed images, reels and carousels
# (set on the carousel container, not its items); stories take none.
COLLABORATORS_MAX = 5
COLLABORATOR_MEDIA_TYPES = frozenset({"IMAGE", "REELS", "CAROUSEL"})
CAROUSEL_MIN = 2
CAROUSEL_MAX = 10
USERNAME_MAX = 30

IMAGE_MAX_BYTES = 8 * 1024 * 1024
VIDEO_MAX_BYTES = 300 * 1024 * 1024
# Video durations in milliseconds: reels 3 s to 15 min; stories and carousel videos 3 to 60 s.
REEL_DURATION_MS = (3_000, 15 * 60_000)
SHORT_VIDEO_DURATION_MS = (3_000, 60_000)


# --- durations ------------------------------------------------------------------------------
def milliseconds(seconds: float) -> int:
    """A measured duration in whole milliseconds: the unit of every duration rule."""
    return round(seconds * 1000)


def seconds_shown(duration_ms: int) -> int:
    """Whole seconds the way a person reads a duration: half a second or more rounds up
    (4,017 ms → 4 s, 4,500 ms → 5 s, 1,021 ms → 1 s). Only for display; rules use ms."""
    return (duration_ms + 500) // 1000


def seconds_text(duration_ms: int) -> str:
    """`4.017 s`, `60 s`, `2 min 5 s`, `15 min`: a duration with its milliseconds when they
    matter (a rule's message must not call 2,999 ms "3.0 s")."""
    if duration_ms <= 60_000:
        return f"{duration_ms / 1000:g} s"
    minutes, rest = divmod(duration_ms, 60_000)
    return f"{minutes} min {rest / 1000:g} s" if rest else f"{minutes} min"


def duration_limits_ms(*, reel: bool) -> tuple[int, int]:
    """Reels, or the short videos of stories and carousels."""
    return REEL_DURATION_MS if reel else SHORT_VIDEO_DURATION_MS


def duration_ok(duration_ms: int, *, reel: bool) -> bool:
    low, high = duration_limits_ms(reel=reel)
    return low <= duration_ms <= high


def thumb_offset_ok(offset_ms: int, duration_ms: int) -> bool:
    """A reel's thumbnail frame must be inside the video: 0 to its duration, in ms."""
    return 0 <= offset_ms <= duration_ms


# --- video format -----------------------------------------------------------------------
# Meta's video specifications (reels, stories and carousel videos alike): MP4 or MOV with the
# moov atom at the front; H.264 or HEVC, progressive scan, closed GOP, 4:2:0 chroma
# subsampling, 23-60 fps, at most 1920 px wide, VBR at most 25 Mbps; AAC audio at most 48 kHz,
# 1 or 2 channels (128 kbps advised). `video_problems` is what the upload report shows and the
# sandbox refuses (352 / 2207026); docs/video-rules.md explains each rule and its conversion.
VIDEO_CONTAINERS = ("mp4", "mov")
VIDEO_CODECS = {"h264": "H.264", "hevc": "HEVC"}
VIDEO_FPS = (23.0, 60.0)
VIDEO_MAX_WIDTH = 1920
VIDEO_MAX_BITRATE = 25_000_000
AUDIO_MAX_SAMPLE_RATE = 48_000
AUDIO_CHANNELS = (1, 2)
AUDIO_ADVISED_BITRATE = 128_000

Fix = Literal["remux", "transcode"]


@dataclass(frozen=True)
class VideoFacts:
    """What the video rules look at. None is "not measured" (a file probed before a rule
    existed): that rule is skipped, never guessed."""

    container: str | None = None  # mp4 | mov
    video_codec: str | None = None
    pix_fmt: str | None = None
    interlaced: bool | None = None
    closed_gop: bool | None = None
    fps: float | None = None
    width: int | None = None
    video_bitrate: int | None = None
    audio_codec: str | None = None  # None: no audio track
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    faststart: bool | None = None


@dataclass(frozen=True)
class VideoProblem:
    rule: str
    message: str
    fix: Fix  # remux: the streams are copied into a new file; transcode: re-encoded


def chroma_420(pix_fmt: str) -> bool:
    """yuv420p, yuvj420p, yuv420p10le, nv12, ...: 4:2:0 chroma subsampling."""
    return "420" in pix_fmt or pix_fmt in ("nv12", "nv21", "p010le")


def video_problems(f: VideoFacts) -> list[VideoProblem]:
    """Every way the video breaks Meta's format rules, in words a person can act on."""
    out: list[VideoProblem] = []

    def add(rule: str, message: str, fix: Fix = "transcode") -> None:
        out.append(VideoProblem(rule, message, fix))

    if f.container is not None and f.container not in VIDEO_CONTAINERS:
        add("container", "the video must be MP4 or MOV; export it as MP4")
    if f.video_codec not in VIDEO_CODECS:
        add(
            "video_codec",
            f"the video codec is {f.video_codec or 'unknown'}; Instagram needs H.264 or HEVC: "
            "export with H.264",
        )
    if f.pix_fmt is not None and not chroma_420(f.pix_fmt):
        add(
            "chroma",
            f"the video's pixel format is {f.pix_fmt}; Instagram needs 4:2:0 chroma "
            "subsampling (yuv420p)",
        )
    if f.interlaced:
        add("scan", "the video is interlaced; Instagram needs progressive scan")
    if f.closed_gop is False:
        add(
            "gop",
            "the video uses open GOPs (keyframes that are not IDR frames); Instagram needs "
            "closed GOPs",
        )
    if f.fps is not None and not VIDEO_FPS[0] <= f.fps <= VIDEO_FPS[1]:
        add("fps", f"the frame rate is {f.fps:g} fps; Instagram needs 23–60 fps: export at 30 fps")
    if f.width is not None and f.width > VIDEO_MAX_WIDTH:
        add(
            "width",
            f"the video is {f.width} px wide, over Instagram's {VIDEO_MAX_WIDTH} px; export "
            "at 1080×1920",
        )
    if f.video_bitrate is not None and f.video_bitrate > VIDEO_MAX_BITRATE:
        add(
            "bitrate",
            f"the video bitrate is {f.video_bitrate / 1e6:.1f} Mbps, over Instagram's "
            f"{VIDEO_MAX_BITRATE // 1_000_000} Mbps",
        )
    if f.audio_codec is not None and f.audio_codec != "aac":
        add(
            "audio_codec",
            f"the audio codec is {f.audio_codec}; Instagram needs AAC: export the audio as AAC",
        )
    if f.audio_sample_rate and f.audio_sample_rate > AUDIO_MAX_SAMPLE_RATE:
        add(
            "sample_rate",
            f"the audio sample rate is {f.audio_sample_rate / 1000:g} kHz, over Instagram's "
            "48 kHz; export the audio at 48 kHz or 44.1 kHz",
        )
    if f.audio_channels is not None and f.audio_channels not in AUDIO_CHANNELS:
        add(
            "channels",
            f"the audio has {f.audio_channels} channels; Instagram takes mono or stereo",
        )
    if f.faststart is False:
        add(
            "moov",
            "the video's index (moov atom) is at the end of the file; Instagram needs it at "
            "the front ('fast start' / 'optimize for web')",
            "remux",
        )
    return out


# --- images ---------------------------------------------------------------------------------
def aspect_ratio_ok(width: int, height: int) -> bool:
    """Feed and carousel images: 4:5 (0.8) <= width/height <= 1.91:1, in exact integer
    arithmetic (stories take any shape)."""
    return height > 0 and 4 * height <= 5 * width and 100 * width <= 191 * height


# --- tags -----------------------------------------------------------------------------------
def coordinate_ok(value: object) -> bool:
    """A tag's x or y: a number from 0 to 1 (a fraction of the image's width or height)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0


# --- collaborators --------------------------------------------------------------------------
def collaborators_problem(
    count: int, *, media_type: str, carousel_item: bool = False
) -> str | None:
    """Why a container (or post) of `media_type` cannot carry `count` collaborators, in words,
    or None. `media_type` is the published kind: IMAGE, REELS, CAROUSEL or STORIES."""
    if count == 0:
        return None
    if carousel_item:
        return (
            "collaborators go on the carousel container, not on its items (Instagram refuses "
            "them on a carousel item)"
        )
    if media_type not in COLLABORATOR_MEDIA_TYPES:
        return (
            f"Instagram does not allow collaborators on {media_type}; only feed images, reels "
            "and carousels take them"
        )
    if count > COLLABORATORS_MAX:
        return f"{count} collaborators were given; Instagram allows at most {COLLABORATORS_MAX}"
    return None


# --- trial reels and the AI label -----------------------------------------------------------
# Meta's IG User Media reference: `trial_params` = {"graduation_strategy": MANUAL |
# SS_PERFORMANCE} makes a reel a trial reel (shown to non-followers first); `is_ai_generated`
# is the AI self-disclosure, set on a container, on a carousel container only (an error on its
# items). docs/instagram-fields.md has the sources and which container gets which field.
GRADUATION_STRATEGIES = ("MANUAL", "SS_PERFORMANCE")
TRIAL_WITH_SHARE_TO_FEED = (
    "a trial reel is shown to non-followers first, so it cannot also be shared to the feed; "
    "leave shareToFeed out (or false) or publish an ordinary reel"
)


def trial_params_problem(strategy: object, *, media_type: str) -> str | None:
    """Why `trial_params` with this graduation strategy cannot go on a `media_type` container
    (IMAGE, REELS, VIDEO carousel item, CAROUSEL, STORIES), in words, or None."""
    if media_type != "REELS":
        return (
            f"only reels can be trial reels; Instagram does not take trial_params on "
            f"{media_type} posts"
        )
    if strategy not in GRADUATION_STRATEGIES:
        return (
            f"graduation_strategy {strategy!r} is not one of Instagram's: MANUAL (you share it "
            "to followers in the app) or SS_PERFORMANCE (Instagram shares it when it does well)"
        )
    return None


def ai_label_problem(*, carousel_item: bool) -> str | None:
    """The AI label goes on any container but a carousel's items."""
    if carousel_item:
        return (
            "is_ai_generated goes on the carousel container, not on its items (Instagram "
            "refuses it on a carousel item)"
        )
    return None


# --- caption --------------------------------------------------------------------------------
USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._")
# Punctuation that, between two word characters, means the writer expected one hashtag
# ("#summer-sale", "#mom's") while Instagram would cut it short.
_JOINERS = frozenset("-'’./&+")


def _is_word(ch: str) -> bool:
    """Letters (any script, with their combining marks), digits and underscore."""
    return ch == "_" or unicodedata.category(ch)[0] in ("L", "M", "N")


@dataclass(frozen=True)
class CaptionScan:
    hashtags: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    invalid_hashtags: list[str] = field(default_factory=list)


def scan_caption(text: str) -> CaptionScan:
    """Find hashtags and @-mentions the way Instagram links them.

    A `#` starts a hashtag at the beginning of the text or after a non-word character. The tag is
    the following run of letters, digits and underscores. It is *invalid* when the `#` is followed
    by punctuation or a symbol that is not whitespace ("#-sale", "#$"), or when the run is glued
    to more word characters by punctuation ("#summer-sale", "#mom's"): Instagram would link
    something else than what was written. A lone `#` ("Room # 5") is just a character.
    """
    hashtags: list[str] = []
    mentions: list[str] = []
    invalid: list[str] = []
    n = len(text)
    i = 0
    tag_end = -1  # "#one#two" links both tags
    while i < n:
        ch = text[i]
        starts = i == 0 or i == tag_end or not (_is_word(text[i - 1]) or text[i - 1] in "#@&")
        if ch == "#" and starts:
            j = i + 1
            while j < n and _is_word(text[j]):
                j += 1
            if j == i + 1:
                nxt = text[j] if j < n else ""
                if nxt and not nxt.isspace() and nxt != "#" and _is_glyph_start(nxt):
                    end = _token_end(text, i + 1)
                    invalid.append(text[i:end])
                    i = end
                    continue
                i += 1
                continue
            if j + 1 < n and text[j] in _JOINERS and _is_word(text[j + 1]):
                end = _token_end(text, j)
                invalid.append(text[i:end])
                i = end
                continue
            hashtags.append(text[i + 1 : j])
            i = tag_end = j
            continue
        if ch == "@" and starts:
            j = i + 1
            while j < n and text[j] in USERNAME_CHARS and j - i <= USERNAME_MAX:
                j += 1
            name = text[i + 1 : j].rstrip(".")
            if name:
                mentions.append(name)
                i = i + 1 + len(name)
                continue
        i += 1
    return CaptionScan(hashtags=hashtags, mentions=mentions, invalid_hashtags=invalid)


def _is_glyph_start(ch: str) -> bool:
    """Punctuation or symbol right after `#`: a malformed tag rather than a lone `#`."""
    return unicodedata.category(ch)[0] in ("P", "S")


def _token_end(text: str, start: int) -> int:
    end = start
    while end < len(text) and not text[end].isspace():
        end += 1
    return end


@dataclass(frozen=True)
class Excess:
    """What a text has too much of: `count` `what` ("characters", "hashtags", "@-mentions")
    where `limit` are allowed."""

    what: str
    count: int
    limit: int


def caption_limits(
    caption: str, *, max_hashtags: int, max_length: int = CAPTION_MAX
) -> tuple[Excess | None, CaptionScan]:
    """Meta's caption limits, in this order: length, hashtags, @-mentions (counted by
    `scan_caption`). Returns the first one broken (or None) and the scan (empty for a text
    too long to be worth scanning)."""
    if len(caption) > max_length:
        return Excess("characters", len(caption), max_length), CaptionScan()
    scan = scan_caption(caption)
    for what, found, limit in (
        ("hashtags", scan.hashtags, max_hashtags),
        ("@-mentions", scan.mentions, MENTIONS_MAX),
    ):
        if len(found) > limit:
            return Excess(what, len(found), limit), scan
    return None, scan


def comment_ok(message: str) -> bool:
    """A comment (the first comment) is some text, at most 2,200 characters."""
    return bool(message.strip()) and len(message) <= COMMENT_MAX
