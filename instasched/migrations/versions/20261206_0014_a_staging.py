"""pre-staged containers: the post's staging state and a ledger of containers created

A post's containers are created ahead of `scheduled_for` (instasched.publishing.staging,
docs/staging.md). The containers themselves stay in `container_id`, `child_container_ids` and
`container_created_at`, where the publishing path already reads them first; the new columns
say how far staging got:

- `staging_status`: NULL (not staged), `staging` (in progress, fenced by
  `staging_lease_expires_at`), `staged` (FINISHED), `failed` (Meta rejected the media: shown
  on the post before its time) or `deferred` (left to the due time, e.g. the account's 400
  containers per 24 h are used); `staging_error` says why for the last two.
- `instagram_container_creations`: the containers each account created, by time, so staging
  never takes an account past Meta's 400 containers per moving 24 h.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTS = "instagram_scheduled_posts"


def upgrade() -> None:
    op.add_column(POSTS, sa.Column("staging_status", sa.String(16), nullable=True))
    op.add_column(
        POSTS, sa.Column("staging_lease_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(POSTS, sa.Column("staged_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(POSTS, sa.Column("staging_error", sa.Text(), nullable=True))
    op.create_table(
        "instagram_container_creations",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "instagram_account_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("instagram_accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("containers", sa.Integer(), nullable=False),
    )
    op.create_index(
        "idx_container_creations_account_time",
        "instagram_container_creations",
        ["instagram_account_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index(
        "idx_container_creations_account_time", table_name="instagram_container_creations"
    )
    op.drop_table("instagram_container_creations")
    for column in ("staging_error", "staged_at", "staging_lease_expires_at", "staging_status"):
        op.drop_column(POSTS, column)
