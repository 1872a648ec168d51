"""Media API schemas (camelCase JSON)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from instasched.kit import examples as ex
from instasched.kit.schemas import ApiModel, RequestModel, examples

MediaType = Literal["image", "video"]

_PREVIEW_URL = ex.S3_URL.removesuffix(".jpg") + ".preview.jpg" + ex.PRESIGNED_QUERY
COMPATIBILITY_EXAMPLE: dict[str, Any] = {
    "feed": {"ok": True, "reasons": []},
    "carousel": {"ok": True, "reasons": []},
    "reel": {"ok": False, "reasons": ["reels are videos; upload an MP4 or MOV video for a reel"]},
    "story": {
        "ok": True,
        "reasons": ["stories are shown 9:16; other shapes get bars or are cropped"],
    },
}
MEDIA_ASSET_EXAMPLE: dict[str, Any] = {
    "id": ex.MEDIA_ID,
    "instagramAccountId": ex.ACCOUNT_ID,
    "filename": f"{ex.MEDIA_ID}.jpg",
    "originalFilename": "winter-knits.jpg",
    "mimeType": "image/jpeg",
    "fileSize": 842311,
    "mediaType": "image",
    "s3Url": ex.S3_URL,
    "url": ex.S3_URL + ex.PRESIGNED_QUERY,
    "publishUrl": ex.S3_URL + ex.PRESIGNED_QUERY,
    "previewUrl": _PREVIEW_URL,
    "thumbnailUrl": _PREVIEW_URL,
    "urlsExpireAt": "2026-12-01T10:12:30Z",
    "width": 1080,
    "height": 1350,
    "duration": None,
    "durationMs": None,
    "metadata": {
        "format": "JPEG",
        "mode": "RGB",
        "frames": 1,
        "has_alpha": False,
        "exif_orientation": 1,
        "coded_width": 1080,
        "coded_height": 1350,
        "converted": False,
        "conversion": [],
        "icc_profile": None,
        "publish_format": "JPEG",
        "publish_bytes": 842311,
        "preview_width": 864,
        "preview_height": 1080,
        "client_content_type": "image/jpeg",
    },
    "compatibility": COMPATIBILITY_EXAMPLE,
    "conversionOffered": None,
    "tags": ["winter", "knitwear"],
    "usedInPosts": 1,
    "lastUsedAt": ex.POST_CREATED_AT,
    "storedBytes": 1010743,
    "checksumSha256": "b17c721e0ab3503a5831925199b6a8081f0729ebdf0c64e508502b1c1e342962",
    "createdAt": ex.UPLOADED_AT,
}


class PlacementCheck(ApiModel):
    model_config = examples(COMPATIBILITY_EXAMPLE["reel"])

    ok: bool = Field(description="Whether Instagram accepts the asset for this placement")
    reasons: list[str] = Field(
        description="Why not (when ok is false), or advisory notes (when ok is true)"
    )


class Compatibility(ApiModel):
    model_config = examples(COMPATIBILITY_EXAMPLE)

    feed: PlacementCheck
    carousel: PlacementCheck
    reel: PlacementCheck
    story: PlacementCheck


class MediaAsset(ApiModel):
    model_config = examples(MEDIA_ASSET_EXAMPLE)

    id: uuid.UUID
    instagram_account_id: uuid.UUID | None
    filename: str = Field(description="Stored name: `{assetId}.{ext}`")
    original_filename: str
    mime_type: str = Field(description="Detected from the content, not the client's header")
    file_size: int = Field(description="Bytes of the original upload")
    media_type: MediaType
    s3_url: str = Field(description="The object's address (not fetchable without a signature)")
    url: str = Field(description="Presigned GET URL of the original")
    publish_url: str = Field(
        description="Presigned GET URL of the file Instagram fetches (converted JPEG, or "
        "faststart video; else the original)"
    )
    preview_url: str | None = Field(description="Presigned preview (images: longest side 1080)")
    thumbnail_url: str | None = Field(
        description="Presigned thumbnail (videos: a frame about 1 s in; images: the preview)"
    )
    urls_expire_at: datetime
    width: int | None = Field(description="Displayed width (EXIF orientation / rotation applied)")
    height: int | None
    duration: int | None = Field(
        description="Seconds as a person reads them (videos): rounded half up, so 4.017 s is 4 "
        "and 4.5 s is 5; every rule uses durationMs"
    )
    duration_ms: int | None = Field(description="Milliseconds (videos)")
    metadata: dict[str, Any] = Field(
        description="Probe results: format, codecs, fps, rotation, sample rate, faststart, ..."
    )
    compatibility: Compatibility
    conversion_offered: Literal["remux", "transcode"] | None = Field(
        None,
        description="Videos that break Instagram's format rules: what `POST "
        "/media/assets/{assetId}/convert` would do (`remux`: the streams copied with the index "
        "first; `transcode`: re-encoded to H.264/AAC); null when the video fits or for images",
    )
    tags: list[str]
    used_in_posts: int
    last_used_at: datetime | None
    stored_bytes: int = Field(description="Original plus derived objects")
    checksum_sha256: str | None
    created_at: datetime


class MediaPage(ApiModel):
    model_config = examples({"items": [MEDIA_ASSET_EXAMPLE], "total": 1, "page": 1, "limit": 20})

    items: list[MediaAsset]
    total: int
    page: int
    limit: int


class MediaUpdate(RequestModel):
    model_config = examples({"tags": ["winter", "knitwear", "sale"]})

    tags: list[str] = Field(
        max_length=30,
        description="Replaces the tags (lower-cased, leading '#' removed, 1-50 characters each)",
        examples=[["summer", "launch"]],
    )


class UsageByType(ApiModel):
    model_config = examples({"count": 41, "bytes": 38912004})

    count: int
    bytes: int


class MediaUsage(ApiModel):
    model_config = examples(
        {
            "count": 47,
            "bytes": 412885217,
            "originalBytes": 398120544,
            "images": {"count": 41, "bytes": 38912004},
            "videos": {"count": 6, "bytes": 373973213},
        }
    )

    count: int = Field(description="Assets in the library")
    bytes: int = Field(description="Bytes stored in S3 (originals plus derived files)")
    original_bytes: int = Field(description="Bytes of the originals as uploaded")
    images: UsageByType
    videos: UsageByType
