"""`CurrentUser`: the authenticated user, or a 401.

The bearer is an access token (login) or an API key (`isk_...`, auth.api_keys). A key must hold
the scope of the route (`required_scope`: `read` for GET, `write` for other methods, or what
the route declares with `scope(...)`) else 403, and is counted against API_KEY_RATE_LIMIT per
API_KEY_RATE_WINDOW_SECONDS (`RateLimit-*` headers on every answer; 429 with `Retry-After`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from instasched.auth import api_keys
from instasched.db import driver_connection
from instasched.exceptions import Forbidden, Unauthorized
from instasched.kit import openapi
from instasched.kit.deps import SessionDep, StateDep
from instasched.kit.redis import Limit, rate_limit
from instasched.observability.middleware import add_response_headers, set_user_id
from instasched.security import SESSION_ENDED, USER_GONE, AccessToken, decode_access_token
from instasched.state import AppState


@dataclass(frozen=True, slots=True)
class AuthUser:
    """The caller, as every request needs it (read-only: no endpoint changes its own user row
    through this object)."""

    id: uuid.UUID
    email: str
    created_at: datetime


# Through asyncpg on the request's transaction: this runs on every authenticated request, and the
# ORM's per-statement cost (~0.2 ms CPU) was ~5 % of a list request (bench/run).
_USER_SQL = "SELECT id, email, created_at, token_version FROM users WHERE id = $1"

bearer = HTTPBearer(
    auto_error=False,
    description="`Authorization: Bearer <accessToken>` (POST /api/auth/login) or "
    "`Authorization: Bearer <API key>` (`isk_...`, POST /api/auth/api-keys; docs/api-keys.md)",
)

SCOPE_EXTRA = openapi.SCOPE_EXTRA
LOGIN_ONLY = "login"
"""A route's scope that no API key holds: only a login's access token may call it."""


def scope(name: str) -> dict[str, str]:
    """A route's `openapi_extra=` declaring the API-key scope it needs (`read`, `write`,
    `publish`, or `LOGIN_ONLY`) when the method's default (`required_scope`) is not it."""
    return {SCOPE_EXTRA: name}


def required_scope(request: Request) -> str:
    route = request.scope.get("route")
    extra = getattr(route, "openapi_extra", None) or {}
    declared = extra.get(SCOPE_EXTRA)
    if isinstance(declared, str):
        return declared
    return "read" if request.method in ("GET", "HEAD", "OPTIONS") else "write"


def missing_scope(name: str) -> Forbidden:
    if name == LOGIN_ONLY:
        return Forbidden(
            "API keys cannot be used here; use the access token of a login (POST /api/auth/login)"
        )
    return Forbidden(f"this API key lacks the '{name}' scope", detail={"requiredScope": name})


async def _key_owner(
    state: AppState, session: SessionDep, request: Request, credential: str
) -> api_keys.KeyOwner:
    owner = await api_keys.resolve(session, credential)
    settings = state.settings
    window = settings.api_key_rate_window_seconds
    limit = Limit(
        f"instasched:{settings.queue_prefix}:api-key:{owner.key_id.hex}",
        settings.api_key_rate_limit,
        window,
        f"This API key is over its limit of {settings.api_key_rate_limit} requests per "
        f"{window} s; try again in {{seconds}}",
    )
    add_response_headers(
        await rate_limit(state.redis, limit, wait_seconds=settings.redis_timeout_seconds)
    )
    needed = required_scope(request)
    if needed not in owner.scopes:
        raise missing_scope(needed)
    set_user_id(str(owner.user_id))
    return owner


def verified_token(
    state: AppState, credentials: HTTPAuthorizationCredentials | None
) -> AccessToken:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("Missing bearer token: log in and send Authorization: Bearer <token>")
    secret = state.settings.jwt_secret
    if not secret:
        raise Unauthorized("Authentication is not configured")
    return decode_access_token(credentials.credentials, secret=secret)


async def current_user(
    state: StateDep,
    session: SessionDep,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AuthUser:
    if credentials is not None and api_keys.is_api_key(credentials.credentials):
        owner = await _key_owner(state, session, request, credentials.credentials)
        return AuthUser(id=owner.user_id, email=owner.email, created_at=owner.created_at)
    token = verified_token(state, credentials)
    row = await (await driver_connection(session)).fetchrow(_USER_SQL, token.user_id)
    if row is None:
        raise Unauthorized(USER_GONE)
    if row["token_version"] != token.version:
        raise Unauthorized(SESSION_ENDED)
    user = AuthUser(id=row["id"], email=row["email"], created_at=row["created_at"])
    set_user_id(str(user.id))
    return user


async def bearer_token(
    state: StateDep,
    session: SessionDep,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AccessToken:
    """A valid bearer token's claims, without reading the user: for an endpoint whose first
    statement reads the user anyway and answers 401 itself when the user no longer exists
    (`USER_GONE`) or the token was revoked (`SESSION_ENDED`): creating a post, one round trip
    less (`posts.repository.read_create_context`). An API key's claims carry its user's current
    token version (read with the key): a key is not revoked by logout-all, only by its own
    revocation.
    """
    if credentials is not None and api_keys.is_api_key(credentials.credentials):
        owner = await _key_owner(state, session, request, credentials.credentials)
        return AccessToken(owner.user_id, owner.token_version)
    token = verified_token(state, credentials)
    set_user_id(str(token.user_id))
    return token


async def optional_user(
    state: StateDep,
    session: SessionDep,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AuthUser | None:
    """The user of a bearer token when one is sent (it must be valid), else None."""
    if credentials is None:
        return None
    return await current_user(state, session, request, credentials)


CurrentUser = Annotated[AuthUser, Depends(current_user)]
BearerToken = Annotated[AccessToken, Depends(bearer_token)]
OptionalUser = Annotated[AuthUser | None, Depends(optional_user)]
