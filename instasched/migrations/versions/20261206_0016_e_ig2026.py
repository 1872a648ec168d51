"""trial reels and the AI label on scheduled posts (issue 19)

`trial_graduation_strategy` holds Meta's `trial_params.graduation_strategy` (MANUAL or
SS_PERFORMANCE) of a trial reel, NULL for any other post; `is_ai_generated` is Meta's AI
self-disclosure label. docs/instagram-fields.md says which container receives each.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "instagram_scheduled_posts",
        sa.Column("trial_graduation_strategy", sa.String(32), nullable=True),
    )
    op.add_column(
        "instagram_scheduled_posts",
        sa.Column("is_ai_generated", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )


def downgrade() -> None:
    op.drop_column("instagram_scheduled_posts", "is_ai_generated")
    op.drop_column("instagram_scheduled_posts", "trial_graduation_strategy")
