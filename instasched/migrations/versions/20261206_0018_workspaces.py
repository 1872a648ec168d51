"""Workspaces, their members with a role, and invitations (issue 20)

- `workspaces`: what accounts, media, templates, schedules and posts belong to. Every user has a
  personal workspace whose id IS the user's id: the data a user had before workspaces keeps its
  owner id (migration 0019 turns those `user_id` columns into `workspace_id`), and a request
  without `X-Workspace-Id` acts in it with no lookup. The `AFTER INSERT ON users` trigger makes
  it (with its owner membership) in the statement that makes the user, on every path (register,
  tests and benches that insert users directly), so it can never be missing.
- `workspace_members`: (workspace, user) with a role: owner, editor, approver, viewer.
- `workspace_invitations`: a single-use link (only the SHA-256 of its token is kept) that makes
  its holder a member with the role given when accepted.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 13:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES = "('owner', 'editor', 'approver', 'viewer')"


_UPGRADE = [
    """
    CREATE TABLE workspaces (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(100) NOT NULL,
        personal boolean NOT NULL DEFAULT false,
        require_approval boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    f"""
    CREATE TABLE workspace_members (
        workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role varchar(16) NOT NULL CONSTRAINT ck_workspace_members_role CHECK (role IN {_ROLES}),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, user_id)
    )
    """,
    "CREATE INDEX idx_workspace_members_user ON workspace_members (user_id)",
    f"""
    CREATE TABLE workspace_invitations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
        email varchar(320) NOT NULL,
        role varchar(16) NOT NULL
            CONSTRAINT ck_workspace_invitations_role CHECK (role IN {_ROLES}),
        token_hash varchar(64) NOT NULL
            CONSTRAINT uq_workspace_invitations_token_hash UNIQUE,
        invited_by uuid REFERENCES users (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        accepted_at timestamptz,
        accepted_by uuid REFERENCES users (id) ON DELETE SET NULL,
        revoked_at timestamptz
    )
    """,
    """
    CREATE INDEX idx_workspace_invitations_workspace
        ON workspace_invitations (workspace_id, created_at DESC)
    """,
    """
    INSERT INTO workspaces (id, name, personal, created_at)
        SELECT id, 'Personal', true, created_at FROM users
    """,
    """
    INSERT INTO workspace_members (workspace_id, user_id, role, created_at)
        SELECT id, id, 'owner', created_at FROM users
    """,
    """
    CREATE FUNCTION instasched_personal_workspace() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO workspaces (id, name, personal) VALUES (NEW.id, 'Personal', true);
        INSERT INTO workspace_members (workspace_id, user_id, role)
            VALUES (NEW.id, NEW.id, 'owner');
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER personal_workspace AFTER INSERT ON users
        FOR EACH ROW EXECUTE FUNCTION instasched_personal_workspace()
    """,
]

_DOWNGRADE = [
    "DROP TRIGGER personal_workspace ON users",
    "DROP FUNCTION instasched_personal_workspace()",
    "DROP TABLE workspace_invitations",
    "DROP TABLE workspace_members",
    "DROP TABLE workspaces",
]


def upgrade() -> None:
    for statement in _UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in _DOWNGRADE:
        op.execute(statement)
