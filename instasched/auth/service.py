"""Registration and login rules. Never commits (the request owns the transaction)."""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.auth.schemas import MIN_PASSWORD_LENGTH
from instasched.exceptions import Conflict, Invalid, TooManyRequests, Unauthorized
from instasched.models import User
from instasched.security import hash_password, verify_password


async def register(session: AsyncSession, *, email: str, password: str) -> User:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters long", field="password"
        )
    if password.strip() == "":
        raise Invalid("password must not be blank", field="password")
    normalised = email.strip().lower()
    existing = await session.scalar(select(User.id).where(func.lower(User.email) == normalised))
    if existing is not None:
        raise Conflict("An account with this email already exists; log in instead")
    user = User(email=normalised, password_hash=await hash_password(password))
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict("An account with this email already exists; log in instead") from exc
    await session.refresh(user)
    return user


def _limit_key(email: str, ip: str) -> str:
    digest = hashlib.sha256(f"{email.strip().lower()}|{ip}".encode()).hexdigest()[:32]
    return f"instasched:login-failures:{digest}"


async def login(
    session: AsyncSession,
    redis: aioredis.Redis,
    *,
    email: str,
    password: str,
    ip: str,
    max_failures: int,
    window_seconds: int,
) -> User:
    key = _limit_key(email, ip)
    failures = int(await redis.get(key) or 0)
    if failures >= max_failures:
        ttl = await redis.ttl(key)
        retry_after = max(1, int(ttl)) if ttl and ttl > 0 else window_seconds
        raise TooManyRequests(
            f"Too many failed logins; try again in {retry_after // 60 + 1} minutes",
            headers={"Retry-After": str(retry_after)},
        )
    user = await session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if not await verify_password(user.password_hash if user else None, password) or user is None:
        pipe = redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, window_seconds, nx=True)
        await pipe.execute()
        raise Unauthorized("Wrong email or password")
    await redis.delete(key)
    return user
