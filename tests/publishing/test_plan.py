"""Pure rules: container parameters per media type, URL → key, error classification."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from instasched.integrations.instagram import (
    GraphAuthError,
    GraphMediaNotReady,
    GraphNewContainerNeeded,
    GraphPermanentError,
    GraphQuotaError,
    GraphRetryableError,
    classify_error,
)
from instasched.integrations.instagram.media import ContainerSpec, _parse_ts
from instasched.integrations.storage import Storage
from instasched.models import ScheduledPost
from instasched.publishing.sources import PostProblem, Source, build_plan, key_from_url

IMG = Source(url="https://s3.example/img.jpg?sig", kind="image")
VID = Source(url="https://s3.example/vid.mp4?sig", kind="video")


def post(media_type: str, **fields: Any) -> ScheduledPost:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "caption": "Hello",
        "media_type": media_type,
        "user_tags": [],
        "product_tags": [],
        "collaborators": [],
    }
    values.update(fields)
    return ScheduledPost(**values)


def test_image_sends_only_what_the_post_has() -> None:
    plan = build_plan(post("IMAGE"), [IMG], None)
    assert plan.children == []
    assert plan.parent.params() == {"image_url": IMG.url, "caption": "Hello"}
    full = build_plan(
        post(
            "IMAGE",
            alt_text="alt",
            location_id="7",
            user_tags=[{"username": "a", "x": 0.1, "y": 0.2}],
            product_tags=[{"productId": "p1", "x": 0.3, "y": 0.4}],
            collaborators=["c1"],
        ),
        [IMG],
        None,
    ).parent.params()
    assert full["alt_text"] == "alt" and full["location_id"] == "7"
    assert full["user_tags"] == [{"username": "a", "x": 0.1, "y": 0.2}]
    assert full["product_tags"] == [{"product_id": "p1", "x": 0.3, "y": 0.4}]
    assert full["collaborators"] == ["c1"]
    assert "media_type" not in full


def test_reel_cover_wins_over_thumb_offset() -> None:
    spec = build_plan(
        post("REELS", share_to_feed=False, thumb_offset_ms=1200), [VID], "https://cover"
    ).parent
    params = spec.params()
    assert params["media_type"] == "REELS" and params["video_url"] == VID.url
    assert params["cover_url"] == "https://cover" and "thumb_offset" not in params
    assert params["share_to_feed"] is False
    no_cover = build_plan(post("VIDEO", thumb_offset_ms=1200), [VID], None).parent.params()
    assert no_cover["media_type"] == "REELS" and no_cover["thumb_offset"] == 1200
    assert "share_to_feed" not in no_cover


def test_carousel_children_and_parent() -> None:
    plan = build_plan(
        post("CAROUSEL", location_id="9", collaborators=["c"], alt_text="first"),
        [IMG, VID],
        None,
    )
    assert [c.params() for c in plan.children] == [
        {"image_url": IMG.url, "is_carousel_item": True, "alt_text": "first"},
        {"media_type": "VIDEO", "video_url": VID.url, "is_carousel_item": True},
    ]
    assert plan.parent.params() == {
        "media_type": "CAROUSEL",
        "caption": "Hello",
        "location_id": "9",
        "collaborators": ["c"],
    }
    assert ContainerSpec(media_type="CAROUSEL", children=["1", "2"]).params()["children"] == "1,2"


def test_stories_have_no_caption() -> None:
    assert build_plan(post("STORIES"), [IMG], None).parent.params() == {
        "media_type": "STORIES",
        "image_url": IMG.url,
    }
    assert build_plan(post("STORIES"), [VID], None).parent.params()["video_url"] == VID.url


@pytest.mark.parametrize(
    ("media_type", "sources", "words"),
    [
        ("CAROUSEL", [IMG], "2 to 10"),
        ("CAROUSEL", [IMG] * 11, "2 to 10"),
        ("IMAGE", [IMG, IMG], "^An IMAGE post takes exactly one media item"),
        ("REELS", [IMG], "^A REELS post needs a video"),
    ],
)
def test_impossible_posts_are_post_problems(
    media_type: str, sources: list[Source], words: str
) -> None:
    with pytest.raises(PostProblem, match=words):
        build_plan(post(media_type), sources, None)


def test_key_from_url() -> None:
    storage = Storage(
        endpoint="http://127.0.0.1:8333",
        access_key=None,
        secret_key=None,
        bucket="media",
        public_endpoint="https://files.example.com",
    )
    assert key_from_url(storage, "http://127.0.0.1:8333/media/u/1.jpg") == "u/1.jpg"
    assert key_from_url(storage, "https://files.example.com/media/u/1.jpg?X-Amz=1") == "u/1.jpg"
    assert key_from_url(storage, "https://elsewhere.example/media/u/1.jpg") is None
    assert key_from_url(storage, "http://127.0.0.1:8333/other/u/1.jpg") is None


def test_meta_timestamps() -> None:
    parsed = _parse_ts("2026-11-29T13:00:05+0000")
    assert parsed is not None and parsed.utcoffset() is not None
    assert _parse_ts("not a time") is None and _parse_ts(None) is None


@pytest.mark.parametrize(
    ("code", "subcode", "kind"),
    [
        (2, None, GraphRetryableError),
        (4, None, GraphRetryableError),
        (9004, 2207052, GraphRetryableError),
        (9007, 2207027, GraphMediaNotReady),
        (100, 2207020, GraphNewContainerNeeded),
        (9, 2207042, GraphQuotaError),
        (190, None, GraphAuthError),
        (100, None, GraphPermanentError),
        (36003, 2207009, GraphPermanentError),
        (10, None, GraphPermanentError),
    ],
)
def test_error_classes(code: int, subcode: int | None, kind: type) -> None:
    error = classify_error({"error": {"code": code, "error_subcode": subcode, "message": "m"}})
    assert type(error) is kind
    assert error.human()
