"""SQL for accounts. Every read filters by the owner."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.db import add_row, driver_connection
from instasched.exceptions import NotFound
from instasched.kit.time import utcnow
from instasched.models import (
    FacebookPendingConnection,
    InstagramAccount,
    OAuthState,
    PostStatus,
    ScheduledPost,
)
from instasched.models.base import loaded, stored_attributes
from instasched.workspaces.repository import get_in_workspace


async def get_owned(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    for_update: bool = False,
) -> InstagramAccount:
    """The workspace's account, or 404 (see `get_in_workspace`)."""
    return await get_in_workspace(
        session,
        InstagramAccount,
        account_id,
        workspace_id=workspace_id,
        not_found="Instagram account not found",
        for_update=for_update,
    )


async def queued_post_ids(session: AsyncSession, *, account_id: uuid.UUID) -> list[uuid.UUID]:
    """The account's posts that may have a job in Redis (`scheduled` ones)."""
    rows = await session.scalars(
        select(ScheduledPost.id).where(
            ScheduledPost.instagram_account_id == account_id,
            ScheduledPost.status == PostStatus.SCHEDULED,
        )
    )
    return list(rows)


# Through asyncpg (~45 µs of CPU against ~200 µs for an ORM query, measured): the account read of
# every publication, list page and post edit. Every column, by its attribute name.
_ACCOUNT_BY_ID = (
    f"SELECT {', '.join(f'{c} AS {a}' for c, a in stored_attributes(InstagramAccount))} "  # noqa: S608
    "FROM instagram_accounts WHERE id = $1"
)


async def fetch_account(
    conn: Any, account_id: uuid.UUID, *, workspace_id: uuid.UUID | None = None
) -> InstagramAccount | None:
    """One account on an asyncpg connection (of the user, when given), as a detached model
    object: reading only, changes to it are not saved."""
    if workspace_id is None:
        row = await conn.fetchrow(_ACCOUNT_BY_ID, account_id)
    else:
        row = await conn.fetchrow(
            _ACCOUNT_BY_ID + " AND workspace_id = $2", account_id, workspace_id
        )
    return loaded(InstagramAccount, row) if row is not None else None


async def read_owned(
    session: AsyncSession, *, workspace_id: uuid.UUID, account_id: uuid.UUID
) -> InstagramAccount:
    """`get_owned` for reading only (detached, see `fetch_account`), in the session's
    transaction; 404 alike."""
    conn = await driver_connection(session)
    account = await fetch_account(conn, account_id, workspace_id=workspace_id)
    if account is None:
        raise NotFound("Instagram account not found")
    return account


async def list_owned(session: AsyncSession, *, workspace_id: uuid.UUID) -> list[InstagramAccount]:
    rows = await session.scalars(
        select(InstagramAccount)
        .where(InstagramAccount.workspace_id == workspace_id)
        .order_by(InstagramAccount.created_at)
    )
    return list(rows)


async def find_by_ig_user(
    session: AsyncSession, *, workspace_id: uuid.UUID, ig_user_id: str
) -> InstagramAccount | None:
    result: InstagramAccount | None = await session.scalar(
        select(InstagramAccount).where(
            InstagramAccount.workspace_id == workspace_id, InstagramAccount.ig_user_id == ig_user_id
        )
    )
    return result


async def add_oauth_state(
    session: AsyncSession,
    *,
    state: str,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID,
    timezone: str | None,
    expires_at: datetime,
    login_kind: str,
) -> None:
    session.add(
        OAuthState(
            state=state,
            user_id=user_id,
            workspace_id=workspace_id,
            timezone=timezone,
            expires_at=expires_at,
            login_kind=login_kind,
        )
    )
    await session.flush()


async def purge_expired_oauth_states(session: AsyncSession, *, now: datetime) -> None:
    await session.execute(delete(OAuthState).where(OAuthState.expires_at < now))


async def consume_oauth_state(
    session: AsyncSession, *, state: str, user_id: uuid.UUID | None, login_kind: str
) -> OAuthState | None:
    """Delete the state and return it (single use: a replay finds nothing).

    With `user_id`, only that user's state is consumed (another user's is left untouched); a
    state of the other login's callback is left untouched too.
    """
    query = delete(OAuthState).where(OAuthState.state == state, OAuthState.login_kind == login_kind)
    if user_id is not None:
        query = query.where(OAuthState.user_id == user_id)
    row = (await session.execute(query.returning(OAuthState))).scalar_one_or_none()
    return row


# --- Facebook Login: the Pages a person may pick from ------------------------------------------
async def add_pending_connection(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID,
    timezone: str | None,
    pages: list[dict[str, Any]],
    expires_at: datetime,
) -> FacebookPendingConnection:
    await session.execute(
        delete(FacebookPendingConnection).where(FacebookPendingConnection.expires_at < utcnow())
    )
    pending = FacebookPendingConnection(
        user_id=user_id,
        workspace_id=workspace_id,
        timezone=timezone,
        pages=pages,
        expires_at=expires_at,
    )
    return await add_row(session, pending)


async def get_pending_connection(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID,
    pending_id: uuid.UUID,
    take: bool = False,
) -> FacebookPendingConnection | None:
    """The user's unexpired pending connection into this workspace (the one the flow started
    in, where the account lands), deleted when `take`: single use."""
    where = (
        FacebookPendingConnection.id == pending_id,
        FacebookPendingConnection.user_id == user_id,
        FacebookPendingConnection.workspace_id == workspace_id,
        FacebookPendingConnection.expires_at > utcnow(),
    )
    if take:
        result = await session.execute(
            delete(FacebookPendingConnection).where(*where).returning(FacebookPendingConnection)
        )
        taken: FacebookPendingConnection | None = result.scalar_one_or_none()
        return taken
    found: FacebookPendingConnection | None = await session.scalar(
        select(FacebookPendingConnection).where(*where)
    )
    return found
