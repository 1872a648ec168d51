"""instagram_post_events: one timeline of everything that happened to a post

Created, edited (the fields that changed), cancelled, retried, duplicated, imported, each publish
attempt with every Graph call (endpoint, HTTP status, Meta's error code and fbtrace_id), retries,
published, failed, metrics read. Written by the posts service and the publisher; read by
GET /api/instagram/scheduling/posts/{postId}/history. A workspace_id column can be added later
(the events of a post belong to the post's workspace).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 10:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE instagram_post_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            post_id uuid NOT NULL
                REFERENCES instagram_scheduled_posts (id) ON DELETE CASCADE,
            at timestamptz NOT NULL DEFAULT clock_timestamp(),
            kind varchar(40) NOT NULL,
            actor_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
            attempt integer,
            detail jsonb NOT NULL DEFAULT '{}'::jsonb
        )
        """
    )
    op.execute("CREATE INDEX idx_post_events_post ON instagram_post_events (post_id, at, id)")


def downgrade() -> None:
    op.execute("DROP TABLE instagram_post_events")
