"""API keys of the current user: /api/auth/api-keys (docs/api-keys.md)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, status

from instasched.auth import api_keys
from instasched.auth.deps import LOGIN_ONLY, CurrentUser, missing_scope, scope
from instasched.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from instasched.exceptions import Invalid, NotFound
from instasched.kit.deps import SessionDep
from instasched.kit.openapi import ErrorCase, errors

router = APIRouter(prefix="/auth/api-keys", tags=["API keys"])

_LOGIN_ONLY: ErrorCase = (
    "Called with an API key: keys are managed with a login's token",
    missing_scope(LOGIN_ONLY),
)
KeyIdPath = Annotated[uuid.UUID, Path(alias="keyId", description="API key id")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    summary="Create an API key (the key is shown once)",
    openapi_extra=scope(LOGIN_ONLY),
    responses=errors(
        _LOGIN_ONLY,
        (
            "expiresAt is not in the future",
            Invalid("expiresAt must be in the future", field="expiresAt"),
        ),
    ),
)
async def create_api_key(
    body: ApiKeyCreate, user: CurrentUser, session: SessionDep
) -> ApiKeyCreated:
    """A named key with scopes (`read`, `write`, `publish`) and an optional expiry. The answer's
    `key` is the only time the key is shown: only its SHA-256 is stored. Send it as
    `Authorization: Bearer <key>` on any endpoint its scopes allow (403 naming the missing
    scope otherwise); each key may make `API_KEY_RATE_LIMIT` requests per
    `API_KEY_RATE_WINDOW_SECONDS` (`RateLimit-*` headers, 429 with `Retry-After` beyond)."""
    row, key = await api_keys.create_key(
        session, user_id=user.id, name=body.name, scopes=body.scopes, expires_at=body.expires_at
    )
    return ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(row).model_dump(), "key": key})


@router.get(
    "",
    response_model=list[ApiKeyOut],
    summary="List your API keys",
    openapi_extra=scope(LOGIN_ONLY),
    responses=errors(_LOGIN_ONLY),
)
async def list_api_keys(user: CurrentUser, session: SessionDep) -> list[ApiKeyOut]:
    """Every key, newest first, with its last use (to the minute) and revocation; never the
    key itself."""
    return [
        ApiKeyOut.model_validate(row) for row in await api_keys.list_keys(session, user_id=user.id)
    ]


@router.delete(
    "/{keyId}",
    response_model=ApiKeyOut,
    summary="Revoke an API key",
    openapi_extra=scope(LOGIN_ONLY),
    responses=errors(_LOGIN_ONLY, ("No such key of yours", NotFound("API key not found"))),
)
async def revoke_api_key(key_id: KeyIdPath, user: CurrentUser, session: SessionDep) -> ApiKeyOut:
    """Revoke at once: the next request with the key answers 401. The key stays listed with
    its `revokedAt`."""
    return ApiKeyOut.model_validate(
        await api_keys.revoke_key(session, user_id=user.id, key_id=key_id)
    )
