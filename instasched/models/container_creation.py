from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Index, Integer
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from instasched.models.base import Base


class ContainerCreation(Base):
    """Media containers an account created at one time (a carousel's children and parent
    together): Meta allows 400 per account per moving 24 h, and staging ahead of the due time
    must never take an account past that (instasched.publishing.staging). Rows older than 24 h
    are deleted as staging reads them."""

    __tablename__ = "instagram_container_creations"
    __table_args__ = (
        Index("idx_container_creations_account_time", "instagram_account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    instagram_account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("instagram_accounts.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    containers: Mapped[int] = mapped_column(Integer, nullable=False)
