"""API keys: create (the secret shown once), list, revoke, and resolve a key on a request.

A key is `isk_<key id, 32 hex>_<secret, 43 url-safe characters>`: the id finds the row, the
SHA-256 of the secret is compared in constant time. A 256-bit random secret cannot be guessed
or brute-forced from its hash, so a slow password hash (argon2, ~100 ms of CPU per request)
would buy nothing here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.db import add_row, driver_connection
from instasched.exceptions import Invalid, NotFound, Unauthorized
from instasched.kit.time import utcnow
from instasched.models import ApiKey

PREFIX = "isk_"
Scope = Literal["read", "write", "publish"]
SCOPES: tuple[Scope, ...] = ("read", "write", "publish")
MAX_KEYS_PER_USER = 100
# Last use is written at most once a minute per key: not a write on every request.
LAST_USED_RESOLUTION_SECONDS = 60

INVALID_KEY = "Invalid API key"
REVOKED_KEY = "This API key was revoked; create a new one"
EXPIRED_KEY = "This API key has expired; create a new one"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def is_api_key(credential: str) -> bool:
    return credential.startswith(PREFIX)


async def create_key(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    name: str,
    scopes: list[Scope],
    expires_at: datetime | None,
) -> tuple[ApiKey, str]:
    """The new key's row and the key itself (shown once: only its hash is kept)."""
    if expires_at is not None and expires_at <= utcnow():
        raise Invalid("expiresAt must be in the future", field="expiresAt")
    count = len((await session.scalars(select(ApiKey.id).where(ApiKey.user_id == user_id))).all())
    if count >= MAX_KEYS_PER_USER:
        raise Invalid(
            f"You have {count} API keys, the most allowed; revoke or delete unused ones first"
        )
    key_id = uuid.uuid4()
    secret = secrets.token_urlsafe(32)
    key = f"{PREFIX}{key_id.hex}_{secret}"
    row = ApiKey(
        id=key_id,
        user_id=user_id,
        name=name,
        secret_hash=_hash(secret),
        scopes=[s for s in SCOPES if s in scopes],
        expires_at=expires_at,
        prefix=key[: len(PREFIX) + 8],
    )
    return await add_row(session, row), key


async def list_keys(session: AsyncSession, *, user_id: uuid.UUID) -> list[ApiKey]:
    return list(
        await session.scalars(
            select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at.desc())
        )
    )


async def revoke_key(session: AsyncSession, *, user_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    """Revoke at once (the next request with it answers 401); revoking twice keeps the first
    time."""
    row = await session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id))
    if row is None:
        raise NotFound("API key not found")
    if row.revoked_at is None:
        await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utcnow()))
        await session.refresh(row)
    return row


@dataclass(frozen=True, slots=True)
class KeyOwner:
    """A valid key's user (as `auth.deps` needs them) and the key's id and scopes."""

    key_id: uuid.UUID
    scopes: tuple[str, ...]
    user_id: uuid.UUID
    email: str
    created_at: datetime
    token_version: int


_KEY_SQL = (
    "SELECT k.secret_hash, k.scopes, k.expires_at, k.revoked_at, k.last_used_at,"
    " u.id, u.email, u.created_at, u.token_version"
    " FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = $1"
)
_TOUCH_SQL = (
    "UPDATE api_keys SET last_used_at = $2 WHERE id = $1"
    " AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - make_interval(secs => $3))"
)


async def resolve(session: AsyncSession, credential: str) -> KeyOwner:
    """The owner of a valid, unrevoked, unexpired key, or a 401 saying which it is not."""
    body = credential[len(PREFIX) :]
    id_hex, _, secret = body.partition("_")
    try:
        key_id = uuid.UUID(hex=id_hex)
    except ValueError:
        raise Unauthorized(INVALID_KEY) from None
    if len(id_hex) != 32 or not secret:
        raise Unauthorized(INVALID_KEY)
    conn = await driver_connection(session)
    row = await conn.fetchrow(_KEY_SQL, key_id)
    if row is None or not hmac.compare_digest(row["secret_hash"], _hash(secret)):
        raise Unauthorized(INVALID_KEY)
    now = utcnow()
    if row["revoked_at"] is not None:
        raise Unauthorized(REVOKED_KEY)
    if row["expires_at"] is not None and row["expires_at"] <= now:
        raise Unauthorized(EXPIRED_KEY)
    last = row["last_used_at"]
    if last is None or (now - last).total_seconds() >= LAST_USED_RESOLUTION_SECONDS:
        # Its own statement, outside the request's transaction: a GET writes nothing else.
        await conn.execute(_TOUCH_SQL, key_id, now, float(LAST_USED_RESOLUTION_SECONDS))
    return KeyOwner(
        key_id=key_id,
        scopes=tuple(row["scopes"]),
        user_id=row["id"],
        email=row["email"],
        created_at=row["created_at"],
        token_version=row["token_version"],
    )
