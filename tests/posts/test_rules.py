"""Fast unit tests of the pure post rules (no servers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from instasched.exceptions import Invalid
from instasched.integrations.instagram import publish_rules as meta
from instasched.kit.text import counted, with_article
from instasched.kit.time import parse_datetime
from instasched.posts import rules
from instasched.posts.idempotency import check_idempotency_key
from instasched.posts.media_refs import url_locations
from instasched.posts.rules import MediaItem

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
OK = {"feed": {"ok": True, "reasons": []}}


def field_of(exc: pytest.ExceptionInfo[Invalid]) -> str:
    detail = exc.value.detail
    assert isinstance(detail, list) and detail
    return str(detail[0]["field"])


# --- time window ----------------------------------------------------------------------------
def _window(when: datetime, now: datetime = NOW, *, tz: str = "UTC", months: int = 6) -> None:
    rules.check_time_window(
        when, now=now, min_lead_seconds=300, max_lead_months=months, tz=ZoneInfo(tz)
    )


def test_time_window_bounds() -> None:
    _window(NOW + timedelta(seconds=300))
    _window(datetime(2027, 5, 29, 12, 0, tzinfo=UTC))  # six calendar months
    with pytest.raises(Invalid) as exc:
        _window(NOW + timedelta(seconds=299))
    assert field_of(exc) == "scheduledFor"
    assert "at least 5 minutes (300 s)" in exc.value.message
    with pytest.raises(Invalid) as exc:
        _window(datetime(2027, 5, 29, 12, 0, 1, tzinfo=UTC))
    assert "at most 6 months" in exc.value.message
    assert "2027-05-29T12:00:00Z" in exc.value.message
    with pytest.raises(Invalid, match="in the future"):
        rules.check_time_window(
            NOW - timedelta(days=1),
            now=NOW,
            min_lead_seconds=0,
            max_lead_months=1,
            tz=ZoneInfo("UTC"),
        )


@pytest.mark.parametrize(
    ("now", "latest"),
    [
        # 184 days: a fixed 183 refused exactly six months ahead.
        ("2027-07-06T10:00:00", "2028-01-06T10:00:00"),
        # 181 days: a fixed 183 accepted six months and two days.
        ("2026-12-01T10:00:00", "2027-06-01T10:00:00"),
        # The day is clamped to the month's end, in a leap year and not.
        ("2026-08-31T10:00:00", "2027-02-28T10:00:00"),
        ("2027-08-31T10:00:00", "2028-02-29T10:00:00"),
        ("2026-12-31T23:30:00", "2027-06-30T23:30:00"),
    ],
)
def test_time_window_is_calendar_months(now: str, latest: str) -> None:
    start = datetime.fromisoformat(now).replace(tzinfo=UTC)
    edge = datetime.fromisoformat(latest).replace(tzinfo=UTC)
    _window(edge, start)
    with pytest.raises(Invalid, match="at most 6 months"):
        _window(edge + timedelta(seconds=1), start)
    with pytest.raises(Invalid, match="at most 6 months"):
        _window(edge + timedelta(days=1), start)


def test_time_window_months_are_counted_in_the_account_timezone() -> None:
    # 2026-08-31 23:30 in New York is already Sep 1 in UTC: the months count from Aug 31 there,
    # so the latest is Feb 28 23:30 New York time (EST) = 2027-03-01T04:30Z.
    start = datetime(2026, 9, 1, 3, 30, tzinfo=UTC)
    edge = datetime(2027, 3, 1, 4, 30, tzinfo=UTC)
    _window(edge, start, tz="America/New_York")
    with pytest.raises(Invalid, match="2027-03-01T04:30:00Z"):
        _window(edge + timedelta(minutes=1), start, tz="America/New_York")
    # In UTC the same instant is Sep 1 + 6 months = Mar 1 03:30Z.
    with pytest.raises(Invalid, match="2027-03-01T03:30:00Z"):
        _window(edge, start)
    # Across a DST change the wall-clock time is kept: 09:00 EDT (13:00Z) → 09:00 EST (14:00Z).
    _window(
        datetime(2027, 1, 10, 14, 0, tzinfo=UTC),
        datetime(2026, 7, 10, 13, 0, tzinfo=UTC),
        tz="America/New_York",
    )
    with pytest.raises(Invalid):
        _window(
            datetime(2027, 1, 10, 14, 0, 1, tzinfo=UTC),
            datetime(2026, 7, 10, 13, 0, tzinfo=UTC),
            tz="America/New_York",
        )


@pytest.mark.parametrize(
    ("zone_name", "wall", "expected_utc"),
    [
        # spring forward: 02:30 does not exist, moves forward by the gap
        ("America/New_York", "2027-03-14T02:30:00", "2027-03-14T07:30:00+00:00"),
        ("Europe/Berlin", "2027-03-28T02:30:00", "2027-03-28T01:30:00+00:00"),
        # fall back: 01:30 (NY) / 02:30 (Berlin) happen twice, the first (daylight) is used
        ("America/New_York", "2027-11-07T01:30:00", "2027-11-07T05:30:00+00:00"),
        ("Europe/Berlin", "2027-10-31T02:30:00", "2027-10-31T00:30:00+00:00"),
        # an explicit offset is exact, whatever the account's zone
        ("Europe/Berlin", "2027-03-28T02:30:00-05:00", "2027-03-28T07:30:00+00:00"),
    ],
)
def test_wall_clock_times_in_dst_changes(zone_name: str, wall: str, expected_utc: str) -> None:
    parsed = parse_datetime(wall, ZoneInfo(zone_name), field="scheduledFor")
    assert parsed.isoformat() == expected_utc


# --- caption --------------------------------------------------------------------------------
def test_scan_finds_hashtags_and_mentions() -> None:
    scan = meta.scan_caption(
        "New! #Launch #été_2026 #日本 #one#two Room # 5 C# mail me: a@b.com @brand. @x_y.z"
    )
    assert scan.hashtags == ["Launch", "été_2026", "日本", "one", "two"]
    assert scan.mentions == ["brand", "x_y.z"]
    assert scan.invalid_hashtags == []


@pytest.mark.parametrize("bad", ["#summer-sale", "#mom's", "#a.b", "#-sale", "#$money"])
def test_invalid_hashtags_are_refused(bad: str) -> None:
    with pytest.raises(Invalid) as exc:
        rules.check_caption(f"Great day {bad} today", max_hashtags=30)
    assert field_of(exc) == "caption"
    assert bad in exc.value.message


def test_trailing_punctuation_and_emoji_end_a_hashtag() -> None:
    scan = rules.check_caption("Fun #summer! Also #sale🎉 and #deal.", max_hashtags=30)
    assert scan.hashtags == ["summer", "sale", "deal"]


def test_caption_limits() -> None:
    rules.check_caption("x" * 2200, max_hashtags=30)
    with pytest.raises(Invalid, match="2201 characters"):
        rules.check_caption("x" * 2201, max_hashtags=30)
    tags = " ".join(f"#t{i}" for i in range(31))
    rules.check_caption(tags, max_hashtags=31)
    with pytest.raises(Invalid, match="31 hashtags; Instagram allows at most 30"):
        rules.check_caption(tags, max_hashtags=30)
    # Instagram's cap since December 2025, the MAX_HASHTAGS default.
    assert meta.HASHTAGS_MAX == 5
    rules.check_caption("#a #b #c #d #e", max_hashtags=meta.HASHTAGS_MAX)
    with pytest.raises(Invalid, match="6 hashtags; Instagram allows at most 5"):
        rules.check_caption("#a #b #c #d #e #f", max_hashtags=meta.HASHTAGS_MAX)
    mentions = " ".join(f"@user{i}" for i in range(21))
    with pytest.raises(Invalid, match="21 @-mentions"):
        rules.check_caption(mentions, max_hashtags=30)
    rules.check_caption(" ".join(f"@user{i}" for i in range(20)), max_hashtags=30)


# --- usernames and tags ---------------------------------------------------------------------
def test_usernames() -> None:
    assert rules.check_username("@nat.geo_1", field="f") == "nat.geo_1"
    for bad in ["", "a b", "x" * 31, ".lead", "trail.", "two..dots", "émile", 12]:
        with pytest.raises(Invalid) as exc:
            rules.check_username(bad, field="collaborators[0]")
        assert field_of(exc) == "collaborators[0]"


def test_product_tags() -> None:
    assert rules.check_product_tags([{"productId": "p1", "x": 0, "y": 1}]) == [
        {"productId": "p1", "x": 0.0, "y": 1.0}
    ]
    with pytest.raises(Invalid) as exc:
        rules.check_product_tags([{"productId": "p1", "x": 0.5, "y": 1.2}])
    assert field_of(exc) == "productTags[0].y"
    with pytest.raises(Invalid) as exc:
        rules.check_product_tags([{"productId": " ", "x": 0.5, "y": 0.5}])
    assert field_of(exc) == "productTags[0].productId"


def test_user_tags_and_collaborators() -> None:
    tags = rules.check_user_tags([{"username": "a", "x": 0.1, "y": 0.2}], need_position=True)
    assert tags == [{"username": "a", "x": 0.1, "y": 0.2}]
    assert rules.check_user_tags([{"username": "a"}], need_position=False) == [{"username": "a"}]
    with pytest.raises(Invalid) as exc:
        rules.check_user_tags([{"username": "a"}], need_position=True)
    assert field_of(exc) == "userTags[0].x"
    with pytest.raises(Invalid, match="at most 20"):
        rules.check_user_tags([{"username": f"u{i}"} for i in range(21)], need_position=False)
    with pytest.raises(Invalid) as exc:
        rules.check_user_tags([{"username": "a", "x": -0.1, "y": 0.5}], need_position=True)
    assert field_of(exc) == "userTags[0].x"
    five = ["a", "@b", "c", "d", "e"]
    for kind in ("IMAGE", "REELS", "VIDEO", "CAROUSEL"):
        assert rules.check_collaborators(five, media_type=kind) == ["a", "b", "c", "d", "e"]
    with pytest.raises(Invalid, match="6 collaborators were given; Instagram allows at most 5"):
        rules.check_collaborators([*five, "f"], media_type="IMAGE")
    with pytest.raises(Invalid, match="not allow collaborators on STORIES") as exc:
        rules.check_collaborators(["a"], media_type="STORIES")
    assert field_of(exc) == "collaborators"
    assert rules.check_collaborators([], media_type="STORIES") == []
    with pytest.raises(Invalid, match="twice"):
        rules.check_collaborators(["a", "A"], media_type="IMAGE")


def test_collaborators_rule_shared_with_the_sandbox() -> None:
    """Meta: up to 5 on feed images, reels and carousels, on the carousel container only."""
    assert meta.collaborators_problem(5, media_type="CAROUSEL") is None
    assert meta.collaborators_problem(0, media_type="STORIES") is None
    assert "at most 5" in str(meta.collaborators_problem(6, media_type="REELS"))
    assert "STORIES" in str(meta.collaborators_problem(1, media_type="STORIES"))
    item = meta.collaborators_problem(1, media_type="IMAGE", carousel_item=True)
    assert item is not None and "carousel container" in item


def test_location_id() -> None:
    assert rules.check_location_id(" 110184922344060 ") == "110184922344060"
    with pytest.raises(Invalid) as exc:
        rules.check_location_id("Paris")
    assert field_of(exc) == "locationId"


# --- media ----------------------------------------------------------------------------------
def img(i: int = 0, compat: dict[str, object] | None = None) -> MediaItem:
    return MediaItem(field=f"mediaIds[{i}]", kind="image", compatibility=compat or OK)


def vid(i: int = 0) -> MediaItem:
    return MediaItem(field=f"mediaIds[{i}]", kind="video", compatibility={})


def test_media_counts_and_kinds() -> None:
    rules.check_media("IMAGE", [img()])
    rules.check_media("REELS", [vid()])
    rules.check_media("VIDEO", [vid()])
    rules.check_media("STORIES", [vid()])
    rules.check_media("STORIES", [img()])
    rules.check_media("CAROUSEL", [img(0), vid(1)])
    rules.check_media("CAROUSEL", [img(i) for i in range(10)])
    with pytest.raises(Invalid, match="At least one media item"):
        rules.check_media("IMAGE", [])
    with pytest.raises(Invalid, match="exactly 1"):
        rules.check_media("IMAGE", [img(0), img(1)])
    with pytest.raises(Invalid, match="2 to 10"):
        rules.check_media("CAROUSEL", [img()])
    with pytest.raises(Invalid, match="2 to 10"):
        rules.check_media("CAROUSEL", [img(i) for i in range(11)])
    with pytest.raises(Invalid) as exc:
        rules.check_media("IMAGE", [vid()])
    assert "is a video, but an IMAGE post needs an image" in exc.value.message
    with pytest.raises(Invalid) as exc:
        rules.check_media("REELS", [img(0)])
    assert field_of(exc) == "mediaIds[0]"
    assert "is an image, but a REELS post needs a video" in exc.value.message


def test_messages_use_the_right_article() -> None:
    with pytest.raises(Invalid, match=r"^An IMAGE post takes exactly 1 media item"):
        rules.check_media("IMAGE", [img(0), img(1)])
    with pytest.raises(Invalid, match=r"^A REELS post takes exactly 1 media item"):
        rules.check_media("REELS", [vid(), vid()])
    # Several stories as one post (issue 19): published in order, one story per media.
    rules.check_media("STORIES", [img(0), vid(), img(1)])
    feed_no = {"feed": {"ok": False, "reasons": ["too small"]}}
    with pytest.raises(Invalid, match="cannot be used in an IMAGE post: too small"):
        rules.check_media("IMAGE", [img(0, feed_no)])
    assert with_article("IMAGE") == "an IMAGE" and with_article("VIDEO") == "a VIDEO"
    assert with_article("image", start=True) == "An image"
    assert counted(1, "minute") == "1 minute" and counted(2, "minute") == "2 minutes"


def test_thumb_offset_is_checked_in_milliseconds() -> None:
    # durationMs 4017 (duration 4): 4017 is the last frame; 4500..5000 were accepted when the
    # rule compared with the seconds rounded up (5 s) and the post failed at its time.
    video = MediaItem(field="mediaIds[0]", kind="video", compatibility=OK, duration_ms=4017)
    for fine in (0, 4000, 4017):
        rules.check_thumb_offset(fine, video)
    for late in (4018, 4500, 4900, 4999, 5000, 5001):
        with pytest.raises(Invalid) as exc:
            rules.check_thumb_offset(late, video)
        assert field_of(exc) == "thumbOffsetMs"
        assert "4017 ms (4.017 s)" in exc.value.message
        assert not meta.thumb_offset_ok(late, 4017)
    # Unknown duration: nothing to compare with (the sandbox measures the file).
    rules.check_thumb_offset(10**6, MediaItem(field="mediaIds[0]", kind="video", compatibility=OK))


@pytest.mark.parametrize(
    ("duration_ms", "seconds"),
    [(4017, 4), (1021, 1), (4499, 4), (4500, 5), (999, 1), (3000, 3), (0, 0)],
)
def test_duration_in_seconds_is_rounded_half_up(duration_ms: int, seconds: int) -> None:
    assert meta.seconds_shown(duration_ms) == seconds


def test_first_comment_must_not_be_blank() -> None:
    for blank in ("", "   ", "\n"):
        with pytest.raises(Invalid) as exc:
            rules.check_extras("IMAGE", extras(first_comment=blank), max_hashtags=30)
        assert field_of(exc) == "firstComment" and "blank" in exc.value.message
        assert not meta.comment_ok(blank)


def test_media_compatibility_report_is_enforced_per_use() -> None:
    wide = {
        "feed": {"ok": False, "reasons": ["aspect ratio 3.0 is wider than 1.91:1"]},
        "story": {"ok": True, "reasons": []},
        "carousel": {"ok": False, "reasons": ["aspect ratio 3.0 is wider than 1.91:1"]},
    }
    rules.check_media("STORIES", [img(0, wide)])
    with pytest.raises(Invalid) as exc:
        rules.check_media("IMAGE", [img(0, wide)])
    assert "aspect ratio 3.0" in exc.value.message and field_of(exc) == "mediaIds[0]"
    with pytest.raises(Invalid, match="mediaIds\\[1\\] cannot be used in a CAROUSEL"):
        rules.check_media("CAROUSEL", [img(0), img(1, wide)])


def extras(**kw: object) -> rules.Extras:
    base: dict[str, object] = {
        "caption": "",
        "first_comment": None,
        "product_tags": [],
        "user_tags": [],
        "collaborators": [],
        "alt_text": None,
        "cover_url": None,
        "thumb_offset_ms": None,
        "share_to_feed": None,
        "location_id": None,
    }
    base.update(kw)
    return rules.Extras(**base)  # type: ignore[arg-type]


def test_extras_per_type() -> None:
    rules.check_extras("IMAGE", extras(caption="hi", alt_text="a dog"), max_hashtags=30)
    rules.check_extras(
        "REELS",
        extras(cover_url="https://x", thumb_offset_ms=0, share_to_feed=True),
        max_hashtags=30,
    )
    with pytest.raises(Invalid) as exc:
        rules.check_extras("STORIES", extras(caption="hi"), max_hashtags=30)
    assert field_of(exc) == "caption" and "STORIES carry no caption" in exc.value.message
    with pytest.raises(Invalid) as exc:
        rules.check_extras("REELS", extras(alt_text="x"), max_hashtags=30)
    assert field_of(exc) == "altText"
    with pytest.raises(Invalid) as exc:
        rules.check_extras("IMAGE", extras(share_to_feed=False), max_hashtags=30)
    assert field_of(exc) == "shareToFeed"
    with pytest.raises(Invalid) as exc:
        rules.check_extras("CAROUSEL", extras(cover_url="https://x"), max_hashtags=30)
    assert field_of(exc) == "coverUrl"
    with pytest.raises(Invalid) as exc:
        rules.check_extras("REELS", extras(thumb_offset_ms=-1), max_hashtags=30)
    assert field_of(exc) == "thumbOffsetMs"
    with pytest.raises(Invalid) as exc:
        rules.check_extras("IMAGE", extras(first_comment="#bad-tag"), max_hashtags=30)
    assert field_of(exc) == "firstComment"


# --- helpers of the service -----------------------------------------------------------------
def test_url_locations_ignore_the_signature() -> None:
    assert url_locations("http://127.0.0.1:9000/bucket/media/u/a%20b.jpg?X-Amz-Signature=1") == [
        ("bucket", "media/u/a b.jpg")
    ]
    assert url_locations("https://bucket.s3.amazonaws.com/media/x.jpg")[-1] == (
        "bucket",
        "media/x.jpg",
    )
    assert url_locations("ftp://host/bucket/key") == []
    assert url_locations("not a url") == []


def test_idempotency_key_format() -> None:
    assert check_idempotency_key(None) is None
    assert check_idempotency_key("abc-123") == "abc-123"
    for bad in ["", "x" * 256, "tab\there"]:
        with pytest.raises(Invalid) as exc:
            check_idempotency_key(bad)
        assert field_of(exc) == "Idempotency-Key"


def test_features_by_login_kind() -> None:
    """Collaborators and product tags need Facebook Login: the 422 names the feature and the
    fix; Facebook Login accounts, and posts without them, pass."""
    for field in ("collaborators", "productTags"):
        with pytest.raises(Invalid) as exc:
            rules.check_login_kind("instagram", {field: True})
        assert field_of(exc) == field
        assert f"connect this account with Facebook Login to use {field}" in exc.value.message
        rules.check_login_kind("facebook", {field: True})
    rules.check_login_kind("instagram", {"collaborators": False, "productTags": False})
