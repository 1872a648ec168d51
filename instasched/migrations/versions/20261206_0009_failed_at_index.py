"""an index of failed posts by failed_at: the publishing alerts' "failed in the last hour"

The worker counts the posts that failed within ALERT_FAILED_POSTS_WINDOW_SECONDS once a minute
(`instasched.ops.health`); without this index that count read every failed post ever.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 07:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX idx_scheduled_posts_failed_at ON instagram_scheduled_posts (failed_at)"
        " WHERE status = 'failed'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX idx_scheduled_posts_failed_at")
