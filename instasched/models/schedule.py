from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from instasched.models.base import Base, created_at_col, updated_at_col, uuid_pk


class PostingSchedule(Base):
    __tablename__ = "instagram_posting_schedules"
    __table_args__ = (
        UniqueConstraint(
            "instagram_account_id", "day_of_week", name="uq_posting_schedules_account_day"
        ),
        Index("idx_posting_schedules_account", "instagram_account_id"),
        Index("idx_posting_schedules_optimal", "is_optimal"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    instagram_account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("instagram_accounts.id", ondelete="CASCADE"), nullable=False
    )
    day_of_week: Mapped[int] = mapped_column(Integer, nullable=False)  # 0 = Sunday .. 6 = Saturday
    time_slots: Mapped[list[Any]] = mapped_column(
        nullable=False, server_default=text("'[]'::jsonb")
    )
    timezone: Mapped[str] = mapped_column(String(100), nullable=False, server_default=text("'UTC'"))
    is_optimal: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # The spec's DECIMAL(5,2) overflows at 1,000 engagements; widened by migration 0006.
    engagement_score: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = created_at_col()
    updated_at: Mapped[datetime] = updated_at_col()
