"""Drafts and approvals (issue 20 item 2; docs/approvals.md)

- Post statuses `draft`, `needs_approval`, `changes_requested`, `approval_expired` (the status
  column is free text; the post counts of 0005/0011 count them in their own rows, and the quota
  window of 0008 counts only scheduled, publishing and published posts, so none of them uses
  quota). `scheduled_for` may be NULL only for a draft (or a draft discarded: cancelled), by a
  check constraint.
- Who and when: `approval_submitted_by/_at`, `approval_decided_by/_at`, `approval_comment`.
- `idx_scheduled_posts_awaiting_approval`: the worker's expiry sweep reads only the posts
  awaiting approval that are due (a partial index), so its cost follows those posts.
- The webhook trigger for new posts (0015) also sends `post.needs_approval` for a post created
  straight into `needs_approval` (the UPDATE trigger already maps that status).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 13:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in 0015 (the payload of a post event).
_POST_DATA = """jsonb_build_object(
        'postId', p.id, 'accountId', p.instagram_account_id, 'status', p.status,
        'mediaType', p.media_type, 'scheduledFor', p.scheduled_for,
        'publishedAt', p.published_at, 'permalink', p.permalink,
        'instagramMediaId', p.instagram_media_id, 'reason', p.last_publish_error,
        'errorCode', p.last_error_code)"""

_INSERTED = f"""
CREATE OR REPLACE FUNCTION instasched_webhook_posts_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM webhook_subscriptions
        WHERE active AND events && ARRAY['post.scheduled', 'post.needs_approval']::varchar[]
    ) THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (subscription_id, event, payload)
    SELECT s.id, e.kind, {_POST_DATA}
    FROM instasched_new_posts p
    CROSS JOIN LATERAL (SELECT CASE p.status
        WHEN 'scheduled' THEN 'post.scheduled'
        WHEN 'needs_approval' THEN 'post.needs_approval' END AS kind) e
    JOIN webhook_subscriptions s
      ON s.workspace_id = p.workspace_id AND s.active AND e.kind = ANY (s.events)
    WHERE e.kind IS NOT NULL;
    RETURN NULL;
END $$
"""  # noqa: S608 - fixed SQL

_INSERTED_BEFORE = f"""
CREATE OR REPLACE FUNCTION instasched_webhook_posts_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM webhook_subscriptions WHERE active AND 'post.scheduled' = ANY (events)
    ) THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (subscription_id, event, payload)
    SELECT s.id, 'post.scheduled', {_POST_DATA}
    FROM instasched_new_posts p
    JOIN webhook_subscriptions s
      ON s.workspace_id = p.workspace_id AND s.active AND 'post.scheduled' = ANY (s.events)
    WHERE p.status = 'scheduled';
    RETURN NULL;
END $$
"""  # noqa: S608 - fixed SQL


def upgrade() -> None:
    op.execute(
        "ALTER TABLE instagram_scheduled_posts ALTER COLUMN scheduled_for DROP NOT NULL, "
        "ADD CONSTRAINT ck_instagram_scheduled_posts_time CHECK (scheduled_for IS NOT NULL "
        "OR status IN ('draft', 'cancelled')), "
        "ADD COLUMN approval_submitted_by uuid REFERENCES users (id) ON DELETE SET NULL, "
        "ADD COLUMN approval_submitted_at timestamptz, "
        "ADD COLUMN approval_decided_by uuid REFERENCES users (id) ON DELETE SET NULL, "
        "ADD COLUMN approval_decided_at timestamptz, "
        "ADD COLUMN approval_comment text"
    )
    op.execute(
        "CREATE INDEX idx_scheduled_posts_awaiting_approval ON instagram_scheduled_posts "
        "(scheduled_for) WHERE status IN ('needs_approval', 'changes_requested')"
    )
    op.execute(_INSERTED)


def downgrade() -> None:
    op.execute(_INSERTED_BEFORE)
    op.execute("DROP INDEX idx_scheduled_posts_awaiting_approval")
    op.execute("DELETE FROM instagram_scheduled_posts WHERE scheduled_for IS NULL")
    op.execute(
        "ALTER TABLE instagram_scheduled_posts DROP CONSTRAINT ck_instagram_scheduled_posts_time, "
        "ALTER COLUMN scheduled_for SET NOT NULL, "
        "DROP COLUMN approval_submitted_by, DROP COLUMN approval_submitted_at, "
        "DROP COLUMN approval_decided_by, DROP COLUMN approval_decided_at, "
        "DROP COLUMN approval_comment"
    )
