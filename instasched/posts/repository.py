"""SQL for scheduled posts, and the few writes posts make to assets and templates.

Every read filters by the owner: another user's id is indistinguishable from a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.db import driver_connection
from instasched.exceptions import NotFound
from instasched.media.repository import fetch_assets
from instasched.models import InstagramAccount, MediaAsset, PostTemplate, ScheduledPost
from instasched.models.base import ModelT, loaded, stored_attributes
from instasched.models.post_rows import (
    COLUMN_OF,
    POST_COLUMN_NAMES,
    POST_COLUMNS,
    column_param,
    post_attributes,
)


async def get_owned(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    post_id: uuid.UUID,
    account_id: uuid.UUID | None = None,
    for_update: bool = False,
) -> ScheduledPost:
    """The user's post (optionally also in `account_id`), or 404.

    `for_update` locks the row, so the worker's conditional claim (`... WHERE status =
    'scheduled'`) waits for this transaction and then re-reads the row we wrote.
    """
    query = select(ScheduledPost).where(
        ScheduledPost.id == post_id, ScheduledPost.workspace_id == workspace_id
    )
    if account_id is not None:
        query = query.where(ScheduledPost.instagram_account_id == account_id)
    if for_update:
        query = query.with_for_update()
    post = await session.scalar(query.execution_options(populate_existing=True))
    if post is None:
        raise NotFound("Scheduled post not found")
    return post


_BY_IDEMPOTENCY_KEY = (
    f"SELECT {POST_COLUMNS} FROM instagram_scheduled_posts "  # noqa: S608
    "WHERE workspace_id = $1 AND idempotency_key = $2 "
    "AND EXISTS (SELECT 1 FROM users WHERE id = $4 AND token_version = $3)"
)


async def find_by_idempotency_key(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    key: str,
    token_version: int,
) -> PostRow | None:
    """The workspace's post created with this Idempotency-Key, as committed (through asyncpg);
    none for a revoked token (`token_version` no longer the user's: the caller then answers
    401)."""
    record = await (await driver_connection(session)).fetchrow(
        _BY_IDEMPOTENCY_KEY, workspace_id, key, token_version, user_id
    )
    return None if record is None else PostRow.of(record)


@dataclass(frozen=True)
class ListQuery:
    """The list's SQL (asyncpg `$n` placeholders) and its arguments.

    Filters of the list. The caller has checked that the account is the user's (every post of an
    account belongs to the account's owner); adding `workspace_id = ...` here would make the planner
    multiply two dependent selectivities and walk the wrong index.

    The page is served by idx_scheduled_posts_account_time (account, scheduled_for, id) or, with
    a status, idx_scheduled_posts_account_status_time (account, status, scheduled_for, id): the
    index gives the order, so a page reads `offset + limit` index entries, not the whole account
    (with the planner settings of instasched.db.PLANNER_SETTINGS; tests/posts/test_list_plan.py).
    """

    where: str
    args: tuple[Any, ...]

    @property
    def count_sql(self) -> str:
        # Only fixed clauses and $n placeholders are formatted in; every value is an argument.
        return f"SELECT count(*) FROM instagram_scheduled_posts WHERE {self.where}"  # noqa: S608

    def page_sql(self) -> str:
        n = len(self.args)
        return (
            f"SELECT {POST_COLUMNS} FROM instagram_scheduled_posts WHERE {self.where}"  # noqa: S608
            f" ORDER BY scheduled_for, id OFFSET ${n + 1} LIMIT ${n + 2}"
        )


def list_query(
    *,
    account_id: uuid.UUID,
    status: str | None = None,
    scheduled_after: datetime | None = None,
    scheduled_before: datetime | None = None,
) -> ListQuery:
    clauses: list[str] = ["instagram_account_id = $1"]
    args: list[Any] = [account_id]
    for clause, value in (
        ("status = ${}", status),
        ("scheduled_for >= ${}", scheduled_after),
        ("scheduled_for <= ${}", scheduled_before),
    ):
        if value is not None:
            args.append(value)
            clauses.append(clause.format(len(args)))
    return ListQuery(" AND ".join(clauses), tuple(args))


class PostRow(SimpleNamespace):
    """A post read without the ORM: the model's attribute names, for `Post.of`."""

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> PostRow:
        return cls(**post_attributes(record))


class NewPost(SimpleNamespace):
    """The values of a post to insert, by the model's attribute names (a model instance would
    run SQLAlchemy's attribute instrumentation for every value set: ~80 µs per create)."""


@dataclass(frozen=True, slots=True)
class Inserted:
    """What `insert_post` did: the stored row, or None with the reason in `missing_assets`
    (assets deleted meanwhile), else `quota_window` over the quota, else an Idempotency-Key
    already used. `quota_window`: the fullest 24 h window holding the post's time (its start and
    the posts in it, this one counted)."""

    row: PostRow | None
    missing_assets: frozenset[uuid.UUID]
    quota_window: tuple[datetime, int]


_ACCOUNT_ATTRS = stored_attributes(InstagramAccount)
_ASSET_ATTRS = stored_attributes(MediaAsset)
# One row per asset found (one with the asset columns NULL when none is): the user, the
# account when it is the user's, each of the user's assets among $3.
_CREATE_CONTEXT = (
    "SELECT u.id, "  # noqa: S608 - fixed names
    + ", ".join(f"a.{column}" for column, _ in _ACCOUNT_ATTRS)
    + ", "
    + ", ".join(f"m.{column}" for column, _ in _ASSET_ATTRS)
    + ", u.token_version"
    " FROM (SELECT 1) AS one LEFT JOIN users u ON u.id = $1"
    " LEFT JOIN instagram_accounts a ON a.id = $2 AND a.workspace_id = $4"
    " LEFT JOIN instagram_media_assets m ON m.workspace_id = $4 AND m.id = ANY($3::uuid[])"
)
_ACCOUNT_ID_AT = 1 + [attr for _, attr in _ACCOUNT_ATTRS].index("id")
_ASSET_ID_AT = 1 + len(_ACCOUNT_ATTRS) + [attr for _, attr in _ASSET_ATTRS].index("id")


@dataclass(frozen=True, slots=True)
class CreateContext:
    """What a new post is checked against, read in one statement (`read_create_context`)."""

    account: InstagramAccount | None  # None: not found, or another user's
    assets: dict[uuid.UUID, MediaAsset]  # the user's among those asked for
    token_version: int  # the user's (`auth.deps`: a token of another version is revoked)


async def read_create_context(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    asset_ids: Iterable[uuid.UUID],
) -> CreateContext | None:
    """The workspace's account and assets for a new post, or None when the user no longer
    exists.

    One round trip instead of three (the caller's user, the account, the assets; each costs the
    API ~0.1-0.2 ms of CPU under load, more alone, measured in-process). Model objects as
    `fetch_account` / `fetch_assets` give them: detached, reading only, assets without their
    uses.
    """
    conn = await driver_connection(session)
    records = await conn.fetch(
        _CREATE_CONTEXT, user_id, account_id, list(set(asset_ids)), workspace_id
    )
    first = records[0]
    if first[0] is None:
        return None
    account = (
        _loaded_at(InstagramAccount, _ACCOUNT_ATTRS, first, 1)
        if first[_ACCOUNT_ID_AT] is not None
        else None
    )
    assets = [
        _loaded_at(MediaAsset, _ASSET_ATTRS, record, 1 + len(_ACCOUNT_ATTRS))
        for record in records
        if record[_ASSET_ID_AT] is not None
    ]
    return CreateContext(account, {asset.id: asset for asset in assets}, first[-1])


def _loaded_at(
    model: type[ModelT], attrs: list[tuple[str, str]], record: Any, start: int
) -> ModelT:
    """The model object of `attrs`' columns, found in `record` from position `start` on."""
    values = tuple(record)[start : start + len(attrs)]
    return loaded(model, {attr: v for (_, attr), v in zip(attrs, values, strict=True)})


_INSERTS: dict[tuple[tuple[str, ...], bool], str] = {}


def _insert_sql(columns: tuple[str, ...], *, template: bool) -> str:
    """One statement for a new post: lock its assets, insert it, count the uses.

    $1..$n are the post's values, then the asset ids ($n+1, one per use), the number of distinct
    assets ($n+2), the account and quota time ($n+3, $n+4), the quota ($n+5; NULL: over it is
    allowed) and, with `template`, the template id ($n+6).

    - `locked` takes the assets' rows `FOR KEY SHARE`: shared with other posts being created,
      exclusive of a media deletion (which locks the row first, then checks for posts using
      it): that deletion either committed before (the row is gone and the post is not
      inserted) or waits for this post and then sees it.
    - The post is inserted only when every asset is there, when the fullest 24 h window holding
      its time stays within the quota (`qw`: `instasched_quota_window` takes the account's quota
      lock, held until this statement commits, and counts with a snapshot taken after it; see
      posts.quota), and not when another post has its Idempotency-Key (the partial unique
      index; a concurrent twin inserts nothing).
    - The template's use is counted only for an inserted post. The post's count and its assets'
      uses are counted by the statement-level triggers (migration 0011).
    - The post's `created` event (posts.history) is written with it; its detail (JSON text) is
      the parameter after those ($n+6, or $n+7 with `template`), its actor (the user) the last.

    A single statement is atomic on its own: no BEGIN and COMMIT round trips.
    """
    sql = _INSERTS.get((columns, template))
    if sql is None:
        n = len(columns)
        values = ", ".join(f"${i}" for i in range(1, n + 1))
        sql = (
            f"WITH {_LOCK_ASSETS.format(ids=f'${n + 1}')}, "  # noqa: S608
            f"qw AS (SELECT * FROM instasched_quota_window(${n + 3}, ${n + 4}, NULL)), "
            f"ins AS (INSERT INTO instagram_scheduled_posts ({', '.join(columns)}) "
            f"SELECT {values} FROM qw WHERE (SELECT count(*) FROM locked) = ${n + 2} "
            f"AND (${n + 5}::int IS NULL OR qw.posts <= ${n + 5}::int) "
            "ON CONFLICT (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL "
            f"DO NOTHING RETURNING {POST_COLUMNS})"
        )
        if template:
            sql += (
                f", tpl AS ({_COUNT_TEMPLATE_USE.format(id=f'${n + 6}')} "  # noqa: S608
                "AND EXISTS (SELECT 1 FROM ins))"
            )
        event = n + 7 if template else n + 6
        sql += (
            ", ev AS (INSERT INTO instagram_post_events (post_id, kind, actor_user_id, detail) "  # noqa: S608
            f"SELECT id, 'created', ${event + 1}::uuid, ${event}::text::jsonb FROM ins)"
        )
        sql += (
            " SELECT array(SELECT id FROM locked) AS locked_assets, qw.window_start AS "
            "quota_window_start, qw.posts AS quota_posts, ins.* "
            "FROM qw LEFT JOIN ins ON true"
        )
        _INSERTS[(columns, template)] = sql
    return sql


async def insert_post(
    session: AsyncSession,
    post: NewPost,
    *,
    asset_ids: Sequence[uuid.UUID],
    quota: int | None,
    actor_user_id: uuid.UUID | None,
    event: Mapping[str, Any] | None = None,
) -> Inserted:
    """INSERT the new `post` (the values set on it, the rest from the column defaults) with its
    asset and template uses, in one statement (`_insert_sql`); not when its 24 h window would
    hold more than `quota` posts (None: no limit, the window is still reported).

    Through asyncpg (RETURNING every column): the ORM's flush and refresh of a new post were
    ~0.6 ms CPU per create (bench/run), the separate usage UPDATEs and the transaction's BEGIN
    and COMMIT three more round trips.
    """
    sql, args = _insert_statement(
        post, asset_ids=asset_ids, quota=quota, event=event, actor_user_id=actor_user_id
    )
    conn = await driver_connection(session)
    record = await conn.fetchrow(sql, *args)
    window = (record["quota_window_start"], record["quota_posts"])
    if record["id"] is None:
        missing = frozenset(set(asset_ids) - set(record["locked_assets"]))
        return Inserted(None, missing, window)
    return Inserted(PostRow.of({c: record[c] for c in POST_COLUMN_NAMES}), frozenset(), window)


def _insert_statement(
    post: NewPost,
    *,
    asset_ids: Sequence[uuid.UUID],
    quota: int | None,
    event: Mapping[str, Any] | None,
    actor_user_id: uuid.UUID | None,
) -> tuple[str, list[Any]]:
    values = {
        COLUMN_OF[attr]: column_param(COLUMN_OF[attr], value)
        for attr, value in vars(post).items()
        if value is not None
    }
    args = [
        *values.values(),
        list(asset_ids),
        len(set(asset_ids)),
        post.instagram_account_id,
        # A draft without a time: any time (it uses no quota: `quota` is None), so that the
        # window function returns its row.
        post.scheduled_for or datetime.now(UTC),
        quota,
    ]
    template_id = getattr(post, "template_id", None)
    if template_id is not None:
        args.append(template_id)
    args.append(orjson.dumps(event or {}).decode())  # the `created` event's detail
    args.append(actor_user_id)
    return _insert_sql(tuple(values), template=template_id is not None), args


@dataclass(frozen=True, slots=True)
class PlannedInsert:
    post: NewPost  # with its `id` set
    asset_ids: Sequence[uuid.UUID]
    quota: int | None
    event: Mapping[str, Any]
    actor_user_id: uuid.UUID | None


async def insert_posts(session: AsyncSession, planned: Sequence[PlannedInsert]) -> set[uuid.UUID]:
    """`insert_post` for many posts, in order, in the session's transaction: each statement
    sees the ones before it (the quota counts them). Consecutive posts of one statement shape go
    as one pipelined `executemany` (one round trip instead of one each). Returns the ids
    inserted; a post not inserted was over its quota or lost an asset (the caller asks which).
    """
    conn = await driver_connection(session, write=True)
    runs: list[tuple[str, list[list[Any]]]] = []
    for item in planned:
        sql, args = _insert_statement(
            item.post,
            asset_ids=item.asset_ids,
            quota=item.quota,
            event=item.event,
            actor_user_id=item.actor_user_id,
        )
        if runs and runs[-1][0] == sql:
            runs[-1][1].append(args)
        else:
            runs.append((sql, [args]))
    for sql, many in runs:
        await conn.executemany(sql, many)
    ids = [item.post.id for item in planned]
    found = await conn.fetch(_EXISTING, ids)
    return {r["id"] for r in found}


_EXISTING = "SELECT id FROM instagram_scheduled_posts WHERE id = ANY($1::uuid[])"


async def list_for_account(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    status: str | None,
    scheduled_after: datetime | None,
    scheduled_before: datetime | None,
    offset: int,
    limit: int,
) -> tuple[list[PostRow], int]:
    """One page of the account's posts and the total matching the filters (the account must
    already be known to be the caller's).

    Straight through asyncpg on the session's connection (same transaction): a read of 20 rows
    and a count through the ORM cost ~1.5 ms more CPU per request than these two statements
    (bench/run), and the list only reads. Without a date range the total is read from
    instagram_post_counts (kept exact by triggers), not counted.
    """
    query = list_query(
        account_id=account_id,
        status=status,
        scheduled_after=scheduled_after,
        scheduled_before=scheduled_before,
    )
    conn = await driver_connection(session)
    records = await conn.fetch(query.page_sql(), *query.args, offset, limit)
    posts = [PostRow.of(r) for r in records]
    if 0 < len(posts) < limit or (offset == 0 and not posts):
        # A short page is the last one: the total is known without counting (a count over
        # 100,000 posts costs PostgreSQL ~4 ms, measured).
        return posts, offset + len(posts)
    if scheduled_after is None and scheduled_before is None:
        # Without a date range: the per-status counts the triggers keep (migrations 0005, 0006,
        # 0011), not COUNT(*): at 100,000 posts in one account 0.09 ms against 4.4 ms per read
        # (bench/count_read_bench.py, load 6); in 16 stripes so concurrent writers of one
        # account do not queue on one row (20 writers: 2,260 -> 6,070-7,480 inserts/s,
        # bench/bulk_insert.py --writers). tests/posts/test_post_counts.py and
        # test_bulk_counts.py compare them with COUNT(*) after every kind of write.
        args = (account_id,) if status is None else (account_id, status)
        total = await conn.fetchval(_COUNTED[status is not None], *args)
    else:
        total = await conn.fetchval(query.count_sql, *query.args)
    return posts, int(total or 0)


_COUNTED = {
    False: "SELECT coalesce(sum(n), 0) FROM instagram_post_counts WHERE instagram_account_id = $1",
    True: "SELECT coalesce(sum(n), 0) FROM instagram_post_counts"
    " WHERE instagram_account_id = $1 AND status = $2",
}


# The assets among {ids} (a uuid[] parameter) that still exist, locked until the commit against
# their deletion, not against other posts using them.
_LOCK_ASSETS = (
    "locked AS (SELECT id FROM instagram_media_assets WHERE id = ANY({ids}::uuid[]) FOR KEY SHARE)"
)
_LOCKED_ASSETS = f"WITH {_LOCK_ASSETS.format(ids='$1')} SELECT array(SELECT id FROM locked)"  # noqa: S608


# --- media assets ---------------------------------------------------------------------------
async def assets_by_ids(
    session: AsyncSession, *, workspace_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, MediaAsset]:
    """Detached (reading only), through asyncpg on the session's transaction."""
    return await fetch_assets(await driver_connection(session), workspace_id=workspace_id, ids=ids)


async def assets_by_locations(
    session: AsyncSession, *, workspace_id: uuid.UUID, locations: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], MediaAsset]:
    """Assets by (bucket, key), among the user's own only."""
    wanted = list(set(locations))
    if not wanted:
        return {}
    keys = list({key for _, key in wanted})
    rows = await session.scalars(
        select(MediaAsset).where(
            MediaAsset.workspace_id == workspace_id, MediaAsset.s3_key.in_(keys)
        )
    )
    return {(a.s3_bucket, a.s3_key): a for a in rows}


async def lock_assets(session: AsyncSession, *, asset_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Lock the assets a post is given until the commit, against their deletion (not against
    other posts using them); their uses are counted by the posts' triggers (migration 0011).

    Returns the ids whose row is gone: an asset deleted by a concurrent request after it was
    read (the media deletion locks the row, so this waits for it and then finds nothing). The
    CSV import asks it why a row was not inserted.
    """
    if not asset_ids:
        return set()
    conn = await driver_connection(session, write=True)
    found = await conn.fetchval(_LOCKED_ASSETS, list(asset_ids))
    return set(asset_ids) - set(found)


# --- templates ------------------------------------------------------------------------------
async def get_template_owned(
    session: AsyncSession, *, workspace_id: uuid.UUID, template_id: uuid.UUID
) -> PostTemplate | None:
    template: PostTemplate | None = await session.scalar(
        select(PostTemplate).where(
            PostTemplate.id == template_id, PostTemplate.workspace_id == workspace_id
        )
    )
    return template


# One use of the template {id}: a new post made with it (`_insert_sql`) or an edit that switches
# a post to it (`count_template_use`).
_COUNT_TEMPLATE_USE = (
    "UPDATE instagram_post_templates "
    "SET usage_count = coalesce(usage_count, 0) + 1, last_used_at = now() WHERE id = {id}"
)


async def count_template_use(session: AsyncSession, *, template_id: uuid.UUID) -> None:
    """In the session's transaction."""
    conn = await driver_connection(session, write=True)
    await conn.execute(_COUNT_TEMPLATE_USE.format(id="$1"), template_id)


async def database_now(session: AsyncSession) -> datetime:
    """The database clock (the worker compares due times against it)."""
    value: datetime = await session.scalar(select(func.now()))  # type: ignore[assignment]
    return value
