"""Passwords (argon2), access tokens (JWT HS256) and encryption of Instagram tokens at rest."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from instasched.exceptions import Unauthorized

JWT_ALGORITHM = "HS256"
_hasher = PasswordHasher()
# A fixed hash to verify against when the email is unknown, so timing does not reveal accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


# argon2 costs ~60-120 ms of CPU and 64 MiB per hash: on the event loop, 40 concurrent logins
# stalled every other request for 5 s (issue 24). A small pool runs them beside the loop (argon2's
# C code releases the GIL); more logins at once queue here, so memory stays bounded too.
_PASSWORD_THREADS = max(1, min(4, os.cpu_count() or 1))
_password_pool = ThreadPoolExecutor(_PASSWORD_THREADS, thread_name_prefix="argon2")


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_password_pool, _hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(
        _password_pool, _verify_password, password_hash, password
    )


def _verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class AccessToken(NamedTuple):
    """What a verified access token says: its user, and the user's token version it was issued
    under (`users.token_version`; a token is valid only while they are equal)."""

    user_id: uuid.UUID
    version: int


def create_access_token(
    user_id: uuid.UUID,
    *,
    secret: str,
    expires_seconds: int,
    version: int = 0,
    now: datetime | None = None,
) -> str:
    issued = now or datetime.now(UTC)
    payload = {
        "sub": str(user_id),
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(seconds=expires_seconds)).timestamp()),
        "typ": "access",
        "ver": version,
    }
    return jwt.encode(payload, secret, algorithm=JWT_ALGORITHM)


# The 401 for a valid token whose user was deleted since.
USER_GONE = "This account no longer exists"
# The 401 for a valid token issued before the user's last logout-all.
SESSION_ENDED = "This session has ended (logged out); log in again"

# Tokens this process verified: (secret, token) → (claims, exp). A client sends the same token
# with every request, and PyJWT's checks cost ~55 µs of CPU per request (measured); the same
# bytes under the same secret verify the same way, so only the expiry is looked at again.
# Revocation stays immediate: the token's version is compared with the user's on every request
# (auth.deps), after this.
_VERIFIED: dict[tuple[str, str], tuple[AccessToken, float]] = {}
_VERIFIED_MAX = 4096


def decode_access_token(token: str, *, secret: str) -> AccessToken:
    """Return the token's claims; any problem (expired, forged, `alg: none`, ...) is a 401."""
    known = _VERIFIED.get((secret, token))
    if known is not None and time.time() < known[1]:
        return known[0]
    claims, expires = _verify(token, secret)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        del _VERIFIED[next(iter(_VERIFIED))]  # the oldest entry
    _VERIFIED[(secret, token)] = (claims, expires)
    return claims


def _verify(token: str, secret: str) -> tuple[AccessToken, float]:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub", "iat"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Your session has expired; log in again") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("Invalid access token") from exc
    version = payload.get("ver", 0)  # tokens issued before migration 0010 have none
    if payload.get("typ") != "access" or type(version) is not int:
        raise Unauthorized("Invalid access token")
    try:
        return AccessToken(uuid.UUID(str(payload["sub"])), version), float(payload["exp"])
    except ValueError as exc:
        raise Unauthorized("Invalid access token") from exc


class TokenCipher:
    """Encrypts Instagram access tokens (Fernet: AES-128-CBC + HMAC-SHA256).

    `TOKEN_ENCRYPTION_KEY` may hold several comma-separated keys: the first encrypts, all decrypt
    (key rotation). A key is a Fernet key (32 url-safe base64 bytes) or any passphrase, which is
    stretched with SHA-256.
    """

    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise ValueError("TOKEN_ENCRYPTION_KEY is empty")
        self._fernet = MultiFernet([Fernet(_fernet_key(k)) for k in parts])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("stored token cannot be decrypted with TOKEN_ENCRYPTION_KEY") from exc


def _fernet_key(key: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(key.encode())
        if len(raw) == 32:
            return key.encode()
    except (ValueError, TypeError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest())


def load_or_create_local_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets for the embedded default, generated once and kept in the data dir (0600)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secrets.json"
    values: dict[str, Any] = {}
    if path.exists():
        try:
            values = json.loads(path.read_text())
        except ValueError:
            values = {}
    changed = False
    if not isinstance(values.get("JWT_SECRET"), str):
        values["JWT_SECRET"] = secrets.token_urlsafe(48)
        changed = True
    if not isinstance(values.get("TOKEN_ENCRYPTION_KEY"), str):
        values["TOKEN_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
        changed = True
    if changed:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(values))
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    return {k: str(v) for k, v in values.items()}
