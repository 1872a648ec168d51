from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field

from instasched.kit.schemas import ApiModel, RequestModel

MIN_PASSWORD_LENGTH = 12


class Credentials(RequestModel):
    email: EmailStr = Field(examples=["manager@example.com"])
    password: str = Field(max_length=1024, examples=["correct horse battery staple"])


class UserOut(ApiModel):
    id: uuid.UUID = Field(examples=["0b7e5f3c-8a51-4c1e-9d55-2f1f0e6b8a10"])
    email: str = Field(examples=["manager@example.com"])
    created_at: datetime
    is_admin: bool = False


class TokenOut(ApiModel):
    access_token: str = Field(examples=["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."])
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")
