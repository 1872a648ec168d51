"""Meta's publishing rules (the module both the API and the sandbox run): their edges."""

from __future__ import annotations

import pytest

from instasched.integrations.instagram import publish_rules as meta


@pytest.mark.parametrize(
    ("width", "height", "ok"),
    [
        (1080, 1350, True),  # 0.8 exactly
        (1910, 1000, True),  # 1.91 exactly
        (1080, 1351, False),
        (1911, 1000, False),
        (1080, 0, False),
    ],
)
def test_aspect_ratio_edges(width: int, height: int, ok: bool) -> None:
    assert meta.aspect_ratio_ok(width, height) is ok


def test_durations_in_milliseconds() -> None:
    assert meta.milliseconds(4.0170068) == 4017
    assert meta.milliseconds(2.9996) == 3000
    for reel, low, high in ((True, 3_000, 900_000), (False, 3_000, 60_000)):
        assert meta.duration_ok(low, reel=reel) and meta.duration_ok(high, reel=reel)
        assert not meta.duration_ok(low - 1, reel=reel)
        assert not meta.duration_ok(high + 1, reel=reel)
    assert meta.seconds_text(2_999) == "2.999 s"
    assert meta.seconds_text(60_000) == "60 s"
    assert meta.seconds_text(125_500) == "2 min 5.5 s"
    assert meta.seconds_text(900_000) == "15 min"


def test_caption_limits_in_order() -> None:
    assert meta.caption_limits("x" * 2200, max_hashtags=30)[0] is None
    excess, _ = meta.caption_limits("#a " * 800, max_hashtags=30)
    assert excess == meta.Excess("characters", 2400, 2200)
    excess, scan = meta.caption_limits("#a #b @c", max_hashtags=1)
    assert excess == meta.Excess("hashtags", 2, 1) and scan.mentions == ["c"]
    # Only ASCII usernames are mentions, for both sides.
    text = " ".join(f"@u{i}" for i in range(20)) + " @émile"
    assert meta.caption_limits(text, max_hashtags=30)[0] is None
    excess, _ = meta.caption_limits(text + " @u20", max_hashtags=30)
    assert excess == meta.Excess("@-mentions", 21, 20)


def test_tag_coordinates_and_comments() -> None:
    assert all(meta.coordinate_ok(v) for v in (0, 1, 0.5, 1.0))
    assert not any(meta.coordinate_ok(v) for v in (-0.1, 1.01, "0.5", True, None))
    assert meta.comment_ok("x" * 2200) and not meta.comment_ok("x" * 2201)
    assert not meta.comment_ok(" \n ")
