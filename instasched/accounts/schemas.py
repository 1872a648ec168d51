from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from instasched.kit.schemas import ApiModel, RequestModel


class AccountCreate(RequestModel):
    access_token: str = Field(min_length=1, max_length=4096, description="An Instagram token")
    timezone: str | None = Field(None, examples=["Europe/Paris"], description="IANA timezone")


class AccountUpdate(RequestModel):
    timezone: str = Field(examples=["America/New_York"], description="IANA timezone")


class AccountOut(ApiModel):
    id: uuid.UUID
    ig_user_id: str
    username: str
    login_kind: str
    timezone: str
    needs_reauth: bool
    token_expires_at: datetime | None
    token_refreshed_at: datetime | None
    followers_count: int | None
    created_at: datetime
    updated_at: datetime
