from __future__ import annotations

from fastapi import APIRouter, Request, status

from instasched.auth import service
from instasched.auth.deps import AuthUser, CurrentUser
from instasched.auth.schemas import Credentials, TokenOut, UserOut
from instasched.exceptions import ServiceUnavailable
from instasched.kit.deps import SessionDep, StateDep
from instasched.models import User
from instasched.security import create_access_token

router = APIRouter(prefix="/auth", tags=["Auth"])


def _user_out(user: User | AuthUser, state_admins: set[str]) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        created_at=user.created_at,
        is_admin=user.email.lower() in state_admins,
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    summary="Register a user",
    responses={
        409: {"description": "The email is already registered"},
        422: {"description": "Invalid email, or password shorter than 12 characters"},
    },
)
async def register(body: Credentials, session: SessionDep, state: StateDep) -> UserOut:
    """Create a user. Passwords need at least 12 characters; an email is used once (409)."""
    user = await service.register(session, email=body.email, password=body.password)
    return _user_out(user, state.settings.admin_email_set)


@router.post(
    "/login",
    response_model=TokenOut,
    summary="Log in (get a bearer token)",
    responses={
        401: {"description": "Wrong email or password"},
        429: {"description": "Too many failures for this email from this address (Retry-After)"},
    },
)
async def login(
    body: Credentials, request: Request, session: SessionDep, state: StateDep
) -> TokenOut:
    """Exchange email and password for a bearer token (HS256 JWT).

    After 10 failures for the same email from the same address within 15 minutes, answers 429.
    """
    settings = state.settings
    user = await service.login(
        session,
        state.redis,
        email=body.email,
        password=body.password,
        ip=request.client.host if request.client else "unknown",
        max_failures=settings.login_max_failures,
        window_seconds=settings.login_window_seconds,
    )
    if not settings.jwt_secret:
        raise ServiceUnavailable("Authentication is not configured: set JWT_SECRET")
    token = create_access_token(
        user.id, secret=settings.jwt_secret, expires_seconds=settings.jwt_expires_seconds
    )
    return TokenOut(access_token=token, expires_in=settings.jwt_expires_seconds)


@router.get(
    "/me",
    response_model=UserOut,
    summary="The current user",
    responses={401: {"description": "Missing, expired or invalid bearer token"}},
)
async def me(user: CurrentUser, state: StateDep) -> UserOut:
    """The user the bearer token belongs to."""
    return _user_out(user, state.settings.admin_email_set)
