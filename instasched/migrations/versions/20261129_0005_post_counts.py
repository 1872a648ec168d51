"""post counts: each account's number of posts per status, kept by triggers

The posts list answers `total` with every page. Counting an account's posts walks its index
entries: ~4.5 ms of PostgreSQL CPU per page with 100,000 posts (bench/run), the largest cost of
the list. Without a date range the total is now a sum over at most five rows of this table.

The table is written only by triggers on instagram_scheduled_posts, in the same transaction as
the change, so it is exact at every commit. They are constraint triggers deferred to the commit:
a counter row is locked from the moment it is written until the transaction ends, and at the
commit that is as short as it gets (creating posts in one account from 50 clients queued on that
row for the whole request when it was written at the INSERT: 195 instead of 223 posts/s).
- INSERT: adds one to the post's (account, status);
- UPDATE of status or account: only when one of them changes, moves one count; it takes the two
  counter rows in (account, status) order, so two transactions that move posts in opposite
  directions (claim and retry) cannot deadlock on them;
- DELETE: takes one off.
A counter row is never deleted (0 is a valid count); an account's rows go with the account.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 17:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = [
    """
    CREATE TABLE instagram_post_counts (
        instagram_account_id UUID NOT NULL
            REFERENCES instagram_accounts (id) ON DELETE CASCADE,
        status VARCHAR(50) NOT NULL,
        n BIGINT NOT NULL DEFAULT 0,
        CONSTRAINT pk_instagram_post_counts PRIMARY KEY (instagram_account_id, status)
    )
    """,
    """
    CREATE FUNCTION instagram_post_counts_add(account UUID, post_status VARCHAR, delta BIGINT)
    RETURNS void LANGUAGE sql AS $$
        INSERT INTO instagram_post_counts AS c (instagram_account_id, status, n)
        VALUES (account, post_status, delta)
        ON CONFLICT (instagram_account_id, status) DO UPDATE SET n = c.n + EXCLUDED.n
    $$
    """,
    """
    CREATE FUNCTION instagram_post_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM instagram_post_counts_add(NEW.instagram_account_id, NEW.status, 1);
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION instagram_post_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (OLD.instagram_account_id, OLD.status) < (NEW.instagram_account_id, NEW.status) THEN
            PERFORM instagram_post_counts_add(OLD.instagram_account_id, OLD.status, -1);
            PERFORM instagram_post_counts_add(NEW.instagram_account_id, NEW.status, 1);
        ELSE
            PERFORM instagram_post_counts_add(NEW.instagram_account_id, NEW.status, 1);
            PERFORM instagram_post_counts_add(OLD.instagram_account_id, OLD.status, -1);
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION instagram_post_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE instagram_post_counts SET n = n - 1
        WHERE instagram_account_id = OLD.instagram_account_id AND status = OLD.status;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER trg_post_counts_inserted AFTER INSERT ON instagram_scheduled_posts
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION instagram_post_counts_inserted()
    """,
    """
    CREATE CONSTRAINT TRIGGER trg_post_counts_moved
    AFTER UPDATE OF status, instagram_account_id ON instagram_scheduled_posts
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.instagram_account_id IS DISTINCT FROM NEW.instagram_account_id)
    EXECUTE FUNCTION instagram_post_counts_moved()
    """,
    """
    CREATE CONSTRAINT TRIGGER trg_post_counts_deleted AFTER DELETE ON instagram_scheduled_posts
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION instagram_post_counts_deleted()
    """,
    # The posts that exist already (locks the posts table for the count: writes wait meanwhile).
    "LOCK TABLE instagram_scheduled_posts IN SHARE MODE",
    """
    INSERT INTO instagram_post_counts (instagram_account_id, status, n)
    SELECT instagram_account_id, status, count(*) FROM instagram_scheduled_posts
    GROUP BY instagram_account_id, status
    """,
]

DOWNGRADE = [
    "DROP TRIGGER IF EXISTS trg_post_counts_deleted ON instagram_scheduled_posts",
    "DROP TRIGGER IF EXISTS trg_post_counts_moved ON instagram_scheduled_posts",
    "DROP TRIGGER IF EXISTS trg_post_counts_inserted ON instagram_scheduled_posts",
    "DROP FUNCTION IF EXISTS instagram_post_counts_deleted()",
    "DROP FUNCTION IF EXISTS instagram_post_counts_moved()",
    "DROP FUNCTION IF EXISTS instagram_post_counts_inserted()",
    "DROP FUNCTION IF EXISTS instagram_post_counts_add(UUID, VARCHAR, BIGINT)",
    "DROP TABLE IF EXISTS instagram_post_counts",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
