"""Accounts connected with Facebook Login publish through graph.facebook.com with their Page
token; what a login kind does not allow is never sent (docs/login-kinds.md)."""

from __future__ import annotations

from typing import Any

from tests.publishing.conftest import Publishing


async def test_facebook_login_account_publishes_a_carousel_with_collaborators(
    publishing: Publishing, worker: Any
) -> None:
    """The whole flow (children, parent, media_publish, fields, first comment) on the sandbox's
    graph.facebook.com, which is the only host that takes collaborators."""
    user, account = await publishing.user_account(login_kind="facebook")
    images = [await publishing.image(user) for _ in range(2)]
    post_id = await publishing.post(
        user,
        account,
        "CAROUSEL",
        images,
        collaborators=["partner_one", "partner_two"],
        first_comment="Shop the look",
    )
    post = await publishing.wait(post_id, "published", "failed")
    assert post.status == "published", post.last_publish_error
    assert post.permalink and (post.initial_reach or 0) > 0
    [media] = await publishing.media(account.ig_user_id)
    assert media["params"]["collaborators"] == ["partner_one", "partner_two"]
    row = await publishing.account_row(account.id)
    assert row.login_kind == "facebook" and row.token_expires_at is None


async def test_revoked_page_token_asks_to_reconnect(publishing: Publishing, worker: Any) -> None:
    user, account = await publishing.user_account(login_kind="facebook")
    image = await publishing.image(user)
    r = await publishing.http.post(f"/sandbox/_control/users/{account.ig_user_id}/revoke")
    assert r.status_code == 200 and r.json()["revoked"] >= 1
    post = await publishing.wait(
        await publishing.post(user, account, "IMAGE", [image]), "failed", "published"
    )
    assert post.status == "failed" and post.last_error_code == "190"
    assert "Reconnect" in (post.last_publish_error or "")
    assert (await publishing.account_row(account.id)).needs_reauth is True


async def test_post_of_an_account_reconnected_with_instagram_login_fails_with_the_fix(
    publishing: Publishing, worker: Any
) -> None:
    """Collaborators accepted while the account used Facebook Login; reconnected with Instagram
    Login before the post is due, the post fails saying what to do, and nothing reaches Meta
    (graph.instagram.com would refuse the parameter)."""
    user, account = await publishing.user_account(login_kind="facebook")
    image = await publishing.image(user)
    r = await publishing.http.post(
        "/sandbox/_control/tokens/short-lived", json={"igUserId": account.ig_user_id}
    )
    r = await publishing.http.post(
        "/api/instagram/accounts",
        json={"accessToken": r.json()["accessToken"]},
        headers=user.headers,
    )
    assert r.status_code == 201 and r.json()["loginKind"] == "instagram", r.text
    before = await publishing.calls(account.ig_user_id)
    post_id = await publishing.post(user, account, "IMAGE", [image], collaborators=["partner"])
    post = await publishing.wait(post_id, "failed", "published")
    assert post.status == "failed"
    message = post.last_publish_error or ""
    assert "connect this account with Facebook Login to use collaborators" in message, message
    assert post.publish_attempts == 1
    after = await publishing.calls(account.ig_user_id)
    assert after.get("media", 0) == before.get("media", 0)
