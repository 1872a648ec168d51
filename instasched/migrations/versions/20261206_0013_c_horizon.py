"""an index of scheduled posts by due time: the dispatch horizon's range scans

The promoter moves posts entering the horizon (DISPATCH_HORIZON_SECONDS) from PostgreSQL into
Redis, and the reconciler checks only the posts due within it: both read `scheduled` posts by
their due time `coalesce(next_attempt_at, scheduled_for)` (a retry waits on next_attempt_at), in
(due, id) order so a batch resumes where the last one ended.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX idx_scheduled_posts_due ON instagram_scheduled_posts"
        " ((coalesce(next_attempt_at, scheduled_for)), id) WHERE status = 'scheduled'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX idx_scheduled_posts_due")
