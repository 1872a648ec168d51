"""Pure rules for scheduled posts: time window, caption, media counts and kinds, extras.

Nothing here touches the database or the network, so every rule has fast unit tests
(tests/posts/test_rules.py). Each violation is an `Invalid` (422) whose message names the field
with the JSON name the client sent (`scheduledFor`, `mediaIds[1]`, `userTags[0].x`, ...).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from instasched.exceptions import Invalid

IMAGE = "IMAGE"
VIDEO = "VIDEO"
REELS = "REELS"
CAROUSEL = "CAROUSEL"
STORIES = "STORIES"
MEDIA_TYPES = (IMAGE, VIDEO, REELS, CAROUSEL, STORIES)

# Which entry of an asset's `compatibility` report applies to each post type.
COMPATIBILITY_USE = {
    IMAGE: "feed",
    VIDEO: "reel",
    REELS: "reel",
    CAROUSEL: "carousel",
    STORIES: "story",
}

CAPTION_MAX = 2200
FIRST_COMMENT_MAX = 2200
MENTIONS_MAX = 20
USER_TAGS_MAX = 20
COLLABORATORS_MAX = 3
PRODUCT_TAGS_MAX = 20
CAROUSEL_MIN = 2
CAROUSEL_MAX = 10
ALT_TEXT_MAX = 1000
USERNAME_MAX = 30
LOCATION_ID_MAX = 255

_USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._")
# Punctuation that, between two word characters, means the writer expected one hashtag
# ("#summer-sale", "#mom's") while Instagram would cut it short.
_JOINERS = frozenset("-'’./&+")


# --- time -----------------------------------------------------------------------------------
def check_time_window(
    when: datetime,
    *,
    now: datetime,
    min_lead_seconds: int,
    max_lead_days: int,
    field: str = "scheduledFor",
) -> None:
    """`when` must be at least `min_lead_seconds` and at most `max_lead_days` after `now`."""
    earliest = now + timedelta(seconds=min_lead_seconds)
    latest = now + timedelta(days=max_lead_days)
    if when < earliest:
        raise Invalid(
            f"{field} must be at least {_lead_text(min_lead_seconds)} in the future "
            f"(the earliest possible time now is {_iso(earliest)}; got {_iso(when)})",
            field=field,
        )
    if when > latest:
        raise Invalid(
            f"{field} must be at most {max_lead_days} days in the future "
            f"(the latest possible time now is {_iso(latest)}; got {_iso(when)})",
            field=field,
        )


def _lead_text(seconds: int) -> str:
    if seconds % 60 == 0 and seconds >= 60:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''} ({seconds} s)"
    return f"{seconds} s"


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


# --- caption --------------------------------------------------------------------------------
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
            while j < n and text[j] in _USERNAME_CHARS and j - i <= USERNAME_MAX:
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


def check_caption(
    caption: str,
    *,
    max_hashtags: int,
    field: str = "caption",
    max_length: int = CAPTION_MAX,
) -> CaptionScan:
    """Length, hashtag format and count, mention count. Returns what was found."""
    if len(caption) > max_length:
        raise Invalid(
            f"{field} is {len(caption)} characters long; Instagram allows at most {max_length}",
            field=field,
        )
    scan = scan_caption(caption)
    if scan.invalid_hashtags:
        shown = ", ".join(repr(t) for t in scan.invalid_hashtags[:5])
        raise Invalid(
            f"{field} has invalid hashtags: {shown}. A hashtag is # followed by letters, "
            "digits and underscores only (no spaces, hyphens, apostrophes or dots)",
            field=field,
        )
    if len(scan.hashtags) > max_hashtags:
        raise Invalid(
            f"{field} has {len(scan.hashtags)} hashtags; at most {max_hashtags} are allowed",
            field=field,
        )
    if len(scan.mentions) > MENTIONS_MAX:
        raise Invalid(
            f"{field} has {len(scan.mentions)} @-mentions; Instagram allows at most {MENTIONS_MAX}",
            field=field,
        )
    return scan


# --- usernames, tags ------------------------------------------------------------------------
def check_username(value: object, *, field: str) -> str:
    """An Instagram username (1-30 of letters, digits, `.`, `_`); a leading `@` is dropped."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be an Instagram username (text)", field=field)
    name = value.strip()
    if name.startswith("@"):
        name = name[1:]
    if (
        not name
        or len(name) > USERNAME_MAX
        or any(c not in _USERNAME_CHARS for c in name)
        or name.startswith(".")
        or name.endswith(".")
        or ".." in name
    ):
        raise Invalid(
            f"{field} {value!r} is not a valid Instagram username (1-30 letters, digits, "
            "periods and underscores)",
            field=field,
        )
    return name


def check_coordinate(value: object, *, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f"{field} must be a number between 0 and 1", field=field)
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise Invalid(f"{field} must be between 0 and 1 (got {value})", field=field)
    return number


def check_product_tags(tags: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if len(tags) > PRODUCT_TAGS_MAX:
        raise Invalid(
            f"productTags has {len(tags)} tags; at most {PRODUCT_TAGS_MAX} are allowed",
            field="productTags",
        )
    cleaned: list[dict[str, Any]] = []
    for i, tag in enumerate(tags):
        product_id = str(tag.get("productId") or "").strip()
        if not product_id:
            raise Invalid(
                f"productTags[{i}].productId is required", field=f"productTags[{i}].productId"
            )
        x = check_coordinate(tag.get("x"), field=f"productTags[{i}].x")
        y = check_coordinate(tag.get("y"), field=f"productTags[{i}].y")
        cleaned.append({"productId": product_id, "x": x, "y": y})
    return cleaned


def check_user_tags(
    tags: Sequence[Mapping[str, Any]], *, need_position: bool
) -> list[dict[str, Any]]:
    if len(tags) > USER_TAGS_MAX:
        raise Invalid(
            f"userTags has {len(tags)} tags; Instagram allows at most {USER_TAGS_MAX}",
            field="userTags",
        )
    cleaned: list[dict[str, Any]] = []
    for i, tag in enumerate(tags):
        name = check_username(tag.get("username"), field=f"userTags[{i}].username")
        x, y = tag.get("x"), tag.get("y")
        item: dict[str, Any] = {"username": name}
        if x is None and y is None:
            if need_position:
                raise Invalid(
                    f"userTags[{i}] needs x and y (0..1): where the tag sits on the image",
                    field=f"userTags[{i}].x",
                )
        else:
            item["x"] = check_coordinate(x, field=f"userTags[{i}].x")
            item["y"] = check_coordinate(y, field=f"userTags[{i}].y")
        cleaned.append(item)
    return cleaned


def check_collaborators(names: Sequence[object]) -> list[str]:
    if len(names) > COLLABORATORS_MAX:
        raise Invalid(
            f"collaborators has {len(names)} usernames; Instagram allows at most "
            f"{COLLABORATORS_MAX}",
            field="collaborators",
        )
    cleaned = [check_username(n, field=f"collaborators[{i}]") for i, n in enumerate(names)]
    if len({c.lower() for c in cleaned}) != len(cleaned):
        raise Invalid("collaborators lists the same username twice", field="collaborators")
    return cleaned


def check_location_id(value: str) -> str:
    text = value.strip()
    if not text or len(text) > LOCATION_ID_MAX or not text.isdigit() or not text.isascii():
        raise Invalid(
            f"locationId {value!r} is not an Instagram location id (a number such as "
            "'110184922344060')",
            field="locationId",
        )
    return text


# --- media ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MediaItem:
    """What the rules need to know about one referenced media asset."""

    field: str  # the JSON path the client used: "mediaIds[0]" or "mediaUrls[0]"
    kind: str  # "image" | "video"
    compatibility: Mapping[str, Any]
    duration_seconds: int | None = None


def check_media(media_type: str, items: Sequence[MediaItem]) -> None:
    """Counts and kinds per post type, then the asset's own Instagram compatibility report."""
    source = items[0].field.split("[")[0] if items else "mediaIds"
    count = len(items)
    if count == 0:
        raise Invalid(
            "At least one media item is required: give mediaIds (or mediaUrls) of your "
            "uploaded media",
            field=source,
        )
    if media_type == CAROUSEL:
        if not CAROUSEL_MIN <= count <= CAROUSEL_MAX:
            raise Invalid(
                f"A CAROUSEL needs {CAROUSEL_MIN} to {CAROUSEL_MAX} media items; got {count}",
                field=source,
            )
    elif count != 1:
        raise Invalid(
            f"A {media_type} post takes exactly 1 media item; got {count} "
            "(use CAROUSEL for 2 to 10)",
            field=source,
        )
    wanted = {IMAGE: "image", VIDEO: "video", REELS: "video"}.get(media_type)
    for item in items:
        if item.kind not in ("image", "video"):
            raise Invalid(f"{item.field} is neither an image nor a video", field=item.field)
        if wanted is not None and item.kind != wanted:
            raise Invalid(
                f"{item.field} is a {item.kind}, but a {media_type} post needs a {wanted}",
                field=item.field,
            )
    use = COMPATIBILITY_USE[media_type]
    for item in items:
        report = item.compatibility.get(use) if item.compatibility else None
        if isinstance(report, Mapping) and report.get("ok") is False:
            reasons = [str(r) for r in report.get("reasons") or []] or ["not accepted"]
            raise Invalid(
                f"{item.field} cannot be used in a {media_type} post: " + "; ".join(reasons),
                field=item.field,
                detail=[{"field": item.field, "message": r} for r in reasons],
            )


# --- per-type extras ------------------------------------------------------------------------
@dataclass
class Extras:
    caption: str
    first_comment: str | None
    product_tags: list[dict[str, Any]]
    user_tags: list[dict[str, Any]]
    collaborators: list[str]
    alt_text: str | None
    cover_url: str | None
    thumb_offset_ms: int | None
    share_to_feed: bool | None
    location_id: str | None


def check_extras(media_type: str, extras: Extras, *, max_hashtags: int) -> None:
    """Which fields each post type accepts, and their own limits."""
    reel = media_type in (VIDEO, REELS)
    if media_type == STORIES:
        for name, present in (
            ("caption", bool(extras.caption)),
            ("firstComment", bool(extras.first_comment)),
            ("productTags", bool(extras.product_tags)),
            ("collaborators", bool(extras.collaborators)),
            ("locationId", bool(extras.location_id)),
        ):
            if present:
                raise Invalid(
                    f"STORIES carry no {name}: Instagram does not show it on a story; remove "
                    f"{name}",
                    field=name,
                )
    else:
        check_caption(extras.caption, max_hashtags=max_hashtags)
    if extras.first_comment is not None:
        check_caption(
            extras.first_comment,
            max_hashtags=max_hashtags,
            field="firstComment",
            max_length=FIRST_COMMENT_MAX,
        )
    if extras.alt_text is not None:
        if media_type != IMAGE:
            raise Invalid(
                "altText is only for IMAGE posts (Instagram accepts alt text on single images)",
                field="altText",
            )
        if len(extras.alt_text) > ALT_TEXT_MAX:
            raise Invalid(
                f"altText is {len(extras.alt_text)} characters; at most {ALT_TEXT_MAX}",
                field="altText",
            )
    for name, value in (
        ("coverUrl", extras.cover_url),
        ("thumbOffsetMs", extras.thumb_offset_ms),
        ("shareToFeed", extras.share_to_feed),
    ):
        if value is not None and not reel:
            raise Invalid(f"{name} is only for REELS (and VIDEO) posts", field=name)
    if extras.thumb_offset_ms is not None and extras.thumb_offset_ms < 0:
        raise Invalid("thumbOffsetMs must be 0 or more (milliseconds)", field="thumbOffsetMs")
