from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from instasched.models.base import Base, created_at_col, updated_at_col, uuid_pk


class PostStatus:
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # Drafts and approvals (issue 20 item 2, migration 0020; docs/approvals.md): never queued,
    # staged or published, and not counted against the publishing quota.
    DRAFT = "draft"  # no time needed
    NEEDS_APPROVAL = "needs_approval"  # submitted; waits for an owner or approver
    CHANGES_REQUESTED = "changes_requested"  # sent back with a comment
    APPROVAL_EXPIRED = "approval_expired"  # reached its time unapproved: not published

    ALL = (
        SCHEDULED,
        PUBLISHING,
        PUBLISHED,
        FAILED,
        CANCELLED,
        DRAFT,
        NEEDS_APPROVAL,
        CHANGES_REQUESTED,
        APPROVAL_EXPIRED,
    )
    # Waiting on an approver: these expire at their time (posts.approvals.expire_due).
    AWAITING_APPROVAL = (NEEDS_APPROVAL, CHANGES_REQUESTED)


class ScheduledPost(Base):
    __tablename__ = "instagram_scheduled_posts"
    __table_args__ = (
        # Only a draft (or a draft discarded: cancelled) may have no time (migration 0020).
        CheckConstraint(
            "scheduled_for IS NOT NULL OR status IN ('draft', 'cancelled')", name="time"
        ),
        Index("idx_scheduled_posts_account", "instagram_account_id"),
        Index("idx_scheduled_posts_workspace", "workspace_id"),
        Index("idx_scheduled_posts_status", "status"),
        Index("idx_scheduled_posts_scheduled_for", "scheduled_for"),
        Index("idx_scheduled_posts_published_at", text("published_at DESC")),
        Index("idx_scheduled_posts_template", "template_id"),
        # The list endpoint: one account's posts (optionally by status) in scheduled order.
        Index(
            "idx_scheduled_posts_account_status_time",
            "instagram_account_id",
            "status",
            "scheduled_for",
            "id",  # the list's tie-breaker (migration 0004): a page is a plain index walk
        ),
        Index("idx_scheduled_posts_account_time", "instagram_account_id", "scheduled_for", "id"),
        # The reconciler: due/scheduled posts and stuck publishing posts.
        Index(
            "idx_scheduled_posts_active",
            "status",
            "scheduled_for",
            postgresql_where=text("status IN ('scheduled', 'publishing')"),
        ),
        # The dispatch horizon: scheduled posts by due time (migration 0013, worker.promoter).
        Index(
            "idx_scheduled_posts_due",
            text("coalesce(next_attempt_at, scheduled_for)"),
            "id",
            postgresql_where=text("status = 'scheduled'"),
        ),
        # The publishing quota's 24 h windows (migration 0008, posts.quota).
        Index(
            "idx_scheduled_posts_quota_time",
            "instagram_account_id",
            text("coalesce(published_at, next_attempt_at, scheduled_for)"),
            postgresql_where=text("status IN ('scheduled', 'publishing', 'published')"),
        ),
        # The publishing alerts: posts failed within a window (migration 0009).
        Index(
            "idx_scheduled_posts_failed_at",
            "failed_at",
            postgresql_where=text("status = 'failed'"),
        ),
        # The approval expiry sweep: posts awaiting approval by time (migration 0020).
        Index(
            "idx_scheduled_posts_awaiting_approval",
            "scheduled_for",
            postgresql_where=text("status IN ('needs_approval', 'changes_requested')"),
        ),
        Index(
            "uq_scheduled_posts_idempotency",
            "workspace_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    instagram_account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("instagram_accounts.id", ondelete="CASCADE"), nullable=False
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    # Scheduling
    # None only for a draft without a time yet (migration 0020's check constraint).
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Content
    caption: Mapped[str] = mapped_column(Text, nullable=False)
    media_urls: Mapped[list[Any]] = mapped_column(
        nullable=False, server_default=text("'[]'::jsonb")
    )
    media_type: Mapped[str] = mapped_column(String(50), nullable=False)
    product_tags: Mapped[list[Any] | None] = mapped_column(server_default=text("'[]'::jsonb"))
    location_id: Mapped[str | None] = mapped_column(String(255))
    # Template
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("instagram_post_templates.id", ondelete="SET NULL")
    )
    template_variables: Mapped[dict[str, Any] | None] = mapped_column(
        server_default=text("'{}'::jsonb")
    )
    # Status
    status: Mapped[str] = mapped_column(
        String(50), nullable=False, server_default=text("'scheduled'")
    )
    publish_attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_publish_error: Mapped[str | None] = mapped_column(Text)
    # Instagram response
    instagram_media_id: Mapped[str | None] = mapped_column(String(255))
    instagram_media_url: Mapped[str | None] = mapped_column(Text)
    permalink: Mapped[str | None] = mapped_column(Text)
    # Analytics
    initial_likes: Mapped[int | None] = mapped_column(Integer, server_default=text("0"))
    initial_comments: Mapped[int | None] = mapped_column(Integer, server_default=text("0"))
    initial_reach: Mapped[int | None] = mapped_column(Integer, server_default=text("0"))
    # Metadata ("metadata" is reserved on declarative classes, hence the attribute name)
    meta: Mapped[dict[str, Any] | None] = mapped_column(
        "metadata", server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = created_at_col()
    updated_at: Mapped[datetime] = updated_at_col()
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # --- beyond the spec -----------------------------------------------------------------
    media_ids: Mapped[list[Any]] = mapped_column(nullable=False, server_default=text("'[]'::jsonb"))
    first_comment: Mapped[str | None] = mapped_column(Text)
    first_comment_id: Mapped[str | None] = mapped_column(String(255))
    user_tags: Mapped[list[Any]] = mapped_column(nullable=False, server_default=text("'[]'::jsonb"))
    collaborators: Mapped[list[Any]] = mapped_column(
        nullable=False, server_default=text("'[]'::jsonb")
    )
    alt_text: Mapped[str | None] = mapped_column(Text)
    cover_url: Mapped[str | None] = mapped_column(Text)
    thumb_offset_ms: Mapped[int | None] = mapped_column(Integer)
    share_to_feed: Mapped[bool | None] = mapped_column(Boolean)
    # A trial reel (shown to non-followers first): Meta's trial_params.graduation_strategy,
    # MANUAL or SS_PERFORMANCE; None for an ordinary post (docs/instagram-fields.md).
    trial_graduation_strategy: Mapped[str | None] = mapped_column(String(32))
    # Meta's is_ai_generated: the "AI info" label, set on the published container only.
    is_ai_generated: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    # SHA-256 of the body the post was created from with that key: a reuse with another body
    # answers 422 (posts.service.create_post).
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # Publishing state: containers are stored before media_publish so that a retry or a recovery
    # reads them instead of publishing blind.
    container_id: Mapped[str | None] = mapped_column(String(255))
    child_container_ids: Mapped[list[Any]] = mapped_column(
        nullable=False, server_default=text("'[]'::jsonb")
    )
    container_created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    publishing_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error_code: Mapped[str | None] = mapped_column(String(64))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Pre-staged containers (instasched.publishing.staging, migration 0014): the containers
    # are the ones above; these say how far staging ahead of the due time got.
    staging_status: Mapped[str | None] = mapped_column(String(16))
    staging_lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    staged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    staging_error: Mapped[str | None] = mapped_column(Text)
    # Approvals (migration 0020): who submitted the post for approval and when, who decided
    # (approved or sent back) and when, and the approver's comment.
    approval_submitted_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    approval_submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approval_decided_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    approval_decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approval_comment: Mapped[str | None] = mapped_column(Text)


def post_time(post: ScheduledPost) -> datetime:
    """A post's `scheduled_for`, for code that only sees posts with a time (queued, staged,
    publishing, published, awaiting approval): only a draft may have none (migration 0020)."""
    if post.scheduled_for is None:
        raise ValueError(f"post {post.id} has no time (a draft)")
    return post.scheduled_for
