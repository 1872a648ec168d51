"""Facebook Login for Business: the consent URL, the callback, and the account picker.

The flow (docs/login-kinds.md):
1. `oauth.create_authorize_url` with login kind "facebook": the same single-use, browser-bound
   state as Instagram Login, and the URL of Facebook's dialog (`consent_screen`:
   `https://www.facebook.com/{version}/dialog/oauth`, scopes `SCOPES`).
2. `complete` (the callback): code → short-lived user token → long-lived user token (60 days) →
   `GET /me/accounts`: the Pages the person allowed, each with a Page token (no expiry, since it
   comes from a long-lived user token) and its linked Instagram professional account.
   One such Page: the account is connected at once. Several: a pending connection holds them
   (Page tokens encrypted) for 10 minutes and the person picks one (`connect_pending`).
   None: a 400 saying how to link an Instagram account to a Page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.accounts import oauth, repository, service
from instasched.config import Settings
from instasched.exceptions import BadRequest, Invalid, NotFound, UpstreamError
from instasched.integrations.instagram import GraphClient, GraphError, login_kinds
from instasched.integrations.instagram.facebook import FacebookPage
from instasched.kit.time import utcnow
from instasched.models import FacebookPendingConnection, InstagramAccount
from instasched.security import TokenCipher

CALLBACK_PATH = "/api/instagram/oauth/facebook/callback"
PENDING_TTL = timedelta(minutes=10)
# Facebook Login for Business permissions: the Instagram account, publishing, the Pages
# (listing them, reading the linked account), insights (best times), comments (first comment).
SCOPES = (
    "instagram_basic",
    "instagram_content_publish",
    "pages_read_engagement",
    "pages_show_list",
    "instagram_manage_insights",
    "instagram_manage_comments",
)
NOT_CONFIGURED = "Facebook Login is not configured: set FACEBOOK_APP_ID and FACEBOOK_APP_SECRET"
NO_INSTAGRAM_PAGE = (
    "None of the Facebook Pages you allowed has an Instagram professional account linked to it: "
    "link your Instagram account to a Facebook Page (Instagram app: Settings, Account type and "
    "tools; or Meta Business Suite), then connect again and allow that Page"
)
PENDING_NOT_FOUND = (
    "This choice of Facebook Pages is unknown, was already used or has expired (it is kept for "
    "10 minutes): connect with Facebook again"
)


def redirect_uri(settings: Settings) -> str:
    """`FACEBOOK_REDIRECT_URI`, else this service's Facebook callback under its base URL."""
    return settings.facebook_redirect_uri or f"{settings.base_url}{CALLBACK_PATH}"


def _dialog(settings: Settings) -> tuple[str, str]:
    """(dialog URL, client id): the sandbox's graph.facebook.com in sandbox mode."""
    version = settings.instagram_api_version
    if settings.sandbox_enabled:
        from instasched.state import SANDBOX_FACEBOOK_PREFIX, sandbox_base_url

        base = f"{sandbox_base_url(settings)}{SANDBOX_FACEBOOK_PREFIX}"
        return f"{base}/{version}/dialog/oauth", "sandbox-app"
    if not (settings.facebook_app_id and settings.facebook_app_secret):
        raise BadRequest(NOT_CONFIGURED)
    return f"{settings.facebook_oauth_url.rstrip('/')}/{version}/dialog/oauth", str(
        settings.facebook_app_id
    )


def consent_screen(settings: Settings) -> oauth.ConsentScreen:
    """Facebook's consent dialog (`oauth.create_authorize_url` with login kind "facebook")."""
    url, client_id = _dialog(settings)
    return oauth.ConsentScreen(
        url=url,
        client_id=client_id,
        redirect_uri=redirect_uri(settings),
        scopes=SCOPES,
        login_kind=login_kinds.FACEBOOK,
    )


@dataclass(frozen=True)
class Completed:
    """The callback's outcome: the connected account, or the Pages to pick from."""

    account: InstagramAccount | None = None
    pending: FacebookPendingConnection | None = None


async def complete(
    session: AsyncSession,
    settings: Settings,
    graph: GraphClient,
    cipher: TokenCipher,
    callback: oauth.Callback,
) -> Completed:
    """The Facebook callback (`graph` speaks to graph.facebook.com)."""
    record, code = await oauth.take_state(session, callback, login_kind=login_kinds.FACEBOOK)
    try:
        short = await graph.facebook_exchange_code(code, redirect_uri(settings))
        long = await graph.facebook_long_lived(short.access_token)
        pages = await graph.facebook_pages(long.access_token)
    except GraphError as exc:
        if exc.retryable:
            raise UpstreamError(f"Facebook could not be reached: {exc.message}") from exc
        raise Invalid(f"Facebook refused the authorization: {exc.message}", field="code") from exc
    linked = [p for p in pages if p.ig_user_id]
    if not linked:
        raise BadRequest(NO_INSTAGRAM_PAGE, detail=[{"field": "pages", "message": "none linked"}])
    if len(linked) == 1:
        account = await service.connect_facebook(
            session,
            graph,
            cipher,
            workspace_id=record.workspace_id,
            page=linked[0],
            timezone=record.timezone,
        )
        return Completed(account=account)
    pending = await repository.add_pending_connection(
        session,
        user_id=record.user_id,
        workspace_id=record.workspace_id,
        timezone=record.timezone,
        pages=[
            {
                "pageId": p.page_id,
                "name": p.name,
                "igUserId": p.ig_user_id,
                "igUsername": p.ig_username,
                "token": cipher.encrypt(p.access_token),
            }
            for p in linked
        ],
        expires_at=utcnow() + PENDING_TTL,
    )
    return Completed(pending=pending)


async def pending_connection(
    session: AsyncSession, *, user_id: uuid.UUID, workspace_id: uuid.UUID, pending_id: uuid.UUID
) -> FacebookPendingConnection:
    """The user's pending choice (another user's, a used or an expired one: 404)."""
    pending = await repository.get_pending_connection(
        session, user_id=user_id, workspace_id=workspace_id, pending_id=pending_id
    )
    if pending is None:
        raise NotFound(PENDING_NOT_FOUND)
    return pending


async def connect_pending(
    session: AsyncSession,
    graph: GraphClient,
    cipher: TokenCipher,
    *,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID,
    pending_id: uuid.UUID,
    page_id: str,
) -> InstagramAccount:
    """Connect the Instagram account of the picked Page; the pending choice is used up."""
    pending = await repository.get_pending_connection(
        session, user_id=user_id, workspace_id=workspace_id, pending_id=pending_id, take=True
    )
    if pending is None:
        raise NotFound(PENDING_NOT_FOUND)
    chosen = next((p for p in pending.pages if p.get("pageId") == page_id), None)
    if chosen is None:
        offered = ", ".join(f"{p['pageId']} ({p['name']})" for p in pending.pages)
        # Raising rolls the deletion back: the person can pick again.
        raise Invalid(
            f"pageId {page_id} is not one of the Pages offered: {offered}", field="pageId"
        )
    try:
        token = cipher.decrypt(str(chosen["token"]))
    except ValueError as exc:
        raise NotFound(PENDING_NOT_FOUND) from exc
    page = FacebookPage(
        page_id=page_id,
        name=str(chosen.get("name") or ""),
        access_token=token,
        ig_user_id=str(chosen["igUserId"]),
        ig_username=chosen.get("igUsername"),
    )
    return await service.connect_facebook(
        session,
        graph,
        cipher,
        workspace_id=workspace_id,
        page=page,
        timezone=pending.timezone,
    )
