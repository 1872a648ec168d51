"""token versions (revocation) and the request fingerprint of an Idempotency-Key

- `users.token_version`: every access token carries the version it was issued under (`ver`);
  a token whose version is not the user's current one answers 401. `POST /api/auth/logout-all`
  increments it, which revokes every token issued so far (issue 24: tokens could not be
  revoked). Tokens issued before this migration have no `ver` and count as version 0, the
  default, so they stay valid until the user's first logout-all.
- `instagram_scheduled_posts.idempotency_fingerprint`: SHA-256 of the request body a post was
  created from with an Idempotency-Key. Reusing the key with another body answers 422 instead
  of returning the first post as if it were the new one (issue 24). Posts created before have
  none and are returned on a replay as before.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 07:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Constant defaults: PostgreSQL adds these columns without rewriting the tables.
    op.execute("ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0")
    op.execute(
        "ALTER TABLE instagram_scheduled_posts ADD COLUMN idempotency_fingerprint VARCHAR(64)"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE instagram_scheduled_posts DROP COLUMN idempotency_fingerprint")
    op.execute("ALTER TABLE users DROP COLUMN token_version")
