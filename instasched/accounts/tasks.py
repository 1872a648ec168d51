"""Daily job: refresh long-lived Instagram tokens before they expire.

Instagram's long-lived tokens last 60 days and can be refreshed once they are >= 24 h old and
still valid (`GET /refresh_access_token?grant_type=ig_refresh_token`). The worker calls
`refresh_expiring_tokens` once a day; it is safe to run from several workers at once and to run
again after a crash (each account is its own short transaction, and the new token is written only
if the stored one is still the one that was refreshed).

Accounts connected with Facebook Login are left alone: their Page token has no expiry date (it is
derived from a long-lived user token) and graph.facebook.com has no `ig_refresh_token`; a Page
token revoked later answers 190 when used, which marks the account `needs_reauth`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instasched.integrations.instagram import GraphAuthError, GraphClient, GraphError, login_kinds
from instasched.kit.time import utcnow
from instasched.models import InstagramAccount
from instasched.observability.metrics import TOKEN_REFRESHES
from instasched.security import TokenCipher

log = logging.getLogger(__name__)

MIN_TOKEN_AGE = timedelta(hours=24)
REFRESH_WINDOW = timedelta(days=10)
LONG_LIVED_SECONDS = 60 * 86400


async def refresh_expiring_tokens(
    session_factory: async_sessionmaker[AsyncSession],
    graph: GraphClient,
    cipher: TokenCipher,
    *,
    now: datetime | None = None,
) -> int:
    """Refresh every token that is >= 24 h old and expires within 10 days; return how many.

    A 190 answer (token invalid or expired) marks the account `needs_reauth`; any other error
    leaves the account for the next run.
    """
    now = now or utcnow()
    async with session_factory() as session:
        due = (
            await session.execute(
                select(InstagramAccount.id, InstagramAccount.access_token_encrypted).where(
                    InstagramAccount.login_kind == login_kinds.INSTAGRAM,
                    InstagramAccount.needs_reauth.is_(False),
                    InstagramAccount.token_expires_at.is_not(None),
                    InstagramAccount.token_expires_at <= now + REFRESH_WINDOW,
                    InstagramAccount.token_refreshed_at.is_not(None),
                    InstagramAccount.token_refreshed_at <= now - MIN_TOKEN_AGE,
                )
            )
        ).all()
    refreshed = 0
    for account_id, encrypted in due:
        if await _refresh_one(
            session_factory, graph, cipher, account_id=account_id, encrypted=encrypted
        ):
            refreshed += 1
    if due:
        log.info("refreshed %d of %d expiring Instagram tokens", refreshed, len(due))
    return refreshed


async def _refresh_one(
    session_factory: async_sessionmaker[AsyncSession],
    graph: GraphClient,
    cipher: TokenCipher,
    *,
    account_id: uuid.UUID,
    encrypted: str,
) -> bool:
    try:
        token = cipher.decrypt(encrypted)
    except ValueError:
        log.error("account %s: stored token cannot be decrypted (TOKEN_ENCRYPTION_KEY)", account_id)
        return False
    # The stored token must still be the one we refreshed (the user may have reconnected).
    unchanged = (
        InstagramAccount.id == account_id,
        InstagramAccount.access_token_encrypted == encrypted,
    )
    try:
        fresh = await graph.refresh_long_lived(token)
    except GraphAuthError as exc:
        log.warning("account %s: token refused (%s): needs re-auth", account_id, exc.code_label)
        async with session_factory() as session, session.begin():
            await session.execute(
                update(InstagramAccount).where(*unchanged).values(needs_reauth=True)
            )
        TOKEN_REFRESHES.labels(result="needs_reauth").inc()
        return False
    except GraphError as exc:
        log.warning(
            "account %s: token refresh failed (%s: %s); next run retries",
            account_id,
            exc.code_label,
            exc.message,
        )
        TOKEN_REFRESHES.labels(result="error").inc()
        return False
    refreshed_at = utcnow()
    async with session_factory() as session, session.begin():
        result = await session.execute(
            update(InstagramAccount)
            .where(*unchanged)
            .values(
                access_token_encrypted=cipher.encrypt(fresh.access_token),
                token_expires_at=refreshed_at
                + timedelta(seconds=fresh.expires_in or LONG_LIVED_SECONDS),
                token_refreshed_at=refreshed_at,
                needs_reauth=False,
            )
            .execution_options(synchronize_session=False)
        )
    done = bool(getattr(result, "rowcount", 0))
    if done:
        TOKEN_REFRESHES.labels(result="refreshed").inc()
    return done
