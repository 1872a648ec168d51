"""Connecting accounts: verify the token with the Graph API, store it encrypted."""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.accounts import repository
from instasched.db import after_commit, release_connections
from instasched.exceptions import Conflict, Invalid, UpstreamError
from instasched.integrations.instagram import GraphAuthError, GraphClient, GraphError, login_kinds
from instasched.integrations.instagram.client import TokenInfo
from instasched.integrations.instagram.facebook import FacebookPage, IgProfile
from instasched.kit.time import utcnow, zone
from instasched.models import InstagramAccount
from instasched.security import TokenCipher
from instasched.worker.queue import PublishQueue

LONG_LIVED_SECONDS = 60 * 86400
# 1,000 jobs per pipelined round trip; what is left behind finds its post gone when it runs.
JOB_REMOVAL_TIMEOUT_SECONDS = 10.0


async def _before_graph_call(session: AsyncSession, timezone: str | None) -> None:
    """A bad time zone answers before Instagram is asked anything; a session that has not begun
    gives its connection back while Instagram answers (see `connect`)."""
    if timezone is not None:
        zone(timezone)
    if not session.in_transaction():
        await release_connections(session)


async def connect(
    session: AsyncSession,
    graph: GraphClient,
    cipher: TokenCipher,
    *,
    workspace_id: uuid.UUID,
    access_token: str,
    timezone: str | None,
    expires_in: int | None = None,
) -> InstagramAccount:
    """Verify `access_token`, make it long-lived if needed, store (or update) the account.

    Connecting with a token (the session has not begun), no database connection is held while
    Instagram answers (up to GRAPH_TIMEOUT_SECONDS per call; the user lookup's connection went
    back first): a slow Instagram must not exhaust the pool for every other request. The OAuth
    callback's session has begun (its consumed state) and keeps its transaction.
    """
    await _before_graph_call(session, timezone)
    try:
        me = await graph.get_me(access_token)
    except GraphAuthError as exc:
        raise Invalid(
            f"Instagram rejected the access token: {exc.message}", field="accessToken"
        ) from exc
    except GraphError as exc:
        if exc.retryable:
            raise UpstreamError(f"Instagram could not be reached: {exc.message}") from exc
        raise Invalid(
            f"Instagram rejected the access token: {exc.message}", field="accessToken"
        ) from exc

    token = TokenInfo(access_token=access_token, expires_in=expires_in)
    if expires_in is None or expires_in < 86400:
        # A short-lived token (1 h) is exchanged for a 60-day one; a long-lived one is kept.
        try:
            token = await graph.exchange_long_lived(access_token)
        except GraphError as exc:
            if exc.retryable:
                # Storing a possibly 1-hour token as a 60-day one would break publishing later.
                raise UpstreamError(
                    f"Instagram could not exchange the token right now: {exc.message}; try again"
                ) from exc
            # Refused: typically the token is long-lived already, which is kept as it is.
            token = TokenInfo(access_token=access_token, expires_in=expires_in)

    return await save_account(
        session,
        graph,
        cipher,
        workspace_id=workspace_id,
        profile=IgProfile(me.user_id, me.username, me.followers_count),
        access_token=token.access_token,
        expires_in=token.expires_in or LONG_LIVED_SECONDS,
        timezone=timezone,
    )


async def connect_page_token(
    session: AsyncSession,
    graph: GraphClient,
    cipher: TokenCipher,
    *,
    workspace_id: uuid.UUID,
    access_token: str,
    timezone: str | None,
) -> InstagramAccount:
    """Connect with a Facebook Page token (Facebook Login made elsewhere): the Page's linked
    Instagram account, through graph.facebook.com (`graph`)."""
    await _before_graph_call(session, timezone)
    try:
        page = await graph.facebook_page_of_token(access_token)
    except GraphError as exc:
        if exc.retryable:
            raise UpstreamError(f"Facebook could not be reached: {exc.message}") from exc
        raise Invalid(
            f"Facebook rejected the access token: {exc.message} (loginKind facebook takes the "
            "token of a Facebook Page, from GET /me/accounts)",
            field="accessToken",
        ) from exc
    return await connect_facebook(
        session, graph, cipher, workspace_id=workspace_id, page=page, timezone=timezone
    )


async def connect_facebook(
    session: AsyncSession,
    graph: GraphClient,
    cipher: TokenCipher,
    *,
    workspace_id: uuid.UUID,
    page: FacebookPage,
    timezone: str | None,
) -> InstagramAccount:
    """Store (or update) an account connected with Facebook Login: the Instagram account linked
    to `page`, read on graph.facebook.com with the Page token, which is stored. A Page token
    obtained with a long-lived user token has no expiry date: `tokenExpiresAt` is null and the
    daily refresh leaves it alone (accounts/tasks.py); a revoked one answers 190 and the account
    is marked `needsReauth`, as with Instagram Login."""
    if not page.ig_user_id:
        raise Invalid(
            f"The Facebook Page {page.name or page.page_id} has no Instagram professional account "
            "linked to it: link one to the Page, or give the token of the Page that has it",
            field="accessToken",
        )
    try:
        profile = await graph.get_ig_user(page.ig_user_id, page.access_token)
    except GraphError as exc:
        if exc.retryable:
            raise UpstreamError(f"Facebook could not be reached: {exc.message}") from exc
        raise Invalid(
            f"Facebook refused to read the Instagram account of the Page: {exc.message}",
            field="pageId",
        ) from exc
    return await save_account(
        session,
        graph,
        cipher,
        workspace_id=workspace_id,
        profile=profile,
        access_token=page.access_token,
        expires_in=None,
        timezone=timezone,
        login_kind=login_kinds.FACEBOOK,
        page=(page.page_id, page.name),
    )


async def save_account(
    session: AsyncSession,
    graph: GraphClient,
    cipher: TokenCipher,
    *,
    workspace_id: uuid.UUID,
    profile: IgProfile,
    access_token: str,
    expires_in: int | None,
    timezone: str | None,
    login_kind: str = login_kinds.INSTAGRAM,
    page: tuple[str, str] | None = None,
) -> InstagramAccount:
    """Insert or update the user's account of `profile` with its token (no expiry when
    `expires_in` is None) and login kind; reads its publishing quota."""
    now = utcnow()
    account = await repository.find_by_ig_user(
        session, workspace_id=workspace_id, ig_user_id=profile.user_id
    )
    if account is None:
        account = InstagramAccount(
            workspace_id=workspace_id, ig_user_id=profile.user_id, timezone=timezone or "UTC"
        )
        session.add(account)
    elif timezone is not None:
        account.timezone = timezone
    account.username = profile.username
    account.login_kind = login_kind
    account.facebook_page_id, account.facebook_page_name = page or (None, None)
    account.access_token_encrypted = cipher.encrypt(access_token)
    account.token_expires_at = now + timedelta(seconds=expires_in) if expires_in else None
    account.token_refreshed_at = now
    account.needs_reauth = False
    account.followers_count = profile.followers_count
    try:
        # The publishing quota, for the checks when posts are placed (posts.quota); an account
        # whose limit cannot be read now keeps the last one (or the default).
        limit = await graph.publishing_limit(profile.user_id, access_token)
    except GraphError:
        limit = None
    if limit is not None and limit.quota_total:
        account.publishing_quota = limit.quota_total
        account.publishing_quota_read_at = now
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent connect of the same account won the race
        raise Conflict("This Instagram account is being connected right now; try again") from exc
    await session.refresh(account)
    return account


async def update_timezone(
    session: AsyncSession, *, workspace_id: uuid.UUID, account_id: uuid.UUID, timezone: str
) -> InstagramAccount:
    zone(timezone)
    account = await repository.get_owned(session, workspace_id=workspace_id, account_id=account_id)
    account.timezone = timezone
    await session.flush()
    await session.refresh(account)
    return account


async def delete(
    session: AsyncSession, *, queue: PublishQueue, workspace_id: uuid.UUID, account_id: uuid.UUID
) -> None:
    """Delete the account (its posts go by cascade) and, after the commit, its posts' jobs."""
    account = await repository.get_owned(
        session, workspace_id=workspace_id, account_id=account_id, for_update=True
    )
    queued = await repository.queued_post_ids(session, account_id=account_id)
    await session.delete(account)
    await session.flush()
    if queued:
        after_commit(
            session, partial(queue.remove_many, queued), timeout=JOB_REMOVAL_TIMEOUT_SECONDS
        )
