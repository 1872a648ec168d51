"""`CurrentUser`: the authenticated user, or a 401."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from instasched.exceptions import Unauthorized
from instasched.kit.deps import SessionDep, StateDep
from instasched.models import User
from instasched.observability.middleware import set_user_id
from instasched.security import decode_access_token

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <accessToken>`")


async def current_user(
    state: StateDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("Missing bearer token: log in and send Authorization: Bearer <token>")
    secret = state.settings.jwt_secret
    if not secret:
        raise Unauthorized("Authentication is not configured")
    user_id = decode_access_token(credentials.credentials, secret=secret)
    user = await session.scalar(select(User).where(User.id == user_id))
    if user is None:
        raise Unauthorized("This account no longer exists")
    set_user_id(str(user.id))
    return user


async def optional_user(
    state: StateDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User | None:
    """The user of a bearer token when one is sent (it must be valid), else None."""
    if credentials is None:
        return None
    return await current_user(state, session, credentials)


CurrentUser = Annotated[User, Depends(current_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]
