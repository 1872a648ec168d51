"""media library: GIN index for the tag filter

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 14:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # `tags @> '["summer"]'` (the library's tag filter) uses this index.
    op.create_index(
        "idx_media_assets_tags",
        "instagram_media_assets",
        ["tags"],
        postgresql_using="gin",
        postgresql_ops={"tags": "jsonb_path_ops"},
    )


def downgrade() -> None:
    op.drop_index("idx_media_assets_tags", table_name="instagram_media_assets")
