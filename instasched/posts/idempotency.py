"""Retry-safe creation (`Idempotency-Key`): the key's checks, the fingerprint of a request,
and the answer to the same request sent again (the first post) or the key reused for another
body (422).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.exceptions import Invalid
from instasched.posts import repository
from instasched.posts.schemas import PostCreate

if TYPE_CHECKING:
    from instasched.workspaces.access import Access

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 255


def fingerprint(body: PostCreate) -> str:
    """SHA-256 of the request as parsed (the same post sent again, whatever its JSON's spacing or
    key order, has the same fingerprint)."""
    # `draft: false` (the default) is left out: the fingerprints stored before drafts existed
    # still match a replay of the same request.
    dumped = body.model_dump(mode="json", exclude=None if body.draft else {"draft"})
    canonical = orjson.dumps(dumped, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def replay(existing: repository.PostRow, fingerprint: str | None) -> repository.PostRow:
    """The first post of an Idempotency-Key, when the request is the same one again: a reuse
    of the key with another body is a client bug that must not look like a success (payment
    APIs answer 422 the same way). Posts from before migration 0010 have no fingerprint."""
    stored = existing.idempotency_fingerprint
    if stored is not None and stored != fingerprint:
        raise Invalid(
            f"This {IDEMPOTENCY_HEADER} was already used for a different post: send the same "
            "request to get that post again, or use a new key for a new post",
            field=IDEMPOTENCY_HEADER,
        )
    return existing


def check_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > IDEMPOTENCY_KEY_MAX or not value.isprintable():
        raise Invalid(
            f"{IDEMPOTENCY_HEADER} must be 1 to {IDEMPOTENCY_KEY_MAX} printable characters "
            "(a UUID is a good choice)",
            field=IDEMPOTENCY_HEADER,
        )
    return value


async def replayed(
    session: AsyncSession,
    *,
    access: Access,
    key: str,
    fingerprint: str | None,
    token_version: int,
) -> repository.PostRow | None:
    """The workspace's post made with this key (`replay`'s answer), or None when there is none
    (or the token is revoked: `token_version` no longer the user's)."""
    existing = await repository.find_by_idempotency_key(
        session,
        workspace_id=access.workspace_id,
        user_id=access.user_id,
        key=key,
        token_version=token_version,
    )
    return None if existing is None else replay(existing, fingerprint)
