"""Facebook Login for Business: the account's Page, the state's login kind, pending choices

- `instagram_accounts.facebook_page_id` / `facebook_page_name`: the Facebook Page an account
  connected with Facebook Login publishes through (its Page token is the stored token).
- `oauth_states.login_kind`: which login's callback may consume the state.
- `facebook_pending_connections`: after the Facebook callback, the Pages with an Instagram
  account the person may pick from (Page tokens encrypted), for 10 minutes, single use.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("instagram_accounts", sa.Column("facebook_page_id", sa.String(64)))
    op.add_column("instagram_accounts", sa.Column("facebook_page_name", sa.String(255)))
    op.add_column(
        "oauth_states",
        sa.Column(
            "login_kind", sa.String(20), nullable=False, server_default=sa.text("'instagram'")
        ),
    )
    op.create_table(
        "facebook_pending_connections",
        sa.Column(
            "id",
            postgresql.UUID(as_uuid=True),
            primary_key=True,
            server_default=sa.text("gen_random_uuid()"),
        ),
        sa.Column(
            "user_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey(
                "users.id",
                ondelete="CASCADE",
                name="fk_facebook_pending_connections_user_id_users",
            ),
            nullable=False,
        ),
        sa.Column("timezone", sa.String(100)),
        sa.Column("pages", postgresql.JSONB(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name="pk_facebook_pending_connections"),
    )
    op.create_index(
        "ix_facebook_pending_connections_user_id", "facebook_pending_connections", ["user_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_facebook_pending_connections_user_id", "facebook_pending_connections")
    op.drop_table("facebook_pending_connections")
    op.drop_column("oauth_states", "login_kind")
    op.drop_column("instagram_accounts", "facebook_page_name")
    op.drop_column("instagram_accounts", "facebook_page_id")
