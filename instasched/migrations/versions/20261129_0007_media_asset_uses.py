"""asset uses in stripes: concurrent posts with one asset no longer queue on its row

Creating a post added its uses to `instagram_media_assets.used_in_posts` (and stamped
`last_used_at`) in the post's transaction, which held the asset row's lock until the commit was
written: concurrent creates with one asset (a logo, a campaign image) took turns on it. Measured
on 20 connections inserting posts with one asset: 768-937 inserts/s and 1.4-1.6 ms of
PostgreSQL CPU each, against 2,761-3,407 inserts/s and 0.37-0.47 ms with this table.

Uses counted from now on go to `instagram_media_asset_uses`, one row per (asset, stripe), the
stripe being the database connection's (`pg_backend_pid() % 16`), as the post counts of 0006.
The asset's `used_in_posts` and `last_used_at` columns keep what was counted before; the
application reads the asset's uses as `used_in_posts` + the sum of its stripes (never below 0)
and its last use as the later of the two stamps (`instasched.models.media`). A stripe may go
negative (a use removed by an edit on another connection); only the sum is read. A post being
created locks its assets `FOR KEY SHARE` (shared between creates, exclusive of the media
deletion's `FOR UPDATE`), so "delete this asset" and "schedule a post with it" still never both
succeed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 22:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE instagram_media_asset_uses (
            asset_id UUID NOT NULL
                REFERENCES instagram_media_assets (id) ON DELETE CASCADE,
            stripe SMALLINT NOT NULL,
            uses INTEGER NOT NULL DEFAULT 0,
            last_used_at TIMESTAMPTZ,
            CONSTRAINT pk_instagram_media_asset_uses PRIMARY KEY (asset_id, stripe)
        )
        """
    )


def downgrade() -> None:
    # The stripes' uses and last use back into the asset rows, as 0006 kept them.
    op.execute(
        """
        UPDATE instagram_media_assets a
        SET used_in_posts = GREATEST(coalesce(a.used_in_posts, 0) + s.uses, 0),
            last_used_at = GREATEST(a.last_used_at, s.last_used_at)
        FROM (
            SELECT asset_id, sum(uses) AS uses, max(last_used_at) AS last_used_at
            FROM instagram_media_asset_uses GROUP BY asset_id
        ) s
        WHERE a.id = s.asset_id
        """
    )
    op.execute("DROP TABLE instagram_media_asset_uses")
