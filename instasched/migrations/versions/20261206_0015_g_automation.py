"""API keys, webhook subscriptions and their deliveries (the outbox), written by triggers

- `api_keys`: named keys of a user with scopes (read, write, publish), an optional expiry, the
  SHA-256 of the secret (never the secret), last use and revocation (issue 21).
- `webhook_subscriptions`: a user's target URL, events and (encrypted) signing secret.
- `webhook_deliveries`: one row per event and subscription; the worker delivers due rows
  (`webhooks.delivery`), retrying with backoff, and keeps each attempt in `log`.

Deliveries are written by triggers, in the statement that changes the post or the account, so
an event is recorded exactly when the change commits (and never when it rolls back), without a
line of publishing code and without a round trip more:

- posts: row-level `AFTER UPDATE ... WHEN` the status changed to published, failed,
  needs_approval, or to scheduled from anything but publishing (a retry goes publishing ->
  scheduled; that is no new scheduling). The condition is checked without a function call, so
  the worker's other updates (leases, steps) cost nothing.
- new posts: one statement-level `AFTER INSERT` trigger (the transition table is the one the
  post counts of 0011 already build); it returns at once while no subscription wants
  post.scheduled.
- accounts: `AFTER UPDATE ... WHEN` needs_reauth turns true.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 10:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POST_DATA = """jsonb_build_object(
        'postId', p.id, 'accountId', p.instagram_account_id, 'status', p.status,
        'mediaType', p.media_type, 'scheduledFor', p.scheduled_for,
        'publishedAt', p.published_at, 'permalink', p.permalink,
        'instagramMediaId', p.instagram_media_id, 'reason', p.last_publish_error,
        'errorCode', p.last_error_code)"""

_TABLES = """
CREATE TABLE api_keys (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL,
    secret_hash VARCHAR(64) NOT NULL,
    scopes VARCHAR(16)[] NOT NULL,
    expires_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    prefix VARCHAR(32) NOT NULL DEFAULT ''
);
CREATE INDEX idx_api_keys_user ON api_keys (user_id, created_at);

CREATE TABLE webhook_subscriptions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events VARCHAR(64)[] NOT NULL,
    description VARCHAR(200),
    secret_encrypted TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_webhook_subscriptions_user ON webhook_subscriptions (user_id);

CREATE TABLE webhook_deliveries (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id UUID NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event VARCHAR(64) NOT NULL,
    payload JSONB NOT NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    response_code INTEGER,
    latency_ms INTEGER,
    error TEXT,
    log JSONB NOT NULL DEFAULT '[]'::jsonb,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at TIMESTAMPTZ
);
CREATE INDEX idx_webhook_deliveries_subscription
    ON webhook_deliveries (subscription_id, created_at DESC);
CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
"""

_TRIGGERS = f"""
CREATE FUNCTION instasched_webhook_post_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kind text := CASE NEW.status
        WHEN 'published' THEN 'post.published'
        WHEN 'failed' THEN 'post.failed'
        WHEN 'needs_approval' THEN 'post.needs_approval'
        ELSE 'post.scheduled' END;
BEGIN
    INSERT INTO webhook_deliveries (subscription_id, event, payload)
    SELECT s.id, kind, {_POST_DATA.replace("p.", "NEW.")}
    FROM webhook_subscriptions s
    WHERE s.user_id = NEW.user_id AND s.active AND kind = ANY (s.events);
    RETURN NULL;
END $$;

CREATE TRIGGER webhook_post_changed AFTER UPDATE ON instagram_scheduled_posts
FOR EACH ROW WHEN (
    OLD.status IS DISTINCT FROM NEW.status
    AND (NEW.status IN ('published', 'failed', 'needs_approval')
         OR (NEW.status = 'scheduled' AND OLD.status <> 'publishing'))
) EXECUTE FUNCTION instasched_webhook_post_changed();

CREATE FUNCTION instasched_webhook_posts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
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
      ON s.user_id = p.user_id AND s.active AND 'post.scheduled' = ANY (s.events)
    WHERE p.status = 'scheduled';
    RETURN NULL;
END $$;

CREATE TRIGGER webhook_posts_inserted AFTER INSERT ON instagram_scheduled_posts
REFERENCING NEW TABLE AS instasched_new_posts
FOR EACH STATEMENT EXECUTE FUNCTION instasched_webhook_posts_inserted();

CREATE FUNCTION instasched_webhook_account_reauth() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (subscription_id, event, payload)
    SELECT s.id, 'account.needs_reauth', jsonb_build_object(
        'accountId', NEW.id, 'username', NEW.username, 'loginKind', NEW.login_kind)
    FROM webhook_subscriptions s
    WHERE s.user_id = NEW.user_id AND s.active AND 'account.needs_reauth' = ANY (s.events);
    RETURN NULL;
END $$;

CREATE TRIGGER webhook_account_reauth AFTER UPDATE ON instagram_accounts
FOR EACH ROW WHEN (NEW.needs_reauth AND NOT OLD.needs_reauth)
EXECUTE FUNCTION instasched_webhook_account_reauth();
"""  # noqa: S608 - fixed SQL


def _statements(sql: str) -> list[str]:
    """One statement each (asyncpg prepares them one by one): split after each `;` that ends a
    line outside a function body."""
    found, current, in_body = [], [], False
    for line in sql.strip().splitlines():
        current.append(line)
        in_body ^= line.count("$$") % 2 == 1
        if line.rstrip().endswith(";") and not in_body:
            found.append("\n".join(current))
            current = []
    return found


def upgrade() -> None:
    for statement in _statements(_TABLES) + _statements(_TRIGGERS):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER webhook_account_reauth ON instagram_accounts")
    op.execute("DROP TRIGGER webhook_posts_inserted ON instagram_scheduled_posts")
    op.execute("DROP TRIGGER webhook_post_changed ON instagram_scheduled_posts")
    op.execute("DROP FUNCTION instasched_webhook_account_reauth()")
    op.execute("DROP FUNCTION instasched_webhook_posts_inserted()")
    op.execute("DROP FUNCTION instasched_webhook_post_changed()")
    op.execute("DROP TABLE webhook_deliveries")
    op.execute("DROP TABLE webhook_subscriptions")
    op.execute("DROP TABLE api_keys")
