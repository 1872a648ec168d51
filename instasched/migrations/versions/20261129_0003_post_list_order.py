"""post list order: the list's composite indexes also cover its tie-breaker (id)

The posts list orders by (scheduled_for, id) within one account (id keeps pages stable when two
posts share a minute). With `id` as the last column the composite indexes give that order
completely, so a page is a plain index walk (no sort), whatever the data distribution.
The leading columns are unchanged, so every query that used the old indexes still can.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 13:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "instagram_scheduled_posts"


def upgrade() -> None:
    op.drop_index("idx_scheduled_posts_account_time", table_name=TABLE)
    op.create_index(
        "idx_scheduled_posts_account_time",
        TABLE,
        ["instagram_account_id", "scheduled_for", "id"],
        unique=False,
    )
    op.drop_index("idx_scheduled_posts_account_status_time", table_name=TABLE)
    op.create_index(
        "idx_scheduled_posts_account_status_time",
        TABLE,
        ["instagram_account_id", "status", "scheduled_for", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("idx_scheduled_posts_account_status_time", table_name=TABLE)
    op.create_index(
        "idx_scheduled_posts_account_status_time",
        TABLE,
        ["instagram_account_id", "status", "scheduled_for"],
        unique=False,
    )
    op.drop_index("idx_scheduled_posts_account_time", table_name=TABLE)
    op.create_index(
        "idx_scheduled_posts_account_time",
        TABLE,
        ["instagram_account_id", "scheduled_for"],
        unique=False,
    )
