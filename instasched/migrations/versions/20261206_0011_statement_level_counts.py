"""post counts and asset uses kept by statement-level triggers: bulk writes cost what the rows cost

Migrations 0005 and 0006 kept `instagram_post_counts` with row-level triggers deferred to the
commit: one call per row, each an upsert of the same counter row. A statement that writes many
posts updated that row once per post inside one transaction, each time walking the chain of the
row's earlier versions: 200,000 posts inserted by one statement took 4 min 56 s (~1.5 ms a row,
issue 18). Asset uses (migration 0007) were counted by the code that creates and edits posts, so
a post written by SQL (an import) was not counted at all, nor was a deleted one taken off.
Now the same INSERT takes 6.2-6.6 s, about what it takes with no trigger (bench/bulk_insert.py;
docs/performance.md, History, "Statement-level counts", has the before/after figures of every
step and single row).

Now three AFTER ... FOR EACH STATEMENT triggers with transition tables (`REFERENCING NEW TABLE`
/ `OLD TABLE`) keep both: each statement adds up its rows by (account, status) and by asset and
writes one delta per group, in the connection's stripe (`pg_backend_pid() % 16`, as in 0006 and
0007: concurrent single-row writers of one account or one asset do not queue on one row).

- INSERT: +1 per post in its (account, status), +1 per use of an asset in its `media_ids` (a
  carousel may repeat one), stamping the asset's `last_used_at` with the transaction's time.
- UPDATE: the new rows' counts minus the old rows'; groups whose sum is 0 write nothing. An
  asset whose uses grew is stamped as used. PostgreSQL allows no column list on an UPDATE
  trigger with transition tables, so it runs for every UPDATE statement, and any query in it
  cost a single-row UPDATE ~80 µs (pgbench, one connection: 0.27 -> 0.36-0.40 ms) though most
  UPDATEs of posts (the worker's leases and steps, times) change no count. So row-level
  triggers `WHEN` the account or status changed, or the media (the condition is checked without
  a function call), mark the transaction (`instasched.post_counts_moved`,
  `instasched.asset_uses_moved`), and the statement trigger counts posts, or uses, only after
  such a mark, and clears it.
- DELETE: -1 per post and per use; not for an account or asset that no longer exists (an
  account's deletion cascades to its posts and its counts; a deleted asset's uses go with it).

Counter rows are upserted in key order, so two statements sharing a stripe take them in one
order. Unlike the deferred row triggers, a statement's counter rows stay locked from the end of
the statement (not from the commit) until the commit; other connections write other stripes.

Asset uses were counted by the code before, which never took off the uses of deleted posts
(account deletions): they are counted again here from the posts as they are, into stripe 0, and
the asset's own `used_in_posts` column (uses counted before 0007) is folded in as 0. The
application no longer counts uses; a create or edit only locks the assets it adds.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 08:10:00
"""

from collections.abc import Sequence
from importlib import import_module

from alembic import op

_POST_COUNTS = import_module("instasched.migrations.versions.20261129_0005_post_counts")
_STRIPES = import_module("instasched.migrations.versions.20261129_0006_post_count_stripes")

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Deltas (account, status, d) -> one upsert per (account, status) in the connection's stripe.
_COUNT_POSTS = """
    INSERT INTO instagram_post_counts AS c (instagram_account_id, status, stripe, n)
    SELECT d.account, d.status, pg_backend_pid() % 16, sum(d.d)
    FROM ({deltas}) AS d (account, status, d)
    GROUP BY d.account, d.status
    HAVING sum(d.d) <> 0 AND EXISTS (SELECT 1 FROM instagram_accounts a WHERE a.id = d.account)
    ORDER BY d.account, d.status
    ON CONFLICT (instagram_account_id, status, stripe) DO UPDATE SET n = c.n + EXCLUDED.n;
"""
# Deltas (asset, d), one per use in media_ids -> one upsert per asset in the connection's stripe.
_COUNT_USES = """
    INSERT INTO instagram_media_asset_uses AS s (asset_id, stripe, uses, last_used_at)
    SELECT u.asset, pg_backend_pid() % 16, sum(u.d)::int,
           CASE WHEN sum(u.d) > 0 THEN now() END
    FROM ({deltas}) AS u (asset, d)
    GROUP BY u.asset
    HAVING sum(u.d) <> 0 AND EXISTS (SELECT 1 FROM instagram_media_assets a WHERE a.id = u.asset)
    ORDER BY u.asset
    ON CONFLICT (asset_id, stripe) DO UPDATE SET uses = s.uses + excluded.uses,
        last_used_at = GREATEST(s.last_used_at, excluded.last_used_at);
"""


# An UPDATE counts posts only when a row trigger saw one change account or status, and uses
# only when one changed media: each mark is a setting local to the transaction, set by the row
# trigger and cleared when counted (any query here costs a single-row UPDATE ~80 µs, a check of
# a setting almost nothing, and most UPDATEs of posts change none of the three columns).
_MARKS = {
    # mark: (the columns, the row trigger's name)
    "instasched.post_counts_moved": ("status, instagram_account_id", "trg_posts_mark_counts"),
    "instasched.asset_uses_moved": ("media_ids", "trg_posts_mark_uses"),
}
_POSTS_MARK, _USES_MARK = _MARKS


def _posts(table: str, d: int) -> str:
    return f"SELECT instagram_account_id, status, {d} FROM {table}"  # noqa: S608


def _uses(table: str, d: int) -> str:
    return f"SELECT e::uuid, {d} FROM {table}, jsonb_array_elements_text(media_ids) AS e"  # noqa: S608


def _when_marked(mark: str | None, statement: str) -> str:
    if mark is None:
        return statement
    return f"""
        IF current_setting('{mark}', true) = 'on' THEN
            PERFORM set_config('{mark}', '', true);
            {statement}
        END IF;
    """


def _function(name: str, posts: str, uses: str, *, marked: bool = False) -> str:
    count_posts = _COUNT_POSTS.format(deltas=posts)
    count_uses = _COUNT_USES.format(deltas=uses)
    if marked:
        body = _when_marked(_POSTS_MARK, count_posts) + _when_marked(_USES_MARK, count_uses)
    else:  # one statement: one plan to run instead of two (~15 µs less per single-row write)
        body = f"WITH counted AS ({count_posts.strip().rstrip(';')}) {count_uses}"
    return f"""
    CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {body}
        RETURN NULL;
    END $$
    """


_FUNCTIONS = {
    "INSERT": _function(
        "instagram_posts_count_inserts", _posts("new_posts", 1), _uses("new_posts", 1)
    ),
    "UPDATE": _function(
        "instagram_posts_count_updates",
        f"{_posts('new_posts', 1)} UNION ALL {_posts('old_posts', -1)}",
        f"{_uses('new_posts', 1)} UNION ALL {_uses('old_posts', -1)}",
        marked=True,
    ),
    "DELETE": _function(
        "instagram_posts_count_deletes", _posts("old_posts", -1), _uses("old_posts", -1)
    ),
}
_REFERENCING = {
    "INSERT": "NEW TABLE AS new_posts",
    "UPDATE": "OLD TABLE AS old_posts NEW TABLE AS new_posts",
    "DELETE": "OLD TABLE AS old_posts",
}

# The row-level triggers of 0005 as 0006 left them.
_ROW_TRIGGERS = (
    ("trg_post_counts_inserted", "instagram_post_counts_inserted()"),
    ("trg_post_counts_moved", "instagram_post_counts_moved()"),
    ("trg_post_counts_deleted", "instagram_post_counts_deleted()"),
)

UPGRADE = [
    *(f"DROP TRIGGER {name} ON instagram_scheduled_posts" for name, _ in _ROW_TRIGGERS),
    *(f"DROP FUNCTION {function}" for _, function in _ROW_TRIGGERS),
    "DROP FUNCTION instagram_post_counts_add(UUID, VARCHAR, BIGINT)",
    *_FUNCTIONS.values(),
    # The mark named by the trigger's argument.
    """
    CREATE FUNCTION instagram_posts_mark_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF current_setting(TG_ARGV[0], true) IS DISTINCT FROM 'on' THEN
            PERFORM set_config(TG_ARGV[0], 'on', true);
        END IF;
        RETURN NULL;
    END $$
    """,
    # Row-level AFTER triggers fire before the statement's, so the marks are set when it counts.
    # WHEN is checked without calling the function.
    *(
        f"""
        CREATE TRIGGER {trigger} AFTER UPDATE OF {columns} ON instagram_scheduled_posts
        FOR EACH ROW WHEN ({
            " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns.split(", "))
        })
        EXECUTE FUNCTION instagram_posts_mark_moved('{mark}')
        """
        for mark, (columns, trigger) in _MARKS.items()
    ),
    *(
        f"""
        CREATE TRIGGER trg_posts_count_{event.lower()}s AFTER {event}
        ON instagram_scheduled_posts REFERENCING {_REFERENCING[event]}
        FOR EACH STATEMENT EXECUTE FUNCTION instagram_posts_count_{event.lower()}s()
        """
        for event in _FUNCTIONS
    ),
    # The uses as the posts hold them now (writes to posts wait meanwhile), in stripe 0, with
    # the latest stamp; the assets' own columns keep only their last use.
    "LOCK TABLE instagram_scheduled_posts IN SHARE MODE",
    "LOCK TABLE instagram_media_asset_uses IN EXCLUSIVE MODE",
    """
    CREATE TEMPORARY TABLE asset_use_counts ON COMMIT DROP AS
    SELECT a.id AS asset_id, coalesce(u.uses, 0) AS uses, s.last_used_at
    FROM instagram_media_assets a
    LEFT JOIN (
        SELECT e::uuid AS asset_id, count(*) AS uses
        FROM instagram_scheduled_posts, jsonb_array_elements_text(media_ids) AS e GROUP BY 1
    ) u ON u.asset_id = a.id
    LEFT JOIN (
        SELECT asset_id, max(last_used_at) AS last_used_at FROM instagram_media_asset_uses
        GROUP BY asset_id
    ) s ON s.asset_id = a.id
    WHERE u.uses IS NOT NULL OR s.last_used_at IS NOT NULL
    """,
    "DELETE FROM instagram_media_asset_uses",
    """
    INSERT INTO instagram_media_asset_uses (asset_id, stripe, uses, last_used_at)
    SELECT asset_id, 0, uses, last_used_at FROM asset_use_counts
    """,
    "UPDATE instagram_media_assets SET used_in_posts = 0 WHERE used_in_posts <> 0",
]

DOWNGRADE = [
    *(f"DROP TRIGGER {trigger} ON instagram_scheduled_posts" for _, trigger in _MARKS.values()),
    "DROP FUNCTION instagram_posts_mark_moved()",
    *(
        f"DROP TRIGGER trg_posts_count_{event.lower()}s ON instagram_scheduled_posts"
        for event in _FUNCTIONS
    ),
    *(f"DROP FUNCTION instagram_posts_count_{event.lower()}s()" for event in _FUNCTIONS),
    # 0005's functions and triggers as 0006 left them (their own text, from those migrations);
    # the counts are exact as they are. The asset uses are counted by the code of 0010 again.
    *_POST_COUNTS.UPGRADE[1:8],
    *(_STRIPES.UPGRADE[i] for i in (3, 4)),
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
