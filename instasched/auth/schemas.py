from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field

from instasched.kit import examples as ex
from instasched.kit.schemas import ApiModel, RequestModel, examples

MIN_PASSWORD_LENGTH = 12


class Credentials(RequestModel):
    model_config = examples({"email": ex.EMAIL, "password": "correct horse battery staple"})

    email: EmailStr = Field(examples=["manager@example.com"])
    password: str = Field(max_length=1024, examples=["correct horse battery staple"])


class UserOut(ApiModel):
    model_config = examples(
        {
            "id": ex.USER_ID,
            "email": ex.EMAIL,
            "createdAt": "2026-11-29T09:58:12Z",
            "isAdmin": False,
        }
    )

    id: uuid.UUID = Field(examples=["0b7e5f3c-8a51-4c1e-9d55-2f1f0e6b8a10"])
    email: str = Field(examples=["manager@example.com"])
    created_at: datetime
    is_admin: bool = False


class TokenOut(ApiModel):
    model_config = examples(
        {
            "accessToken": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwYjdlNWYzYy04YT"
            "UxLTRjMWUtOWQ1NS0yZjFmMGU2YjhhMTAiLCJleHAiOjE3OTY4OTg0MDB9.hQ3v9Xn2m1Zr8uKc"
            "Lw4yT0bPq7sF5dGj6eA2iN1oVxU",
            "tokenType": "bearer",
            "expiresIn": 86400,
        }
    )

    access_token: str = Field(examples=["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."])
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")


_KEY_ID = "7d3f1a2b-9c4e-4b8a-a1f6-2e5d8c9b0a34"
_KEY_EXAMPLE = {
    "id": _KEY_ID,
    "name": "Zapier",
    "prefix": "isk_7d3f1a2b",
    "scopes": ["read", "write"],
    "createdAt": "2026-12-01T09:20:00Z",
    "expiresAt": "2027-06-01T00:00:00Z",
    "lastUsedAt": "2026-12-01T10:02:00Z",
    "revokedAt": None,
}


class ApiKeyCreate(RequestModel):
    model_config = examples(
        {"name": "Zapier", "scopes": ["read", "write"], "expiresAt": "2027-06-01T00:00:00Z"}
    )

    name: str = Field(min_length=1, max_length=100, description="To tell your keys apart")
    scopes: list[Literal["read", "write", "publish"]] = Field(
        min_length=1,
        description="`read`: GET requests; `write`: create, update, delete; `publish`: publish "
        "now. Each route's scope is its `x-required-scope` in /openapi.json",
    )
    expires_at: datetime | None = Field(
        None, description="When the key stops working (ISO 8601); none: until revoked"
    )


class ApiKeyOut(ApiModel):
    model_config = examples(_KEY_EXAMPLE)

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it")
    scopes: list[Literal["read", "write", "publish"]]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="To the minute")
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    model_config = examples(
        {
            **_KEY_EXAMPLE,
            "lastUsedAt": None,
            "key": "isk_7d3f1a2b9c4e4b8aa1f62e5d8c9b0a34_"
            "Jq8vX2mN5pR7tY1wK4zB9cF3hL6dS0gA2eU8iO5nQ7r",
        }
    )

    key: str = Field(
        description="The key: send it as `Authorization: Bearer <key>`. Shown only now: "
        "only its hash is stored"
    )
