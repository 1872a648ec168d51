"""Facebook Login for Business calls (graph.facebook.com): tokens, Pages, the Page's IG user.

A mixin of `GraphClient` (which provides `request`, `app_id`, `app_secret`). The flow (Meta's
"Instagram API with Facebook Login" and "Long-lived access tokens" pages):
1. the OAuth code → a short-lived Facebook user token
   (`GET /{version}/oauth/access_token?client_id&client_secret&redirect_uri&code`);
2. → a long-lived user token, about 60 days (`grant_type=fb_exchange_token`);
3. `GET /{version}/me/accounts?fields=id,name,access_token,instagram_business_account{...}`:
   the Pages the person granted, each with a Page token. A Page token obtained with a
   long-lived user token has no expiry date (it ends when the person loses the Page role,
   changes the password or removes the app), so it is what the account keeps.
Publishing then uses `POST /{version}/{ig-user-id}/media` and `/media_publish` on
graph.facebook.com with the Page token, exactly as on graph.instagram.com.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from instasched.integrations.instagram.calls import GraphCalls
from instasched.integrations.instagram.errors import GraphError

PAGE_FIELDS = "id,name,access_token,instagram_business_account{id,username}"
# Pages read per request, and requests at most (a person with more Pages is rare).
PAGE_LIMIT = 100
MAX_PAGE_REQUESTS = 10


@dataclass(frozen=True)
class FacebookToken:
    access_token: str
    expires_in: int | None = None


@dataclass(frozen=True)
class FacebookPage:
    """A Facebook Page the person granted, with its linked Instagram professional account
    (`ig_user_id` None: no Instagram account is linked to it)."""

    page_id: str
    name: str
    access_token: str
    ig_user_id: str | None
    ig_username: str | None


@dataclass(frozen=True)
class IgProfile:
    user_id: str
    username: str
    followers_count: int | None = None


class FacebookCalls(GraphCalls):
    """Facebook Login; mixed into `GraphClient`."""

    app_id: str | None
    app_secret: str | None

    async def facebook_exchange_code(self, code: str, redirect_uri: str) -> FacebookToken:
        """OAuth code → short-lived Facebook user token."""
        body = await self.request(
            "GET",
            "oauth/access_token",
            params={
                "client_id": self.app_id,
                "client_secret": self.app_secret,
                "redirect_uri": redirect_uri,
                "code": code,
            },
        )
        return _token(body)

    async def facebook_long_lived(self, user_token: str) -> FacebookToken:
        """Short-lived → long-lived (about 60 days) Facebook user token."""
        body = await self.request(
            "GET",
            "oauth/access_token",
            params={
                "grant_type": "fb_exchange_token",
                "client_id": self.app_id,
                "client_secret": self.app_secret,
                "fb_exchange_token": user_token,
            },
        )
        return _token(body)

    async def facebook_pages(self, user_token: str) -> list[FacebookPage]:
        """The Pages the person granted (`pages_show_list`), with Page tokens and linked IG
        accounts, following Meta's cursor paging."""
        pages: list[FacebookPage] = []
        after: str | None = None
        for _ in range(MAX_PAGE_REQUESTS):
            params: dict[str, Any] = {"fields": PAGE_FIELDS, "limit": PAGE_LIMIT}
            if after:
                params["after"] = after
            body = await self.request("GET", "me/accounts", token=user_token, params=params)
            for item in body.get("data") or []:
                if isinstance(item, dict) and item.get("id") and item.get("access_token"):
                    ig = item.get("instagram_business_account")
                    ig = ig if isinstance(ig, dict) else {}
                    pages.append(
                        FacebookPage(
                            page_id=str(item["id"]),
                            name=str(item.get("name") or ""),
                            access_token=str(item["access_token"]),
                            ig_user_id=str(ig["id"]) if ig.get("id") else None,
                            ig_username=str(ig["username"]) if ig.get("username") else None,
                        )
                    )
            paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
            cursors = paging.get("cursors") if isinstance(paging, dict) else None
            after = cursors.get("after") if isinstance(cursors, dict) else None
            if not (isinstance(paging, dict) and paging.get("next") and after):
                break
        return pages

    async def facebook_page_of_token(self, page_token: str) -> FacebookPage:
        """The Page a Page token belongs to, with its linked Instagram account (`/me` with a
        Page token is the Page; with a user token it is the person, who has no such field)."""
        body = await self.request(
            "GET",
            "me",
            token=page_token,
            params={"fields": "id,name,instagram_business_account{id,username}"},
        )
        ig = body.get("instagram_business_account")
        ig = ig if isinstance(ig, dict) else {}
        return FacebookPage(
            page_id=str(body.get("id") or ""),
            name=str(body.get("name") or ""),
            access_token=page_token,
            ig_user_id=str(ig["id"]) if ig.get("id") else None,
            ig_username=str(ig["username"]) if ig.get("username") else None,
        )

    async def get_ig_user(self, ig_user_id: str, token: str) -> IgProfile:
        """The Instagram professional account itself (graph.facebook.com has no `/me` for it:
        `/me` with a Page token is the Page)."""
        body = await self.request(
            "GET", ig_user_id, token=token, params={"fields": "id,username,followers_count"}
        )
        if not body.get("id"):
            raise GraphError("Instagram did not return the account's id")
        followers = body.get("followers_count")
        return IgProfile(
            user_id=str(body["id"]),
            username=str(body.get("username") or ""),
            followers_count=followers if isinstance(followers, int) else None,
        )


def _token(body: dict[str, Any]) -> FacebookToken:
    if not body.get("access_token"):
        raise GraphError("Facebook did not return an access token")
    expires = body.get("expires_in")
    return FacebookToken(
        access_token=str(body["access_token"]),
        expires_in=int(expires) if isinstance(expires, int | float | str) and expires else None,
    )
