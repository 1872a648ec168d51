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
        },
        {
            "accessToken": "EAAGm0PX4ZCpsBAKZC7ZBv0ZAjZCZAjZBpZBqZB8ZD",
            "timezone": ex.TIMEZONE,
            "loginKind": "facebook",
        },
    )

    access_token: str = Field(
        min_length=1,
        max_length=4096,
        description="An Instagram user access token (short-lived or long-lived); with "
        "`loginKind` `facebook`, the token of the Facebook Page linked to the account",
        examples=["IGQWRPa1ZAk..."],
    )
    timezone: str | None = Field(None, examples=["Europe/Paris"], description="IANA timezone")
    login_kind: Literal["instagram", "facebook"] = Field(
        "instagram",
        description="`instagram` (Instagram Login token) or `facebook` (a Page token from "
        "Facebook Login for Business: docs/login-kinds.md)",
        examples=["facebook"],
    )


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
            "facebookPageId": None,
            "facebookPageName": None,
            "timezone": "Europe/Paris",
            "needsReauth": False,
            "tokenExpiresAt": "2027-01-28T10:00:00Z",
            "tokenRefreshedAt": "2026-11-29T10:00:00Z",
            "followersCount": 1200,
            "publishingQuota": 100,
            "createdAt": "2026-11-29T10:00:00Z",
            "updatedAt": "2026-11-29T10:00:00Z",
        },
        {
            "id": "0b6f4a52-3c1e-4d61-8f0e-5a2d9c7e1b24",
            "igUserId": "17841400000000002",
            "username": "my_shop",
            "loginKind": "facebook",
            "facebookPageId": "102000000000001",
            "facebookPageName": "My Shop",
            "timezone": "Europe/Paris",
            "needsReauth": False,
            "tokenExpiresAt": None,
            "tokenRefreshedAt": "2026-11-29T10:00:00Z",
            "followersCount": 5400,
            "publishingQuota": 100,
            "createdAt": "2026-11-29T10:00:00Z",
            "updatedAt": "2026-11-29T10:00:00Z",
        },
    )

    id: uuid.UUID
    ig_user_id: str
    username: str
    login_kind: Literal["instagram", "facebook"] = Field(
        description="How the account is connected: `instagram` (Instagram Login, "
        "graph.instagram.com) or `facebook` (Facebook Login for Business, graph.facebook.com "
        "through a Page); some features need `facebook` (docs/login-kinds.md)",
        examples=["instagram", "facebook"],
    )
    facebook_page_id: str | None = Field(
        None, description="Facebook Login: the Page it publishes through", examples=["1020..."]
    )
    facebook_page_name: str | None = Field(None, examples=["My Shop"])
    timezone: str
    needs_reauth: bool
    token_expires_at: datetime | None = Field(
        description="When the token expires; null for a Facebook Page token (it has no expiry)"
    )
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


_PAGE_EXAMPLES = [
    {
        "pageId": "102000000000001",
        "name": "My Shop",
        "igUserId": "17841400000000002",
        "igUsername": "my_shop",
    },
    {
        "pageId": "102000000000002",
        "name": "My Shop Outlet",
        "igUserId": "17841400000000003",
        "igUsername": "my_shop_outlet",
    },
]


class FacebookPageOut(ApiModel):
    model_config = examples(_PAGE_EXAMPLES[0])

    page_id: str = Field(description="The Facebook Page", examples=["102000000000001"])
    name: str = Field(examples=["My Shop"])
    ig_user_id: str = Field(
        description="The Instagram professional account linked to the Page",
        examples=["17841400000000002"],
    )
    ig_username: str | None = Field(examples=["my_shop"])


class PendingConnectionOut(ApiModel):
    model_config = examples(
        {
            "id": "5d0e8e3a-8a47-4a1f-b8f4-2f0c6f3c9a11",
            "expiresAt": "2026-12-06T10:40:00Z",
            "pages": _PAGE_EXAMPLES,
        }
    )

    id: uuid.UUID = Field(description="Pick a Page with POST .../pending/{id}/connect")
    expires_at: datetime = Field(description="The choice is kept for 10 minutes")
    pages: list[FacebookPageOut] = Field(
        description="The Pages you allowed that have an Instagram professional account"
    )


class ConnectPageIn(RequestModel):
    model_config = examples({"pageId": "102000000000001"})

    page_id: str = Field(
        min_length=1,
        max_length=64,
        description="One of the pending connection's `pages[].pageId`",
        examples=["102000000000001"],
    )
