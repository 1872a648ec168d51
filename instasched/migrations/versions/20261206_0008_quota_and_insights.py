"""publishing quota at placement time; post insights read again after publishing

Quota (issue 16.11):
- `instagram_accounts.publishing_quota` / `publishing_quota_read_at`: `config.quota_total` of
  the account's `content_publishing_limit`, as last read (at connection, on a quota refusal).
- `idx_scheduled_posts_quota_time`: the account's posts that use the quota (scheduled,
  publishing, published) by their quota time `coalesce(published_at, next_attempt_at,
  scheduled_for)`, so the 48 h span around a new time is an index range.
- `instasched_quota_lock(account)` and `instasched_quota_window(account, at, exclude)`: the
  fullest 24 h window holding `at`, read after taking the account's transaction advisory lock.
  The function is VOLATILE, so its query takes a snapshot after the lock was granted: called in a
  create's single INSERT statement (or an edit's transaction), two concurrent placements of one
  account take turns and the second sees the first's post.

Insights (issue 16.12): `instagram_post_insights`, one row per post and checkpoint (1h, 24h, 7d
after publishing): planned at publication (`state` pending, `due_at`), filled by the worker's
refresh pass, which claims due rows with FOR UPDATE SKIP LOCKED (and moves `due_at` on by a
lease, so a crashed worker's row comes due again).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 07:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUOTA_TIME = "coalesce(published_at, next_attempt_at, scheduled_for)"


def upgrade() -> None:
    op.execute(
        "ALTER TABLE instagram_accounts ADD COLUMN publishing_quota INTEGER, "
        "ADD COLUMN publishing_quota_read_at TIMESTAMPTZ"
    )
    op.execute(
        "CREATE INDEX idx_scheduled_posts_quota_time ON instagram_scheduled_posts "
        f"(instagram_account_id, ({QUOTA_TIME})) "
        "WHERE status IN ('scheduled', 'publishing', 'published')"
    )
    op.execute(
        """
        CREATE FUNCTION instasched_quota_lock(p_account uuid) RETURNS void
        LANGUAGE sql VOLATILE AS $$
            SELECT pg_advisory_xact_lock(hashtextextended('instasched-quota:' || p_account, 0))
        $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION instasched_quota_window(p_account uuid, p_at timestamptz, p_exclude uuid)
        RETURNS TABLE (window_start timestamptz, posts integer)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM instasched_quota_lock(p_account);
            RETURN QUERY
            WITH t AS (
                SELECT {QUOTA_TIME} AS at
                FROM instagram_scheduled_posts
                WHERE instagram_account_id = p_account
                  AND status IN ('scheduled', 'publishing', 'published')
                  AND {QUOTA_TIME} > p_at - interval '24 hours'
                  AND {QUOTA_TIME} < p_at + interval '24 hours'
                  AND id IS DISTINCT FROM p_exclude
                UNION ALL SELECT p_at
            ), c AS (
                SELECT t.at, count(*) OVER (
                    ORDER BY t.at
                    RANGE BETWEEN CURRENT ROW
                    AND interval '24 hours' - interval '1 microsecond' FOLLOWING
                ) AS n
                FROM t
            )
            SELECT c.at, c.n::integer FROM c WHERE c.at <= p_at
            ORDER BY c.n DESC, c.at LIMIT 1;
        END
        $$
        """  # noqa: S608 - a fixed expression
    )
    op.execute(
        """
        CREATE TABLE instagram_post_insights (
            post_id UUID NOT NULL
                REFERENCES instagram_scheduled_posts (id) ON DELETE CASCADE,
            checkpoint VARCHAR(8) NOT NULL,
            state VARCHAR(16) NOT NULL DEFAULT 'pending',
            due_at TIMESTAMPTZ NOT NULL,
            attempts SMALLINT NOT NULL DEFAULT 0,
            fetched_at TIMESTAMPTZ,
            views INTEGER,
            reach INTEGER,
            likes INTEGER,
            comments INTEGER,
            shares INTEGER,
            saved INTEGER,
            total_interactions INTEGER,
            error TEXT,
            CONSTRAINT pk_instagram_post_insights PRIMARY KEY (post_id, checkpoint)
        )
        """
    )
    op.execute(
        "CREATE INDEX idx_post_insights_due ON instagram_post_insights (due_at) "
        "WHERE state = 'pending'"
    )


def downgrade() -> None:
    op.execute("DROP TABLE instagram_post_insights")
    op.execute("DROP FUNCTION instasched_quota_window(uuid, timestamptz, uuid)")
    op.execute("DROP FUNCTION instasched_quota_lock(uuid)")
    op.execute("DROP INDEX idx_scheduled_posts_quota_time")
    op.execute(
        "ALTER TABLE instagram_accounts DROP COLUMN publishing_quota, "
        "DROP COLUMN publishing_quota_read_at"
    )
