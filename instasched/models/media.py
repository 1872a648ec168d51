from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, column_property, mapped_column

from instasched.models.base import Base, created_at_col, uuid_pk

# Uses of an asset counted since migration 0007, one row per (asset, stripe): a post's uses go
# to its database connection's stripe (`pg_backend_pid() % 16`), so concurrent posts with one
# asset do not queue on one row (one asset, concurrent creates: 768-937 -> 2,761-3,407 inserts/s,
# docs/performance.md). Kept by migration 0011's statement triggers; tests/posts/
# test_bulk_counts.py compares them with the posts' real references after every kind of write.
ASSET_USES = Table(
    "instagram_media_asset_uses",
    Base.metadata,
    Column(
        "asset_id",
        UUID(as_uuid=True),
        ForeignKey("instagram_media_assets.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("stripe", SmallInteger, primary_key=True),
    Column("uses", Integer, nullable=False, server_default=text("0")),
    Column("last_used_at", DateTime(timezone=True)),
)


class MediaAsset(Base):
    """An uploaded file in S3, with its metadata and Instagram compatibility report."""

    __tablename__ = "instagram_media_assets"
    __table_args__ = (
        UniqueConstraint("s3_bucket", "s3_key", name="uq_media_assets_bucket_key"),
        Index("idx_media_assets_workspace", "workspace_id"),
        Index("idx_media_assets_account", "instagram_account_id"),
        Index("idx_media_assets_media_type", "media_type"),
        Index("idx_media_assets_created_at", text("created_at DESC")),
        Index("idx_media_assets_workspace_created", "workspace_id", text("created_at DESC")),
        # Migration 0003: the library's tag filter (`tags @> '["x"]'`).
        Index(
            "idx_media_assets_tags",
            "tags",
            postgresql_using="gin",
            postgresql_ops={"tags": "jsonb_path_ops"},
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    instagram_account_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("instagram_accounts.id", ondelete="SET NULL")
    )
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    original_filename: Mapped[str] = mapped_column(String(255), nullable=False)
    mime_type: Mapped[str] = mapped_column(String(100), nullable=False)
    # The spec says INTEGER; BIGINT keeps 2 GB+ videos representable.
    file_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    media_type: Mapped[str] = mapped_column(String(50), nullable=False)  # image | video
    s3_bucket: Mapped[str] = mapped_column(String(255), nullable=False)
    s3_key: Mapped[str] = mapped_column(String(500), nullable=False)
    s3_url: Mapped[str] = mapped_column(Text, nullable=False)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[int | None] = mapped_column(Integer)  # seconds (rounded half up), as the spec
    thumbnail_url: Mapped[str | None] = mapped_column(Text)
    # The columns hold the uses counted before migration 0007; later ones are in ASSET_USES.
    used_in_posts_before: Mapped[int] = mapped_column(
        "used_in_posts", Integer, server_default=text("0")
    )
    last_used_before: Mapped[datetime | None] = mapped_column(
        "last_used_at", DateTime(timezone=True)
    )
    # What the API shows (read-only): all uses, never below 0, and the latest use.
    used_in_posts: Mapped[int] = column_property(
        func.greatest(
            func.coalesce(used_in_posts_before, 0)
            + func.coalesce(
                select(func.sum(ASSET_USES.c.uses))
                .where(ASSET_USES.c.asset_id == id)
                .correlate_except(ASSET_USES)
                .scalar_subquery(),
                0,
            ),
            0,
        ),
        expire_on_flush=False,  # an edit of the row (tags) does not change them
    )
    last_used_at: Mapped[datetime | None] = column_property(
        func.greatest(
            last_used_before,
            select(func.max(ASSET_USES.c.last_used_at))
            .where(ASSET_USES.c.asset_id == id)
            .correlate_except(ASSET_USES)
            .scalar_subquery(),
        ),
        expire_on_flush=False,
    )
    tags: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    created_at: Mapped[datetime] = created_at_col()

    # --- beyond the spec -----------------------------------------------------------------
    # Keys of derived objects beside the original (Instagram-ready JPEG, preview, thumbnail).
    publish_key: Mapped[str | None] = mapped_column(String(500))
    preview_key: Mapped[str | None] = mapped_column(String(500))
    thumbnail_key: Mapped[str | None] = mapped_column(String(500))
    checksum_sha256: Mapped[str | None] = mapped_column(String(64))
    # Full probe results: fps, codecs, rotation, audio sample rate, duration_ms, exif, ...
    media_metadata: Mapped[dict[str, Any]] = mapped_column(
        "media_metadata", server_default=text("'{}'::jsonb")
    )
    # {"feed": {"ok": bool, "reasons": [...]}, "carousel": ..., "reel": ..., "story": ...}
    compatibility: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    # Sum of every stored object's size (original + derived), for storage usage.
    stored_bytes: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
