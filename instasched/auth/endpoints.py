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
from instasched.kit.redis import RedisUnavailable
from instasched.kit.schemas import Message
from instasched.models import User
from instasched.security import SESSION_ENDED, create_access_token

router = APIRouter(prefix="/auth", tags=["Auth"])


def _user_out(user: User | AuthUser, state_admins: set[str]) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        created_at=user.created_at,
        is_admin=user.email.lower() in state_admins,
    )


def _client_address(request: Request) -> str:
    """The TCP peer, or what a proxy of `FORWARDED_ALLOW_IPS` says (uvicorn applies it)."""
    return request.client.host if request.client else "unknown"


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
        (
            "Over REGISTER_MAX_PER_HOUR attempts from this address (see `Retry-After`)",
            TooManyRequests("Too many registrations from this address; try again in 42 minutes"),
        ),
        ("Redis (the rate limit) is unavailable (see `Retry-After`)", RedisUnavailable()),
    ),
)
async def register(
    body: Credentials, request: Request, session: SessionDep, state: StateDep
) -> UserOut:
    """Create a user. Passwords need at least 12 characters; an email is used once (409).

    At most `REGISTER_MAX_PER_HOUR` (20) attempts per client address per hour, successful or
    not (429 with `Retry-After`), which also bounds probing for registered emails.
    """
    user = await service.register(
        session,
        state.redis,
        state.settings,
        email=body.email,
        password=body.password,
        ip=_client_address(request),
    )
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
        ("Redis (the rate limit) is unavailable (see `Retry-After`)", RedisUnavailable()),
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

    After 10 attempts for the same email from the same address within 15 minutes without a
    success (`LOGIN_MAX_FAILURES`, `LOGIN_WINDOW_SECONDS`), or 100 from all addresses
    (`LOGIN_ACCOUNT_MAX_FAILURES`), answers 429 with `Retry-After`, even to the right password.
    """
    settings = state.settings
    claims = await service.login(
        session,
        state.redis,
        settings,
        email=body.email,
        password=body.password,
        ip=_client_address(request),
    )
    if not settings.jwt_secret:
        raise ServiceUnavailable("Authentication is not configured: set JWT_SECRET")
    token = create_access_token(
        claims.user_id,
        secret=settings.jwt_secret,
        expires_seconds=settings.jwt_expires_seconds,
        version=claims.version,
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


@router.post(
    "/logout-all",
    response_model=Message,
    summary="Log out everywhere (revoke every token)",
    responses=errors(
        (
            "Missing, expired, invalid or already revoked bearer token",
            Unauthorized(SESSION_ENDED),
        ),
    ),
)
async def logout_all(user: CurrentUser, session: SessionDep) -> Message:
    """Revoke every access token issued to you so far, this one included: each answers 401
    from now on, on every device. Log in again for a new token."""
    await service.logout_all(session, user_id=user.id)
    return Message(message="Logged out everywhere: every token issued so far is revoked")
