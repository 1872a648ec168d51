from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from instasched.models.base import Base, created_at_col, updated_at_col, uuid_pk


class InstagramAccount(Base):
    """A connected Instagram professional account. The access token is encrypted at rest."""

    __tablename__ = "instagram_accounts"
    __table_args__ = (
        UniqueConstraint("workspace_id", "ig_user_id", name="uq_instagram_accounts_owner_ig_user"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    ig_user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    username: Mapped[str] = mapped_column(String(255), nullable=False)
    # "instagram" (Instagram Login, graph.instagram.com) or "facebook" (Facebook Login).
    login_kind: Mapped[str] = mapped_column(
        String(20), nullable=False, server_default=text("'instagram'")
    )
    access_token_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    token_refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(100), nullable=False, server_default=text("'UTC'"))
    needs_reauth: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    followers_count: Mapped[int | None] = mapped_column(Integer)
    # `config.quota_total` of the account's content_publishing_limit, as last read (migration 0008)
    publishing_quota: Mapped[int | None] = mapped_column(Integer)
    publishing_quota_read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Facebook Login: the Page the account publishes through (its Page token is the stored
    # token); None with Instagram Login (migration 0012).
    facebook_page_id: Mapped[str | None] = mapped_column(String(64))
    facebook_page_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_at_col()
    updated_at: Mapped[datetime] = updated_at_col()


class OAuthState(Base):
    """A single-use OAuth `state`, bound to the user who asked for the authorize URL."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # The workspace the flow started in: the account lands there (migration 0019).
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    timezone: Mapped[str | None] = mapped_column(String(100))
    # Which login's callback may consume it: "instagram" or "facebook" (migration 0012).
    login_kind: Mapped[str] = mapped_column(
        String(20), nullable=False, server_default=text("'instagram'")
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = created_at_col()


class FacebookPendingConnection(Base):
    """The Pages with an Instagram account a person may connect after Facebook Login, until
    they pick one (10 minutes, single use). `pages`: [{pageId, name, igUserId, igUsername,
    token}] with each Page token encrypted like an account's."""

    __tablename__ = "facebook_pending_connections"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # The workspace the flow started in: the account lands there (migration 0019).
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    timezone: Mapped[str | None] = mapped_column(String(100))
    pages: Mapped[list[Any]] = mapped_column(nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = created_at_col()
