"""Media API schemas (camelCase JSON)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from instasched.kit.schemas import ApiModel, RequestModel

MediaType = Literal["image", "video"]


class PlacementCheck(ApiModel):
    ok: bool = Field(description="Whether Instagram accepts the asset for this placement")
    reasons: list[str] = Field(
        description="Why not (when ok is false), or advisory notes (when ok is true)"
    )


class Compatibility(ApiModel):
    feed: PlacementCheck
    carousel: PlacementCheck
    reel: PlacementCheck
    story: PlacementCheck


class MediaAsset(ApiModel):
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
    tags: list[str]
    used_in_posts: int
    last_used_at: datetime | None
    stored_bytes: int = Field(description="Original plus derived objects")
    checksum_sha256: str | None
    created_at: datetime


class MediaPage(ApiModel):
    items: list[MediaAsset]
    total: int
    page: int
    limit: int


class MediaUpdate(RequestModel):
    tags: list[str] = Field(
        max_length=30,
        description="Replaces the tags (lower-cased, leading '#' removed, 1-50 characters each)",
        examples=[["summer", "launch"]],
    )


class UsageByType(ApiModel):
    count: int
    bytes: int


class MediaUsage(ApiModel):
    count: int = Field(description="Assets in the library")
    bytes: int = Field(description="Bytes stored in S3 (originals plus derived files)")
    original_bytes: int = Field(description="Bytes of the originals as uploaded")
    images: UsageByType
    videos: UsageByType
