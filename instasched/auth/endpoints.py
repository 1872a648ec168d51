from __future__ import annotations

from fastapi import APIRouter, Request, status

from instasched.auth import service
from instasched.auth.deps import AuthUser, CurrentUser
from instasched.auth.schemas import Credentials, TokenOut, UserOut
from instasched.exceptions import (
    Conflict,
    Invalid,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from instasched.kit.deps import SessionDep, StateDep
from instasched.kit.openapi import DATABASE_DOWN, errors, validation_error
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
    responses=errors(
        (
            "The email is already registered",
            Conflict("An account with this email already exists; log in instead"),
        ),
        (
            "The password is shorter than 12 characters (or the email is invalid)",
            Invalid("password must be at least 12 characters long", field="password"),
        ),
    ),
)
async def register(body: Credentials, session: SessionDep, state: StateDep) -> UserOut:
    """Create a user. Passwords need at least 12 characters; an email is used once (409)."""
    user = await service.register(session, email=body.email, password=body.password)
    return _user_out(user, state.settings.admin_email_set)


@router.post(
    "/login",
    response_model=TokenOut,
    summary="Log in (get a bearer token)",
    responses=errors(
        ("Wrong email or password", Unauthorized("Wrong email or password")),
        (
            "The email is not an email address",
            validation_error(
                "email", "value is not a valid email address: An email address must have an @-sign."
            ),
        ),
        (
            "Too many failures for this email from this address (see `Retry-After`)",
            TooManyRequests("Too many failed logins; try again in 12 minutes"),
        ),
        DATABASE_DOWN,
        (
            "The server has no JWT_SECRET",
            ServiceUnavailable("Authentication is not configured: set JWT_SECRET"),
        ),
    ),
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
    responses=errors(
        (
            "Missing, expired or invalid bearer token",
            Unauthorized("Missing bearer token: log in and send Authorization: Bearer <token>"),
        ),
        ("The user of the token was deleted", Unauthorized("This account no longer exists")),
    ),
)
async def me(user: CurrentUser, state: StateDep) -> UserOut:
    """The user the bearer token belongs to."""
    return _user_out(user, state.settings.admin_email_set)
