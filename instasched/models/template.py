from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from instasched.models.base import Base, created_at_col, updated_at_col, uuid_pk


class PostTemplate(Base):
    __tablename__ = "instagram_post_templates"
    __table_args__ = (
        Index("idx_post_templates_workspace", "workspace_id"),
        Index("idx_post_templates_account", "instagram_account_id"),
        Index("idx_post_templates_category", "category"),
        Index("idx_post_templates_active", "is_active"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    instagram_account_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("instagram_accounts.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    category: Mapped[str | None] = mapped_column(String(100))
    caption_template: Mapped[str] = mapped_column(Text, nullable=False)
    variables: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    default_media_type: Mapped[str | None] = mapped_column(
        String(50), server_default=text("'IMAGE'")
    )
    suggested_hashtags: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    suggested_mentions: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    usage_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_col()
    updated_at: Mapped[datetime] = updated_at_col()
