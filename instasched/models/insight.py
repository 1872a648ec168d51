from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, SmallInteger, String, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from instasched.models.base import Base


class PostInsight(Base):
    """One reading of a published post's insights at a checkpoint (1h, 24h, 7d after publishing).

    Planned at publication (`state` pending, `due_at`), filled by the worker's refresh pass
    (`instasched.publishing.insights`); `stopped` when the media is gone or reading gave up.
    """

    __tablename__ = "instagram_post_insights"
    __table_args__ = (
        Index("idx_post_insights_due", "due_at", postgresql_where=text("state = 'pending'")),
    )

    post_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("instagram_scheduled_posts.id", ondelete="CASCADE"),
        primary_key=True,
    )
    checkpoint: Mapped[str] = mapped_column(String(8), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False, server_default=text("'pending'"))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    attempts: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default=text("0"))
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    views: Mapped[int | None] = mapped_column(Integer)
    reach: Mapped[int | None] = mapped_column(Integer)
    likes: Mapped[int | None] = mapped_column(Integer)
    comments: Mapped[int | None] = mapped_column(Integer)
    shares: Mapped[int | None] = mapped_column(Integer)
    saved: Mapped[int | None] = mapped_column(Integer)
    total_interactions: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
