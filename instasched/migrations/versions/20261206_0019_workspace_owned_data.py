"""Workspace-owned data (issue 20): the data tables' `user_id` becomes `workspace_id`

Instagram accounts, media assets, post templates, scheduled posts and webhook subscriptions
belong to a workspace. The values do not change: a user's personal workspace has the user's id
(migration 0018), so every existing row lands in its owner's personal workspace and every
existing request without `X-Workspace-Id` sees exactly what it saw before. Posting schedules,
post counts, asset uses, events, insights and deliveries hang off an account, a post or a
subscription and follow them.

Per-user things stay per user (users, api_keys, token tables). The OAuth connect flows keep the
user who started them and now also record the workspace the account lands in
(`oauth_states.workspace_id`, `facebook_pending_connections.workspace_id`).

The webhook triggers of migration 0015 match a subscription to a post or account by owner; their
bodies are rewritten from `user_id` to `workspace_id` (read back with `pg_get_functiondef`, so
what 0015 wrote is the only copy of them).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 13:20:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (old FK name, new FK name)
_OWNED = {
    "instagram_accounts": (
        "fk_instagram_accounts_user_id_users",
        "fk_instagram_accounts_workspace_id_workspaces",
    ),
    "instagram_media_assets": (
        "fk_instagram_media_assets_user_id_users",
        "fk_instagram_media_assets_workspace_id_workspaces",
    ),
    "instagram_post_templates": (
        "fk_instagram_post_templates_user_id_users",
        "fk_instagram_post_templates_workspace_id_workspaces",
    ),
    "instagram_scheduled_posts": (
        "fk_instagram_scheduled_posts_user_id_users",
        "fk_instagram_scheduled_posts_workspace_id_workspaces",
    ),
    "webhook_subscriptions": (
        "webhook_subscriptions_user_id_fkey",
        "fk_webhook_subscriptions_workspace_id_workspaces",
    ),
}

_INDEX_RENAMES = [
    ("ix_instagram_accounts_user_id", "ix_instagram_accounts_workspace_id"),
    ("idx_media_assets_user", "idx_media_assets_workspace"),
    ("idx_media_assets_user_created", "idx_media_assets_workspace_created"),
    ("idx_post_templates_user", "idx_post_templates_workspace"),
    ("idx_scheduled_posts_user", "idx_scheduled_posts_workspace"),
    ("idx_webhook_subscriptions_user", "idx_webhook_subscriptions_workspace"),
]

_WEBHOOK_FUNCTIONS = (
    "instasched_webhook_post_changed",
    "instasched_webhook_posts_inserted",
    "instasched_webhook_account_reauth",
)

_FLOWS = {
    "oauth_states": "fk_oauth_states_workspace_id_workspaces",
    "facebook_pending_connections": "fk_facebook_pending_connections_workspace_id_workspaces",
}


def _rewrite_functions(old: str, new: str) -> None:
    bind = op.get_bind()
    for name in _WEBHOOK_FUNCTIONS:
        definition = bind.execute(
            sa.text("SELECT pg_get_functiondef(to_regproc(:name))"), {"name": name}
        ).scalar_one()
        # `\b`: `ig_user_id` and the like are left alone (`_` is a word character).
        op.execute(re.sub(rf"\b{old}\b", new, definition))


# A user's data went with the user (ON DELETE CASCADE from users); it is now the personal
# workspace's, which goes with its user.
_PERSONAL_GONE = [
    """
    CREATE FUNCTION instasched_personal_workspace_gone() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM workspaces WHERE id = OLD.id AND personal;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER personal_workspace_gone AFTER DELETE ON users
        FOR EACH ROW EXECUTE FUNCTION instasched_personal_workspace_gone()
    """,
]


def upgrade() -> None:
    for table, (old_fk, new_fk) in _OWNED.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {old_fk}")
        op.execute(f"ALTER TABLE {table} RENAME COLUMN user_id TO workspace_id")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {new_fk} FOREIGN KEY (workspace_id) "
            "REFERENCES workspaces (id) ON DELETE CASCADE"
        )
    for old, new in _INDEX_RENAMES:
        op.execute(f"ALTER INDEX {old} RENAME TO {new}")
    _rewrite_functions("user_id", "workspace_id")
    # The workspace an OAuth / Facebook Login flow started in: the account lands there. Rows of
    # flows in progress (minutes long) were started in the user's personal workspace.
    for table, fk in _FLOWS.items():
        op.execute(f"ALTER TABLE {table} ADD COLUMN workspace_id uuid")
        op.execute(f"UPDATE {table} SET workspace_id = user_id")  # noqa: S608 - fixed names
        op.execute(f"ALTER TABLE {table} ALTER COLUMN workspace_id SET NOT NULL")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {fk} FOREIGN KEY (workspace_id) "
            "REFERENCES workspaces (id) ON DELETE CASCADE"
        )
    for statement in _PERSONAL_GONE:
        op.execute(statement)


def downgrade() -> None:
    # Only data of personal workspaces maps back to a user; shared workspaces' data is dropped.
    op.execute("DROP TRIGGER personal_workspace_gone ON users")
    op.execute("DROP FUNCTION instasched_personal_workspace_gone()")
    for table in _FLOWS:
        op.execute(f"ALTER TABLE {table} DROP COLUMN workspace_id")
    _rewrite_functions("workspace_id", "user_id")
    for old, new in _INDEX_RENAMES:
        op.execute(f"ALTER INDEX {new} RENAME TO {old}")
    for table, (old_fk, new_fk) in _OWNED.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {new_fk}")
        op.execute(
            f"DELETE FROM {table} WHERE workspace_id NOT IN (SELECT id FROM users)"  # noqa: S608
        )
        op.execute(f"ALTER TABLE {table} RENAME COLUMN workspace_id TO user_id")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {old_fk} FOREIGN KEY (user_id) "
            "REFERENCES users (id) ON DELETE CASCADE"
        )
