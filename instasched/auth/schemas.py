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
    id: uuid.UUID
    email: str
    created_at: datetime
    is_admin: bool = False


class TokenOut(ApiModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")
