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
