"""Pure rules for scheduled posts: time window, caption, media counts and kinds, extras.

Nothing here touches the database or the network, so every rule has fast unit tests
(tests/posts/test_rules.py). Each violation is an `Invalid` (422) whose message names the field
with the JSON name the client sent (`scheduledFor`, `mediaIds[1]`, `userTags[0].x`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from instasched.exceptions import Invalid
from instasched.integrations.instagram import login_kinds
from instasched.integrations.instagram import publish_rules as meta
from instasched.integrations.instagram.publish_rules import (
    CAPTION_MAX,
    CAROUSEL_MAX,
    CAROUSEL_MIN,
    PRODUCT_TAGS_MAX,
    USER_TAGS_MAX,
    USERNAME_CHARS,
    USERNAME_MAX,
    CaptionScan,
)
from instasched.kit.text import with_article
from instasched.kit.time import add_months

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

ALT_TEXT_MAX = 1000
LOCATION_ID_MAX = 255


# --- time -----------------------------------------------------------------------------------
def check_time_window(
    when: datetime,
    *,
    now: datetime,
    min_lead_seconds: int,
    max_lead_months: int,
    tz: ZoneInfo,
    field: str = "scheduledFor",
) -> None:
    """`when` must be at least `min_lead_seconds` after `now`, and at most `max_lead_months`
    calendar months after it in the account's zone `tz` (the same wall-clock time; the day is
    clamped to the month's end, so from Aug 31 six months reach Feb 28 or 29)."""
    earliest = now + timedelta(seconds=min_lead_seconds)
    latest = add_months(now, max_lead_months, tz)
    if when < earliest:
        raise Invalid(
            f"{field} must be at least {_lead_text(min_lead_seconds)} in the future "
            f"(the earliest possible time now is {_iso(earliest)}; got {_iso(when)})",
            field=field,
        )
    if when > latest:
        months = f"{max_lead_months} month{'s' if max_lead_months != 1 else ''}"
        raise Invalid(
            f"{field} must be at most {months} in the future "
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
def check_caption(
    caption: str,
    *,
    max_hashtags: int,
    field: str = "caption",
    max_length: int = CAPTION_MAX,
) -> CaptionScan:
    """Meta's limits (length, hashtag and mention counts), then the hashtags' format. Returns
    what was found."""
    excess, scan = meta.caption_limits(caption, max_hashtags=max_hashtags, max_length=max_length)
    if excess is not None:
        raise Invalid(
            f"{field} has {excess.count} {excess.what}; Instagram allows at most {excess.limit}",
            field=field,
        )
    if scan.invalid_hashtags:
        shown = ", ".join(repr(t) for t in scan.invalid_hashtags[:5])
        raise Invalid(
            f"{field} has invalid hashtags: {shown}. A hashtag is # followed by letters, "
            "digits and underscores only (no spaces, hyphens, apostrophes or dots)",
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
        or any(c not in USERNAME_CHARS for c in name)
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
    if not meta.coordinate_ok(value):
        raise Invalid(f"{field} must be between 0 and 1 (got {value})", field=field)
    return float(value)


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


def check_collaborators(names: Sequence[object], *, media_type: str) -> list[str]:
    """Meta's rule (shared with the sandbox): at most 5, on feed images, reels and carousels."""
    kind = REELS if media_type == VIDEO else media_type
    problem = meta.collaborators_problem(len(names), media_type=kind)
    if problem is not None:
        raise Invalid(
            f"collaborators: {problem}; remove some or all of them", field="collaborators"
        )
    cleaned = [check_username(n, field=f"collaborators[{i}]") for i, n in enumerate(names)]
    if len({c.lower() for c in cleaned}) != len(cleaned):
        raise Invalid("collaborators lists the same username twice", field="collaborators")
    return cleaned


def check_login_kind(login_kind: str, used: Mapping[str, bool]) -> None:
    """A post may only use the features its account's login kind allows (`login_kinds`):
    `used` maps each feature's JSON name to whether the post uses it. The 422 names the
    feature and the fix (connect the account with Facebook Login)."""
    missing = login_kinds.missing_features(login_kind, dict(used))
    if missing:
        fix = login_kinds.fix_for(missing[0], login_kind)
        raise Invalid(f"{fix} (docs/login-kinds.md)", field=missing[0].field)


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
    duration_ms: int | None = None


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
    elif media_type != STORIES and count != 1:
        # STORIES: 1 to 10 media (the request's limit), published as that many stories in
        # order (publishing/sequence.py).
        raise Invalid(
            f"{with_article(media_type, start=True)} post takes exactly 1 media item; got {count} "
            "(use CAROUSEL for 2 to 10)",
            field=source,
        )
    wanted = {IMAGE: "image", VIDEO: "video", REELS: "video"}.get(media_type)
    for item in items:
        if item.kind not in ("image", "video"):
            raise Invalid(f"{item.field} is neither an image nor a video", field=item.field)
        if wanted is not None and item.kind != wanted:
            raise Invalid(
                f"{item.field} is {with_article(item.kind)}, but {with_article(media_type)} post "
                f"needs {with_article(wanted)}",
                field=item.field,
            )
    use = COMPATIBILITY_USE[media_type]
    for item in items:
        report = item.compatibility.get(use) if item.compatibility else None
        if isinstance(report, Mapping) and report.get("ok") is False:
            reasons = [str(r) for r in report.get("reasons") or []] or ["not accepted"]
            raise Invalid(
                f"{item.field} cannot be used in {with_article(media_type)} post: "
                + "; ".join(reasons),
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
    trial_strategy: str | None = None
    is_ai_generated: bool = False


def check_extras(media_type: str, extras: Extras, *, max_hashtags: int) -> None:
    """Which fields each post type accepts, and their own limits."""
    reel = media_type in (VIDEO, REELS)
    if media_type == STORIES:
        for name, present in (
            ("caption", bool(extras.caption)),
            ("firstComment", bool(extras.first_comment)),
            ("productTags", bool(extras.product_tags)),
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
        if not extras.first_comment.strip():
            raise Invalid(
                "firstComment is empty: Instagram refuses a blank comment; write some text or "
                "leave firstComment out",
                field="firstComment",
            )
        check_caption(
            extras.first_comment,
            max_hashtags=max_hashtags,
            field="firstComment",
            max_length=meta.COMMENT_MAX,
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
    if extras.trial_strategy is not None:
        problem = meta.trial_params_problem(
            extras.trial_strategy, media_type=REELS if reel else media_type
        )
        if problem is None and extras.share_to_feed:
            problem = meta.TRIAL_WITH_SHARE_TO_FEED
        if problem is not None:
            raise Invalid(f"trialParams: {problem}", field="trialParams")
    if extras.thumb_offset_ms is not None and extras.thumb_offset_ms < 0:
        raise Invalid("thumbOffsetMs must be 0 or more (milliseconds)", field="thumbOffsetMs")


def check_thumb_offset(offset_ms: int, video: MediaItem) -> None:
    """The reel's thumbnail frame must be inside the video, to the millisecond (the sandbox
    and Meta refuse it at publish time otherwise: code 100 / 2207057)."""
    if video.duration_ms is not None and not meta.thumb_offset_ok(offset_ms, video.duration_ms):
        raise Invalid(
            f"thumbOffsetMs {offset_ms} is past the end of the video, which lasts "
            f"{video.duration_ms} ms ({meta.seconds_text(video.duration_ms)}); give 0 to "
            f"{video.duration_ms}",
            field="thumbOffsetMs",
        )
