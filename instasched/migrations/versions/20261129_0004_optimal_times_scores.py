"""optimal times: wider engagement_score; index for the optimal-times aggregate

engagement_score holds the shrunk mean engagement of a slot (likes + 2 x comments), which passes
999.99 (the spec's DECIMAL(5,2)) for any sizeable account: widened to NUMERIC(12,2).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 13:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "instagram_posting_schedules",
        "engagement_score",
        type_=sa.Numeric(precision=12, scale=2),
        existing_type=sa.Numeric(precision=5, scale=2),
        existing_nullable=True,
    )


def downgrade() -> None:
    op.execute(
        "UPDATE instagram_posting_schedules SET engagement_score = LEAST(engagement_score, 999.99)"
    )
    op.alter_column(
        "instagram_posting_schedules",
        "engagement_score",
        type_=sa.Numeric(precision=5, scale=2),
        existing_type=sa.Numeric(precision=12, scale=2),
        existing_nullable=True,
    )
