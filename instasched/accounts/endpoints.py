from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.accounts import facebook, oauth, repository, service
from instasched.accounts.schemas import (
    AccountCreate,
    AccountOut,
    AccountUpdate,
    AuthorizeUrlOut,
    ConnectPageIn,
    PendingConnectionOut,
)
from instasched.auth.deps import OptionalUser
from instasched.exceptions import BadRequest, Conflict, Invalid, NotFound, UpstreamError
from instasched.integrations.instagram import login_kinds
from instasched.kit.deps import SessionDep, StateDep
from instasched.kit.openapi import ACCOUNT_NOT_FOUND, ErrorCase, errors, example_200
from instasched.kit.schemas import Message
from instasched.state import AppState
from instasched.workspaces.access import OWNER_ONLY, Access, CurrentAccess

router = APIRouter(prefix="/instagram/accounts", tags=["Instagram accounts"])
oauth_router = APIRouter(prefix="/instagram/oauth", tags=["Instagram accounts"])
_404 = errors(ACCOUNT_NOT_FOUND)
_BAD_TIMEZONE: ErrorCase = (
    "Not an IANA timezone",
    Invalid("'Paris' is not an IANA timezone (e.g. Europe/Paris)", field="timezone"),
)
TimezoneQuery = Annotated[
    str | None,
    Query(description="IANA timezone for the connected account", examples=["Europe/Paris"]),
]
_INSTAGRAM_DOWN: ErrorCase = (
    "Instagram could not be reached; try again",
    UpstreamError("Instagram could not be reached: Service temporarily unavailable"),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountOut,
    summary="Connect an Instagram account with an access token",
    responses=errors(
        (
            "Instagram refused the token (its message is passed on)",
            Invalid(
                "Instagram rejected the access token: Error validating access token: Session "
                "has expired",
                field="accessToken",
            ),
        ),
        _BAD_TIMEZONE,
        _INSTAGRAM_DOWN,
        (
            "The same Instagram account is being connected by another request",
            Conflict("This Instagram account is being connected right now; try again"),
        ),
    ),
    openapi_extra=OWNER_ONLY,
)
async def connect_account(
    body: AccountCreate, access: CurrentAccess, session: SessionDep, state: StateDep
) -> AccountOut:
    """Connect an Instagram account with an access token (verified with `GET /me`).

    A short-lived token is exchanged for a long-lived (60-day) one. The token is stored
    encrypted. Connecting the same Instagram account again updates it. With `loginKind`
    `facebook`, the token is a Facebook Page's (Facebook Login for Business): the Page's linked
    Instagram account is connected through graph.facebook.com and keeps that token (no expiry).
    """
    if body.login_kind == login_kinds.FACEBOOK:
        fb_account = await service.connect_page_token(
            session,
            state.graph_for(login_kinds.FACEBOOK),
            state.cipher,
            workspace_id=access.workspace_id,
            access_token=body.access_token,
            timezone=body.timezone,
        )
        return AccountOut.model_validate(fb_account)
    account = await service.connect(
        session,
        state.graph,
        state.cipher,
        workspace_id=access.workspace_id,
        access_token=body.access_token,
        timezone=body.timezone,
    )
    return AccountOut.model_validate(account)


@router.get("", response_model=list[AccountOut], summary="List connected accounts")
async def list_accounts(access: CurrentAccess, session: SessionDep) -> list[AccountOut]:
    """The user's connected accounts."""
    accounts = await repository.list_owned(session, workspace_id=access.workspace_id)
    return [AccountOut.model_validate(a) for a in accounts]


@router.get(
    "/{account_id}", response_model=AccountOut, summary="Get a connected account", responses=_404
)
async def get_account(
    account_id: uuid.UUID, access: CurrentAccess, session: SessionDep
) -> AccountOut:
    """One connected account (another user's id answers 404)."""
    account = await repository.get_owned(
        session, workspace_id=access.workspace_id, account_id=account_id
    )
    return AccountOut.model_validate(account)


@router.patch(
    "/{account_id}",
    response_model=AccountOut,
    summary="Change an account's timezone",
    responses=errors(ACCOUNT_NOT_FOUND, _BAD_TIMEZONE),
)
async def update_account(
    account_id: uuid.UUID, body: AccountUpdate, access: CurrentAccess, session: SessionDep
) -> AccountOut:
    """Change the account's timezone (IANA name); times without an offset use it."""
    account = await service.update_timezone(
        session, workspace_id=access.workspace_id, account_id=account_id, timezone=body.timezone
    )
    return AccountOut.model_validate(account)


@router.delete(
    "/{account_id}",
    response_model=Message,
    summary="Disconnect an account",
    responses={**example_200({"message": "Instagram account disconnected"}), **_404},
    openapi_extra=OWNER_ONLY,
)
async def delete_account(
    account_id: uuid.UUID, access: CurrentAccess, session: SessionDep, state: StateDep
) -> Message:
    """Disconnect the account; its scheduled posts (and their queued jobs), templates and
    schedules go with it."""
    await service.delete(
        session, queue=state.queue, workspace_id=access.workspace_id, account_id=account_id
    )
    return Message(message="Instagram account disconnected")


def _prefers_html(accept: str | None) -> bool:
    """True when the Accept header ranks text/html above application/json (a browser)."""
    if not accept:
        return False
    html = json = 0.0
    for item in accept.split(","):
        parts = [p.strip() for p in item.split(";")]
        media = parts[0].lower()
        quality = 1.0
        for param in parts[1:]:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if media in ("text/html", "application/xhtml+xml"):
            html = max(html, quality)
        elif media == "application/json":
            json = max(json, quality)
        elif media == "text/*":
            html = max(html, quality * 0.99)
        elif media == "application/*":
            json = max(json, quality * 0.99)
        elif media == "*/*":
            html = max(html, quality * 0.98)
            json = max(json, quality * 0.98)
    return html > json


@oauth_router.get(
    "/authorize-url",
    response_model=AuthorizeUrlOut,
    summary="Start Instagram Login (OAuth): the consent URL",
    responses=errors(
        (
            "Instagram Login is not configured on this server",
            BadRequest("Instagram Login is not configured: set INSTAGRAM_APP_ID"),
        ),
        _BAD_TIMEZONE,
    ),
    openapi_extra=OWNER_ONLY,
)
async def authorize_url(
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
    response: Response,
    timezone: TimezoneQuery = None,
) -> AuthorizeUrlOut:
    """Start Instagram Login: the URL of Instagram's consent screen for this user.

    The `state` in it is random, bound to you, valid for 10 minutes and single use. After
    consent, Instagram redirects the browser to `INSTAGRAM_REDIRECT_URI` (by default this
    service's `/api/instagram/oauth/callback`), which connects the account. In sandbox mode the
    URL points at the sandbox's consent screen, which approves at once.

    The answer sets the cookie `instasched_oauth_state` (HttpOnly, SameSite=Lax, path
    `/api/instagram/oauth`, 10 minutes): the callback only accepts a state from the browser that
    received it (or with your bearer token), so nobody can have you connect your Instagram
    account to theirs by sending you their URL.
    """
    return await _start_login(login_kinds.INSTAGRAM, access, session, state, response, timezone)


async def _start_login(
    login_kind: str,
    access: Access,
    session: AsyncSession,
    state: AppState,
    response: Response,
    timezone: str | None,
) -> AuthorizeUrlOut:
    """The consent URL of `login_kind` (Instagram's or Facebook's) for the caller's workspace,
    its state's cookie set."""
    settings = state.settings
    result = await oauth.create_authorize_url(
        session,
        settings,
        user_id=access.user_id,
        workspace_id=access.workspace_id,
        timezone=timezone,
        login_kind=login_kind,
    )
    response.set_cookie(
        oauth.STATE_COOKIE,
        result.state,
        max_age=int(oauth.STATE_TTL.total_seconds()),
        path=oauth.STATE_COOKIE_PATH,
        secure=settings.base_url.startswith("https://"),
        httponly=True,
        samesite="lax",  # sent on the top-level redirect back from Instagram or Facebook
    )
    return AuthorizeUrlOut(url=result.url, state=result.state)


def _callback_cases(site: str, declined: str) -> tuple[ErrorCase, ...]:
    """The errors both logins' callbacks answer (`oauth.take_state`, the code exchange)."""
    return (
        (
            "Invalid, already used or another user's state",
            BadRequest(
                "This authorization is unknown, was already used or belongs to another "
                "user: start again from the authorize URL",
                detail=[{"field": "state", "message": "invalid or already used"}],
            ),
        ),
        (
            "Expired state (valid for 10 minutes)",
            BadRequest(
                "This authorization expired (it is valid for 10 minutes): start again from "
                "the authorize URL",
                detail=[{"field": "state", "message": "expired"}],
            ),
        ),
        (
            f"The user declined on {site}'s consent screen",
            BadRequest(
                f"{site} did not authorize the connection: {declined}",
                detail=[{"field": "error", "message": declined}],
            ),
        ),
        (
            f"{site} refused the code (its message is passed on)",
            Invalid(
                f"{site} refused the authorization: This authorization code has been used",
                field="code",
            ),
        ),
        (
            "Started in another browser (no state cookie, no owner's bearer token)",
            BadRequest(
                "This authorization was started in another browser (or this browser's "
                "cookies are blocked): start again from the authorize URL in this browser",
                detail=[{"field": "state", "message": "not started in this browser"}],
            ),
        ),
        (
            f"{site} could not be reached; try again",
            UpstreamError(f"{site} could not be reached: Service temporarily unavailable"),
        ),
    )


def _callback(
    request: Request,
    user: OptionalUser,
    code: Annotated[
        str | None, Query(max_length=2048, description="From the consent screen")
    ] = None,
    oauth_state: Annotated[
        str | None, Query(alias="state", max_length=128, description="From the authorize URL")
    ] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
    error_description: Annotated[str | None, Query(max_length=1024)] = None,
) -> oauth.Callback:
    return oauth.Callback(
        code=code,
        state=oauth_state,
        error=error,
        error_description=error_description,
        bearer_user_id=user.id if user is not None else None,
        browser_state=request.cookies.get(oauth.STATE_COOKIE),
    )


CallbackDep = Annotated[oauth.Callback, Depends(_callback)]


@oauth_router.get(
    "/callback",
    response_model=AccountOut,
    summary="Instagram Login (OAuth) callback: connects the account",
    responses={
        303: {"description": "Browsers (Accept: text/html) are sent to `/?connected=<id>`"},
        **errors(*_callback_cases("Instagram", "The user denied your request.")),
    },
)
async def oauth_callback(
    request: Request,
    response: Response,
    callback: CallbackDep,
    session: SessionDep,
    state: StateDep,
) -> Response | AccountOut:
    """Instagram redirects here after consent: connects the account and answers it as JSON.

    The user is the owner of `state`; a bearer token, when sent, must belong to that user.
    Without one, the request must come from the browser that asked for the authorize URL (its
    `instasched_oauth_state` cookie). The code is exchanged for a short-lived token, then for a
    long-lived (60-day) one, stored encrypted. A browser (Accept prefers text/html) is
    redirected to `/?connected=<accountId>`.
    """
    account = await oauth.complete(session, state.settings, state.graph, state.cipher, callback)
    if _prefers_html(request.headers.get("accept")):
        response = RedirectResponse(f"/?connected={account.id}", status_code=303)
        response.delete_cookie(oauth.STATE_COOKIE, path=oauth.STATE_COOKIE_PATH)
        return response
    response.delete_cookie(oauth.STATE_COOKIE, path=oauth.STATE_COOKIE_PATH)
    return AccountOut.model_validate(account)


# --- Facebook Login for Business (docs/login-kinds.md) -------------------------------------------
_PENDING_404: ErrorCase = (
    "Unknown, another user's, already used or expired (10 minutes) choice",
    NotFound(facebook.PENDING_NOT_FOUND),
)


@oauth_router.get(
    "/facebook/authorize-url",
    response_model=AuthorizeUrlOut,
    summary="Start Facebook Login for Business (OAuth): the consent URL",
    responses=errors(
        (
            "Facebook Login is not configured on this server",
            BadRequest(facebook.NOT_CONFIGURED),
        ),
        _BAD_TIMEZONE,
    ),
    openapi_extra=OWNER_ONLY,
)
async def facebook_authorize_url(
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
    response: Response,
    timezone: TimezoneQuery = None,
) -> AuthorizeUrlOut:
    """Start Facebook Login for Business: the URL of Facebook's consent dialog.

    For Instagram professional accounts linked to a Facebook Page; some features need it
    (collaborators, product tags: docs/login-kinds.md). The scopes asked for are
    `instagram_basic`, `instagram_content_publish`, `pages_read_engagement`,
    `pages_show_list`, `instagram_manage_insights` and `instagram_manage_comments`. After
    consent, Facebook redirects the browser to `FACEBOOK_REDIRECT_URI` (by default this
    service's `/api/instagram/oauth/facebook/callback`). The `state` and its cookie work as
    for Instagram Login. In sandbox mode the URL points at the sandbox's dialog.
    """
    return await _start_login(login_kinds.FACEBOOK, access, session, state, response, timezone)


@oauth_router.get(
    "/facebook/callback",
    response_model=AccountOut,
    summary="Facebook Login callback: connects the account, or offers the Pages to pick from",
    responses={
        202: {
            "model": PendingConnectionOut,
            "description": "Several Pages have an Instagram account: pick one with "
            "`POST /api/instagram/oauth/facebook/pending/{id}/connect`",
        },
        303: {
            "description": "Browsers (Accept: text/html) are sent to `/?connected=<id>`, or "
            "to `/?pick=<pendingId>` to pick a Page"
        },
        **errors(
            *_callback_cases("Facebook", "Permissions error"),
            (
                "None of the allowed Pages has an Instagram professional account",
                BadRequest(
                    facebook.NO_INSTAGRAM_PAGE,
                    detail=[{"field": "pages", "message": "none linked"}],
                ),
            ),
        ),
    },
)
async def facebook_callback(
    request: Request,
    response: Response,
    callback: CallbackDep,
    session: SessionDep,
    state: StateDep,
) -> Response | AccountOut:
    """Facebook redirects here after consent.

    The code is exchanged for a user token, made long-lived (60 days), and the Pages you allowed
    are read with their Page tokens (which do not expire). With one Page that has an Instagram
    professional account, that account is connected (200, the account, `loginKind`
    `facebook`). With several, the answer is 202 with the Pages to pick from (kept 10 minutes);
    a browser is redirected to `/?pick=<id>`. The state rules are those of Instagram Login's
    callback.
    """
    done = await facebook.complete(
        session, state.settings, state.graph_for(login_kinds.FACEBOOK), state.cipher, callback
    )
    html = _prefers_html(request.headers.get("accept"))
    answer: Response | AccountOut
    if done.pending is not None:
        pending = PendingConnectionOut.model_validate(done.pending)
        answer = (
            RedirectResponse(f"/?pick={pending.id}", status_code=303)
            if html
            else JSONResponse(pending.model_dump(mode="json", by_alias=True), status_code=202)
        )
    else:
        assert done.account is not None
        answer = (
            RedirectResponse(f"/?connected={done.account.id}", status_code=303)
            if html
            else AccountOut.model_validate(done.account)
        )
    target = answer if isinstance(answer, Response) else response
    target.delete_cookie(oauth.STATE_COOKIE, path=oauth.STATE_COOKIE_PATH)
    return answer


@oauth_router.get(
    "/facebook/pending/{pending_id}",
    response_model=PendingConnectionOut,
    summary="Facebook Login: the Pages to pick from",
    responses=errors(_PENDING_404),
    openapi_extra=OWNER_ONLY,
)
async def facebook_pending(
    pending_id: uuid.UUID, access: CurrentAccess, session: SessionDep
) -> PendingConnectionOut:
    """The Pages with an Instagram professional account you may connect, after a Facebook
    Login that allowed several (kept 10 minutes; another user's id answers 404)."""
    pending = await facebook.pending_connection(
        session, user_id=access.user_id, workspace_id=access.workspace_id, pending_id=pending_id
    )
    return PendingConnectionOut.model_validate(pending)


@oauth_router.post(
    "/facebook/pending/{pending_id}/connect",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountOut,
    summary="Facebook Login: connect the Instagram account of the picked Page",
    responses=errors(
        _PENDING_404,
        (
            "The Page is not one of those offered",
            Invalid(
                "pageId 1 is not one of the Pages offered: 102000000000001 (My Shop)",
                field="pageId",
            ),
        ),
        (
            "Facebook could not be reached; try again",
            UpstreamError("Facebook could not be reached: Service temporarily unavailable"),
        ),
    ),
    openapi_extra=OWNER_ONLY,
)
async def facebook_connect_pending(
    pending_id: uuid.UUID,
    body: ConnectPageIn,
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
) -> AccountOut:
    """Connect the Instagram account linked to the Page `pageId` (one of the pending
    connection's Pages), with that Page's token. The choice is used up."""
    account = await facebook.connect_pending(
        session,
        state.graph_for(login_kinds.FACEBOOK),
        state.cipher,
        user_id=access.user_id,
        workspace_id=access.workspace_id,
        pending_id=pending_id,
        page_id=body.page_id,
    )
    return AccountOut.model_validate(account)
