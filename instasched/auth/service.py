"""Registration and login rules. Never commits (the request owns the transaction)."""

from __future__ import annotations

import hashlib
import uuid

import redis.asyncio as aioredis
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.auth.schemas import MIN_PASSWORD_LENGTH
from instasched.config import Settings
from instasched.db import release_connections
from instasched.exceptions import Conflict, Invalid, Unauthorized
from instasched.kit.redis import Limit, count_attempt, forget_attempt
from instasched.models import User
from instasched.security import AccessToken, hash_password, verify_password


async def register(
    session: AsyncSession, redis: aioredis.Redis, settings: Settings, *, email: str, password: str,
    ip: str,
) -> User:  # fmt: skip
    await count_attempt(
        redis,
        [
            Limit(
                _key(settings, "register", ip),
                settings.register_max_per_hour,
                3600,
                "Too many registrations from this address; try again in {minutes}",
            )
        ],
        wait_seconds=settings.redis_timeout_seconds,
    )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters long", field="password"
        )
    if password.strip() == "":
        raise Invalid("password must not be blank", field="password")
    normalised = email.strip().lower()
    # Hashed before the session begins: argon2 may queue behind other hashes, and no connection
    # is held meanwhile. A registered email costs the same hash (no timing hint).
    password_hash = await hash_password(password)
    existing = await session.scalar(select(User.id).where(func.lower(User.email) == normalised))
    if existing is not None:
        raise Conflict("An account with this email already exists; log in instead")
    user = User(email=normalised, password_hash=password_hash)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict("An account with this email already exists; log in instead") from exc
    await session.refresh(user)
    return user


def _key(settings: Settings, kind: str, *parts: str) -> str:
    """A limit's Redis key: per deployment (QUEUE_PREFIX), no email or address in clear."""
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
    return f"instasched:{settings.queue_prefix}:{kind}:{digest}"


_LOGIN_REFUSAL = "Too many failed logins; try again in {minutes}"


async def login(
    session: AsyncSession,
    redis: aioredis.Redis,
    settings: Settings,
    *,
    email: str,
    password: str,
    ip: str,
) -> AccessToken:
    """The claims of a new access token, once the password is right.

    Within two limits per LOGIN_WINDOW_SECONDS: LOGIN_MAX_FAILURES for the email from one
    address, LOGIN_ACCOUNT_MAX_FAILURES for the email from all addresses (an attacker with many
    addresses). A success resets its address's count and takes itself back from the account's,
    so other addresses' failures still count.
    """
    normalised = email.strip().lower()
    window, timeout = settings.login_window_seconds, settings.redis_timeout_seconds
    by_address = Limit(
        _key(settings, "login", normalised, ip), settings.login_max_failures, window, _LOGIN_REFUSAL
    )
    by_account = Limit(
        _key(settings, "login-account", normalised),
        settings.login_account_max_failures,
        window,
        _LOGIN_REFUSAL,
    )
    await count_attempt(redis, [by_address, by_account], wait_seconds=timeout)
    found = (
        await session.execute(
            select(User.id, User.password_hash, User.token_version).where(
                func.lower(User.email) == normalised
            )
        )
    ).first()
    # argon2 may queue behind other logins (a bounded pool): no connection is held meanwhile.
    await release_connections(session)
    if not await verify_password(found.password_hash if found else None, password) or not found:
        raise Unauthorized("Wrong email or password")
    await forget_attempt(
        redis, reset=[by_address.key], take_back=[by_account.key], wait_seconds=timeout
    )
    return AccessToken(found.id, found.token_version)


async def logout_all(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """Revoke every access token of the user issued so far (their version no longer matches)."""
    await session.execute(
        update(User).where(User.id == user_id).values(token_version=User.token_version + 1)
    )
