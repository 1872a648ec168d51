"""`CurrentUser`: the authenticated user, or a 401."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from instasched.db import driver_connection
from instasched.exceptions import Unauthorized
from instasched.kit.deps import SessionDep, StateDep
from instasched.observability.middleware import set_user_id
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

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <accessToken>`")


def _verified_token(
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
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AuthUser:
    token = _verified_token(state, credentials)
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
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AccessToken:
    """A valid bearer token's claims, without reading the user: for an endpoint whose first
    statement reads the user anyway and answers 401 itself when the user no longer exists
    (`USER_GONE`) or the token was revoked (`SESSION_ENDED`): creating a post, one round trip
    less (`posts.repository.read_create_context`).
    """
    token = _verified_token(state, credentials)
    set_user_id(str(token.user_id))
    return token


async def optional_user(
    state: StateDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AuthUser | None:
    """The user of a bearer token when one is sent (it must be valid), else None."""
    if credentials is None:
        return None
    return await current_user(state, session, credentials)


CurrentUser = Annotated[AuthUser, Depends(current_user)]
BearerToken = Annotated[AccessToken, Depends(bearer_token)]
OptionalUser = Annotated[AuthUser | None, Depends(optional_user)]
