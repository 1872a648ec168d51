"""Migration 0019: the data a user had lands in their personal workspace (whose id is theirs),
the webhook triggers match subscriptions by workspace, and the downgrade gives it back."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any

import asyncpg

from instasched.migrate import downgrade, upgrade
from tests.foundation.test_migrations import _admin, _plain

OWNED = (
    "instagram_accounts",
    "instagram_media_assets",
    "instagram_post_templates",
    "instagram_scheduled_posts",
    "webhook_subscriptions",
)


async def _seed(url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        user = await conn.fetchval(
            "INSERT INTO users (email, password_hash) VALUES ('before@example.com', 'x') "
            "RETURNING id"
        )
        account = await conn.fetchval(
            "INSERT INTO instagram_accounts (user_id, ig_user_id, username, "
            "access_token_encrypted) VALUES ($1, '1784', 'brand', 'x') RETURNING id",
            user,
        )
        await conn.execute(
            "INSERT INTO instagram_media_assets (user_id, filename, original_filename, mime_type,"
            " file_size, media_type, s3_bucket, s3_key, s3_url) VALUES ($1, 'a.jpg', 'a.jpg',"
            " 'image/jpeg', 1, 'image', 'b', 'k', 'https://s3.example.com/b/k')",
            user,
        )
        await conn.execute(
            "INSERT INTO instagram_post_templates (user_id, name, caption_template) "
            "VALUES ($1, 't', 'hi')",
            user,
        )
        post = await conn.fetchval(
            "INSERT INTO instagram_scheduled_posts (user_id, instagram_account_id, scheduled_for,"
            " caption, media_type, status) VALUES ($1, $2, now() + interval '1 day', 'hi',"
            " 'IMAGE', 'scheduled') RETURNING id",
            user,
            account,
        )
        await conn.execute(
            "INSERT INTO webhook_subscriptions (user_id, url, events, secret_encrypted) "
            "VALUES ($1, 'https://example.com/h', ARRAY['post.published'], 'x')",
            user,
        )
        await conn.execute(
            "INSERT INTO oauth_states (state, user_id, expires_at) "
            "VALUES ('s1', $1, now() + interval '5 minutes')",
            user,
        )
        return {"user": user, "account": account, "post": post}
    finally:
        await conn.close()


async def _after_upgrade(url: str, seeded: dict[str, Any]) -> None:
    conn = await asyncpg.connect(url)
    try:
        for table in OWNED:
            owners = await conn.fetch(f"SELECT workspace_id FROM {table}")
            assert [r[0] for r in owners] == [seeded["user"]], table
        state = await conn.fetchrow("SELECT user_id, workspace_id FROM oauth_states")
        assert tuple(state) == (seeded["user"], seeded["user"])
        # The webhook trigger of 0015, rewritten: a published post makes a delivery.
        await conn.execute(
            "UPDATE instagram_scheduled_posts SET status = 'published' WHERE id = $1",
            seeded["post"],
        )
        events = await conn.fetch("SELECT event FROM webhook_deliveries")
        assert [r[0] for r in events] == ["post.published"]
        # The data's workspace is the personal one; a workspace's deletion takes its data.
        team = await conn.fetchval("INSERT INTO workspaces (name) VALUES ('team') RETURNING id")
        await conn.execute(
            "INSERT INTO instagram_post_templates (workspace_id, name, caption_template) "
            "VALUES ($1, 'shared', 'hi')",
            team,
        )
        await conn.execute("DELETE FROM workspaces WHERE id = $1", team)
        assert await conn.fetchval("SELECT count(*) FROM instagram_post_templates") == 1
        try:
            await conn.execute(
                "INSERT INTO instagram_post_templates (workspace_id, name, caption_template) "
                "VALUES ($1, 'orphan', 'hi')",
                uuid.uuid4(),
            )
        except asyncpg.ForeignKeyViolationError:
            pass
        else:
            raise AssertionError("a template of no workspace was stored")
    finally:
        await conn.close()


async def _after_downgrade(url: str, seeded: dict[str, Any]) -> None:
    conn = await asyncpg.connect(url)
    try:
        for table in OWNED:
            owners = await conn.fetch(f"SELECT user_id FROM {table}")
            assert [r[0] for r in owners] == [seeded["user"]], table
    finally:
        await conn.close()


async def _user_deleted(url: str, seeded: dict[str, Any]) -> None:
    """A user's data goes with the user, as before workspaces: through the personal workspace."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DELETE FROM users WHERE id = $1", seeded["user"])
        assert await conn.fetchval("SELECT count(*) FROM workspaces") == 0
        for table in OWNED:
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    finally:
        await conn.close()


def test_existing_data_lands_in_the_personal_workspace(servers: dict[str, str]) -> None:
    admin = _plain(servers["DATABASE_URL"], "postgres")
    name = f"instasched_migr_{secrets.token_hex(4)}"
    url = _plain(servers["DATABASE_URL"], name)
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        upgrade(url, "0018")
        seeded = asyncio.run(_seed(url))
        upgrade(url, "0019")
        asyncio.run(_after_upgrade(url, seeded))
        downgrade(url, "0018")
        asyncio.run(_after_downgrade(url, seeded))
        upgrade(url)
        asyncio.run(_user_deleted(url, seeded))
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
