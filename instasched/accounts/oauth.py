"""Instagram Login (OAuth 2): the authorize URL and the callback that connects the account.

`state` is random, bound to the user who asked for the URL, stored in `oauth_states`, valid for
10 minutes and single use (the callback deletes it with `DELETE ... RETURNING`, so a replay or a
concurrent second callback finds nothing). A failed code exchange rolls the deletion back with the
rest of the request; the code itself is single use at Instagram, so that gains an attacker nothing.

`state` is also bound to the browser that asked for the URL: the answer sets the cookie
`STATE_COOKIE` to it, and the callback requires that cookie (or a bearer token of the state's
owner). Without this, an attacker's authorize URL opened and approved by a victim connected the
victim's Instagram account to the attacker (login CSRF, issue 24).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.accounts import repository, service
from instasched.config import Settings
from instasched.exceptions import BadRequest, Invalid, UpstreamError
from instasched.integrations.instagram import GraphClient, GraphError, login_kinds
from instasched.kit.time import utcnow, zone
from instasched.models import InstagramAccount, OAuthState
from instasched.security import TokenCipher

STATE_TTL = timedelta(minutes=10)
CALLBACK_PATH = "/api/instagram/oauth/callback"
STATE_COOKIE = "instasched_oauth_state"
STATE_COOKIE_PATH = "/api/instagram/oauth"
# Instagram Login scopes: identity, publishing, insights (best times), comments (first comment).
SCOPES = (
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_insights",
    "instagram_business_manage_comments",
)


@dataclass(frozen=True)
class Callback:
    """What a consent screen's redirect brings back, and who brings it: `bearer_user_id`, the
    user of a bearer token sent along (optional), and `browser_state`, the `STATE_COOKIE`."""

    code: str | None
    state: str | None
    error: str | None = None
    error_description: str | None = None
    bearer_user_id: uuid.UUID | None = None
    browser_state: str | None = None


@dataclass(frozen=True)
class AuthorizeUrl:
    url: str
    state: str


@dataclass(frozen=True)
class ConsentScreen:
    """Where a login kind's consent screen is, and what its URL carries."""

    url: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    login_kind: str


def redirect_uri(settings: Settings) -> str:
    """`INSTAGRAM_REDIRECT_URI`, else this service's callback under its base URL."""
    return settings.instagram_redirect_uri or f"{settings.base_url}{CALLBACK_PATH}"


def _authorize_endpoint(settings: Settings) -> tuple[str, str]:
    """(authorize URL, client id): the sandbox's consent screen in sandbox mode."""
    if settings.sandbox_enabled:
        from instasched.state import sandbox_base_url

        return f"{sandbox_base_url(settings)}/oauth/authorize", "sandbox-app"
    if not settings.instagram_app_id:
        raise BadRequest("Instagram Login is not configured: set INSTAGRAM_APP_ID")
    return settings.instagram_oauth_url, settings.instagram_app_id


async def issue_state(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID,
    timezone: str | None,
    login_kind: str = login_kinds.INSTAGRAM,
) -> str:
    """A fresh single-use state for `user_id`, for the callback of `login_kind`; the account
    lands in `workspace_id` (the workspace the flow started in)."""
    if timezone is not None:
        zone(timezone)
    now = utcnow()
    await repository.purge_expired_oauth_states(session, now=now)
    state = secrets.token_urlsafe(32)
    await repository.add_oauth_state(
        session,
        state=state,
        user_id=user_id,
        workspace_id=workspace_id,
        timezone=timezone,
        expires_at=now + STATE_TTL,
        login_kind=login_kind,
    )
    return state


def consent_url(
    base: str, *, client_id: str, redirect_uri: str, scopes: tuple[str, ...], state: str
) -> str:
    """A consent screen's URL (Instagram's or Facebook's: the same OAuth parameters)."""
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": ",".join(scopes),
            "state": state,
        }
    )
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{query}"


def consent_screen(settings: Settings) -> ConsentScreen:
    """Instagram Login's consent screen (the sandbox's in sandbox mode)."""
    url, client_id = _authorize_endpoint(settings)
    return ConsentScreen(
        url=url,
        client_id=client_id,
        redirect_uri=redirect_uri(settings),
        scopes=SCOPES,
        login_kind=login_kinds.INSTAGRAM,
    )


async def create_authorize_url(
    session: AsyncSession,
    settings: Settings,
    *,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID,
    timezone: str | None,
    login_kind: str = login_kinds.INSTAGRAM,
) -> AuthorizeUrl:
    """A fresh single-use state for `user_id` (connecting into `workspace_id`) and the URL of
    the consent screen of `login_kind`: Instagram's, or Facebook's dialog (`facebook.py`)."""
    if timezone is not None:
        zone(timezone)
    if login_kind == login_kinds.FACEBOOK:
        from instasched.accounts import facebook  # built on this module

        screen = facebook.consent_screen(settings)
    else:
        screen = consent_screen(settings)
    state = await issue_state(
        session,
        user_id=user_id,
        workspace_id=workspace_id,
        timezone=timezone,
        login_kind=screen.login_kind,
    )
    url = consent_url(
        screen.url,
        client_id=screen.client_id,
        redirect_uri=screen.redirect_uri,
        scopes=screen.scopes,
        state=state,
    )
    return AuthorizeUrl(url=url, state=state)


async def take_state(
    session: AsyncSession, callback: Callback, *, login_kind: str = login_kinds.INSTAGRAM
) -> tuple[OAuthState, str]:
    """The callback's checks: consume `state` (of `login_kind`), refuse a declined consent or a
    missing code; returns the state's record and the code.

    `bearer_user_id` is the user of a bearer token sent along (optional: the callback arrives by
    browser redirect); when given, only that user's state is accepted. Without it, the browser
    must be the one that asked for the URL: `browser_state` (the `STATE_COOKIE` it sends) must be
    `state`.
    """
    state, code, bearer_user_id = callback.state, callback.code, callback.bearer_user_id
    error = callback.error
    if not state:
        raise BadRequest(
            "The state parameter is missing: start again from the authorize URL",
            detail=[{"field": "state", "message": "is required"}],
        )
    record = await repository.consume_oauth_state(
        session, state=state, user_id=bearer_user_id, login_kind=login_kind
    )
    if record is None:
        raise BadRequest(
            "This authorization is unknown, was already used or belongs to another user: "
            "start again from the authorize URL",
            detail=[{"field": "state", "message": "invalid or already used"}],
        )
    if bearer_user_id is None and not secrets.compare_digest(callback.browser_state or "", state):
        # Raising rolls the consumption back: the browser that started the flow can finish it.
        raise BadRequest(
            "This authorization was started in another browser (or this browser's cookies are "
            "blocked): start again from the authorize URL in this browser",
            detail=[{"field": "state", "message": "not started in this browser"}],
        )
    if record.expires_at <= utcnow():
        raise BadRequest(
            "This authorization expired (it is valid for 10 minutes): start again from the "
            "authorize URL",
            detail=[{"field": "state", "message": "expired"}],
        )
    site = "Facebook" if login_kind == login_kinds.FACEBOOK else "Instagram"
    if error:
        reason = callback.error_description or error
        raise BadRequest(
            f"{site} did not authorize the connection: {reason}",
            detail=[{"field": "error", "message": reason}],
        )
    if not code:
        raise BadRequest(
            "The code parameter is missing: start again from the authorize URL",
            detail=[{"field": "code", "message": "is required"}],
        )
    return record, code


async def complete(
    session: AsyncSession,
    settings: Settings,
    graph: GraphClient,
    cipher: TokenCipher,
    callback: Callback,
) -> InstagramAccount:
    """The callback: consume `state` (`take_state`), exchange `code` for a long-lived token,
    store the account."""
    record, code = await take_state(session, callback)
    try:
        short = await graph.exchange_code(code, redirect_uri(settings))
        long = await graph.exchange_long_lived(short.access_token)
    except GraphError as exc:
        if exc.retryable:
            raise UpstreamError(f"Instagram could not be reached: {exc.message}") from exc
        raise Invalid(f"Instagram refused the authorization: {exc.message}", field="code") from exc
    return await service.connect(
        session,
        graph,
        cipher,
        workspace_id=record.workspace_id,
        access_token=long.access_token,
        timezone=record.timezone,
        expires_in=long.expires_in or service.LONG_LIVED_SECONDS,
    )
