from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from instasched.kit import examples as ex
from instasched.kit.schemas import ApiModel, RequestModel, examples


class AccountCreate(RequestModel):
    model_config = examples(
        {
            "accessToken": "IGQWRPa1ZAkVxb2NhcXRfOFBvN3ZAHTmlxQnlWcjBsZA2xTc0hFbUJ2Yk5u",
            "timezone": ex.TIMEZONE,
        }
    )

    access_token: str = Field(
        min_length=1,
        max_length=4096,
        description="An Instagram user access token (short-lived or long-lived)",
        examples=["IGQWRPa1ZAk..."],
    )
    timezone: str | None = Field(None, examples=["Europe/Paris"], description="IANA timezone")


class AccountUpdate(RequestModel):
    model_config = examples({"timezone": "America/New_York"})

    timezone: str = Field(examples=["America/New_York"], description="IANA timezone")


class AccountOut(ApiModel):
    model_config = examples(
        {
            "id": "6f1c1f43-2a49-4d0e-9a7e-3f7b2f1f9c11",
            "igUserId": "17841400000000001",
            "username": "my_brand",
            "loginKind": "instagram",
            "timezone": "Europe/Paris",
            "needsReauth": False,
            "tokenExpiresAt": "2027-01-28T10:00:00Z",
            "tokenRefreshedAt": "2026-11-29T10:00:00Z",
            "followersCount": 1200,
            "publishingQuota": 100,
            "createdAt": "2026-11-29T10:00:00Z",
            "updatedAt": "2026-11-29T10:00:00Z",
        }
    )

    id: uuid.UUID
    ig_user_id: str
    username: str
    login_kind: Literal["instagram", "facebook"] = Field(
        description="`instagram`: Instagram Login (graph.instagram.com); `facebook`: Facebook Login"
    )
    timezone: str
    needs_reauth: bool
    token_expires_at: datetime | None
    token_refreshed_at: datetime | None
    followers_count: int | None
    publishing_quota: int | None = Field(
        None,
        description="Posts Instagram lets this account publish per moving 24 h, as last read "
        "(`content_publishing_limit`); none: not read yet, PUBLISH_QUOTA_DEFAULT applies",
    )
    created_at: datetime
    updated_at: datetime


class AuthorizeUrlOut(ApiModel):
    model_config = examples(
        {
            "url": "https://www.instagram.com/oauth/authorize?client_id=123&redirect_uri="
            "http%3A%2F%2Flocalhost%3A3000%2Fapi%2Finstagram%2Foauth%2Fcallback"
            "&response_type=code&scope=instagram_business_basic%2C"
            "instagram_business_content_publish%2Cinstagram_business_manage_insights%2C"
            "instagram_business_manage_comments&state=Qm9vb3RzX2V4YW1wbGVfc3RhdGU",
            "state": "Qm9vb3RzX2V4YW1wbGVfc3RhdGU",
        }
    )

    url: str = Field(
        description="Send the user's browser here (Instagram's consent screen)",
        examples=[
            "https://www.instagram.com/oauth/authorize?client_id=123&redirect_uri=http%3A%2F%2F"
            "localhost%3A3000%2Fapi%2Finstagram%2Foauth%2Fcallback&response_type=code"
            "&scope=instagram_business_basic%2Cinstagram_business_content_publish&state=Qm9..."
        ],
    )
    state: str = Field(
        description="Single-use, bound to you, valid for 10 minutes", examples=["Qm9vb3Rz..."]
    )
